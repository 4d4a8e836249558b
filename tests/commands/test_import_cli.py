"""`mirari import chatgpt|claude FILE`, as a script would use it: what was imported, one line on error,
and a Ctrl+C that leaves every conversation whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

from sqlmodel import func, select

from tests.commands.conftest import one_error_line

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "imports"


def _stored(data_dir: Path) -> dict[str, int]:
    """title -> number of messages, in the data dir's active database."""
    from local_schema.database import open_database
    from local_schema.models import Conversation, Message
    from sync.accounts import active_database_path

    with open_database(active_database_path(data_dir)) as db, db.session() as s:
        rows = s.exec(select(Conversation.title, func.count(Message.id))
                      .join(Message, Message.conversation_id == Conversation.id, isouter=True)
                      .group_by(Conversation.id)).all()
    return dict(rows)


def test_import_prints_what_it_did_and_again_adds_nothing(mirari, tmp_path):
    first = mirari("import", "chatgpt", str(FIXTURES / "chatgpt_conversations.json"))
    assert first.code == 0 and first.err == ""
    assert first.out == ("Imported from ChatGPT: 3 new threads, 14 messages. 5 messages skipped (system, hidden, "
                         "reasoning or empty).\n")
    archive = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(FIXTURES / "chatgpt_conversations.json", "conversations.json")
    again = mirari("import", "chatgpt", str(archive), "--json")
    assert again.code == 0
    assert json.loads(again.out) == [{
        "source": "chatgpt", "file": "chatgpt-export.zip", "conversations_read": 3, "threads_added": 0,
        "threads_updated": 0, "threads_unchanged": 3, "threads_skipped": 0, "messages_added": 0,
        "messages_skipped": 0, "messages_truncated": 0}]
    assert _stored(mirari.data_dir) == {"Trip to Lisbon": 7, "Content types": 5,
                                        "No times anywhere in this one, and no title either.": 2}


def test_claude_with_progress(mirari):
    result = mirari("import", "claude", str(FIXTURES / "claude_conversations.json"), "--progress")
    assert result.code == 0
    assert result.out.startswith("Imported from Claude: 2 new threads, 9 messages.")
    assert "[0/" in result.err and "2 conversations read · 9 messages added" in result.err


def test_errors_are_one_line_and_keep_what_came_before(mirari, tmp_path):
    assert one_error_line(mirari("import", "chatgpt", str(FIXTURES / "not_an_export.json"))).startswith(
        "not_an_export.json is not a conversations export: it should hold a list of conversations")
    assert one_error_line(mirari("import", "chatgpt", str(FIXTURES / "claude_conversations.json"))) == (
        "claude_conversations.json: conversation 1 has no `mapping` of messages: this is not a ChatGPT export "
        "(a Claude export? use `claude`). Nothing was imported")
    assert one_error_line(mirari("import", "claude", str(tmp_path / "nowhere.zip"))).endswith("nowhere.zip: no such file")
    text = (FIXTURES / "chatgpt_conversations.json").read_text()
    cut = tmp_path / "conversations.json"
    cut.write_text(text[:text.index('"conv-untimed"')])
    line = one_error_line(mirari("import", "chatgpt", str(cut)))
    assert line.startswith("conversations.json is cut off or malformed in conversation 3 (read up to byte ")
    assert line.endswith("The 2 conversations before it are imported; once the file is fixed, importing it "
                         "again adds only the rest")
    assert _stored(mirari.data_dir) == {"Trip to Lisbon": 7, "Content types": 5}
    cut.write_text(text)
    assert mirari("import", "chatgpt", str(cut)).out.startswith("Imported from ChatGPT: 1 new thread, 2 messages.")


def _big_export(path: Path, conversations: int, turns: int) -> None:
    items = []
    for c in range(conversations):
        mapping = {"root": {"id": "root", "parent": None, "message": None}}
        parent = "root"
        for t in range(turns):
            node = f"n{t}"
            mapping[node] = {"id": node, "parent": parent, "message": {
                "author": {"role": "user" if t % 2 == 0 else "assistant"}, "create_time": 1700000000 + c * 1000 + t,
                "content": {"content_type": "text", "parts": [f"conversation {c} turn {t} " + "words " * 40]}}}
            parent = node
        items.append({"id": f"c{c}", "title": f"Conversation {c}", "current_node": parent, "mapping": mapping})
    path.write_text(json.dumps(items))


def test_ctrl_c_stops_between_conversations_and_a_rerun_adds_the_rest(tmp_path):
    export = tmp_path / "conversations.json"
    _big_export(export, conversations=200, turns=30)
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    command = [sys.executable, "-m", "mirari", "--data-dir", str(data), "import", "chatgpt", str(export)]
    proc = subprocess.Popen([*command, "--progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    for line in proc.stderr:  # the first report after some conversations are stored
        if "conversations read" in line and not line.startswith("[0/"):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and out == ""
    assert err.strip().splitlines()[-1] == "mirari: error: interrupted"
    stored = _stored(data)
    assert 0 < len(stored) < 200
    assert set(stored.values()) == {30}  # every conversation stored is whole
    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.startswith(f"Imported from ChatGPT: {200 - len(stored)} new threads")
    assert f"{len(stored)} threads already imported, unchanged." in rerun.stdout
    assert len(_stored(data)) == 200


def test_threads_show_the_imported_tree_on_the_current_node_chain(mirari):
    assert mirari("import", "chatgpt", str(FIXTURES / "chatgpt_conversations.json")).code == 0
    threads = {t["title"]: t for t in json.loads(mirari("threads", "list", "--json").out)}
    trip = threads["Trip to Lisbon"]["id"]
    shown = json.loads(mirari("threads", "show", trip, "--json").out)
    assert [m["content"] for m in shown] == ["Plan three days in Lisbon.", "Day 1: Belém.\n\nDay 2: Sintra.",
                                             "And day 3?", "Day 3: Cascais."]
    every = json.loads(mirari("threads", "show", trip, "--all", "--json").out)
    assert len(every) == 7 and sum(m["on_path"] for m in every) == 4
    first = next(m for m in every if m["content"] == "Plan three days in Lisbon.")
    assert (first["parent_id"], first["siblings"], first["sibling_index"]) == (None, 2, 1)
    assert {m["model"] for m in every if m["role"] == "assistant"} == {"gpt-4", "gpt-4o", "o1"}


def test_an_import_is_backed_up_first_and_a_file_that_is_no_export_is_not(mirari):
    """Issue 25: an archive before every import, so a wrong import is one restore away."""
    refused = mirari("import", "chatgpt", str(FIXTURES / "not_an_export.json"))
    assert refused.code != 0
    assert json.loads(mirari("backup", "list", "--json").out) == []  # refused before anything was backed up
    assert mirari("import", "claude", str(FIXTURES / "claude_conversations.json")).code == 0
    kinds = [entry["kind"] for entry in json.loads(mirari("backup", "list", "--json").out)]
    assert kinds == ["before import"]
