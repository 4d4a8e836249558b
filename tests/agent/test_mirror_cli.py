"""`mirari mirror …` in-process, on a real data dir and the fake OpenAI server: output, exit codes, errors."""

from __future__ import annotations

import json
import os

import pytest
from mirari.main import main

from local_schema.database import open_database
from local_schema.models import AgentConnection, MemoryNode, MirrorReport
from local_schema.paths import database_path
from sync.secrets import SecretStore
from tests.agent.conftest import add_connection, add_message, add_thread

QUOTE = "I will retry with exponential backoff"
REVIEW = {"strengths": [{"claim": "Explains the policy", "evidence": [QUOTE]}],
          "weaknesses": [{"claim": "Guesses", "evidence": ["never said this"]}],
          "recommendations": [{"claim": "Ask which errors to retry", "evidence": []},
                              {"claim": "Name the maximum number of attempts", "evidence": []}],
          "suggested_prompt": "Be careful.\nAsk first."}


@pytest.fixture
def setup(tmp_path, fake_llm, memory_keyring):
    db = open_database(database_path(tmp_path))
    with db.session() as s:
        conn = add_connection(s, fake_llm.base_url, system_prompt="Be careful.", name="Hermes")
        thread = add_thread(s, conn, "Retry helper")
        add_message(s, thread, "assistant", f"Sure: {QUOTE}.")
    db.close()
    SecretStore(tmp_path).set_key(conn.id, "sk-test-key")
    fake_llm.reply(text=json.dumps(REVIEW))
    return {"dir": str(tmp_path), "conn": conn.id, "thread": thread.id, "path": database_path(tmp_path)}


def run(setup, capsys, *args) -> tuple[int, str, str]:
    code = main(["--data-dir", setup["dir"], "mirror", *args])
    out, err = capsys.readouterr()
    return code, out, err


def stored(setup):
    db = open_database(setup["path"])
    try:
        with db.session() as s:
            from sqlmodel import select

            return (list(s.exec(select(MirrorReport)).all()), s.get(AgentConnection, setup["conn"]),
                    list(s.exec(select(MemoryNode)).all()))
    finally:
        db.close()


def test_run_list_show_apply_undo_delete(setup, capsys, fake_llm):
    code, out, err = run(setup, capsys, "run", "--connection", setup["conn"], "--title", "Week 1",
                         "--thread", setup["thread"])
    assert code == 0, err
    report_id, summary = out.strip().split("  ", 1)
    assert "1 strengths, 1 weaknesses, 2 recommendations; 3 unverified" in summary
    assert fake_llm.chat_requests[0].authorization == "Bearer sk-test-key"

    code, out, _ = run(setup, capsys, "list")
    assert code == 0 and report_id[:8] in out and "Week 1" in out and "[Hermes]" in out
    code, out, _ = run(setup, capsys, "list", "--json")
    (row,) = json.loads(out)
    assert row["id"] == report_id and row["connection_name"] == "Hermes" and row["unverified"] == 3
    assert {"strengths", "details", "previous_prompt", "applied_at"} <= set(row)

    code, out, _ = run(setup, capsys, "show", report_id)
    assert code == 0
    assert f"✓ “{QUOTE}”" in out and "Guesses  [unverified]" in out and "✗ “never said this”" in out
    assert "  1. Ask which errors to retry" in out and "+Ask first." in out

    assert run(setup, capsys, "apply", report_id[:8], "--prompt")[0] == 0  # a unique prefix will do
    assert stored(setup)[1].system_prompt == "Be careful.\nAsk first."
    code, out, _ = run(setup, capsys, "show", report_id, "--json")
    shown = json.loads(out)
    assert shown["applied_at"] and shown["previous_prompt"] == "Be careful." and "+Ask first." in shown["diff"]

    code, out, err = run(setup, capsys, "apply", report_id, "--recommendation", "2", "--as", "memory")
    assert code == 0 and out.startswith("Added to the Atlas"), err
    assert [n.source for n in stored(setup)[2]] == [f"mirror:{report_id}"]
    code, out, err = run(setup, capsys, "apply", report_id, "--recommendation", "1", "--as", "skill")
    assert code == 0 and out.startswith("Suggested skill “Ask which errors to retry”"), err
    code, out, err = run(setup, capsys, "apply", report_id, "--recommendation", "1", "--as", "skill")
    assert code == 1 and "already the skill" in err

    assert run(setup, capsys, "undo", report_id)[0] == 0
    assert stored(setup)[1].system_prompt == "Be careful."
    assert run(setup, capsys, "delete", report_id)[0] == 0
    assert stored(setup)[0] == []


def test_run_from_a_log_file_with_json_output(setup, capsys, tmp_path):
    logs = tmp_path / "session.log"
    logs.write_text(f"user: write a retry helper\nassistant: {QUOTE}\n", encoding="utf-8")
    code, out, err = run(setup, capsys, "run", "--connection", setup["conn"], "--title", "From a file",
                         "--logs", str(logs), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["title"] == "From a file" and report["strengths"][0]["verified"] is True
    assert report["details"]["logs"]["sources"] == [{"kind": "pasted", "title": "Pasted logs"}]


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--connection", "nope", "--title", "T", "--thread", "x"], "no connection nope"),
    (["run", "--connection", "{conn}", "--title", "T", "--thread", "gone"], "no thread gone"),
    (["run", "--connection", "{conn}", "--title", "T", "--logs", "/no/such/file"], "No such file"),
    (["run", "--connection", "{conn}", "--title", "", "--logs", os.devnull], "nothing to review"),
    (["show", "missing"], "no mirror report missing"),
    (["apply", "missing", "--prompt"], "no mirror report missing"),
    (["apply", "missing", "--recommendation", "1"], "--as memory or --as skill"),
    (["undo", "missing"], "no mirror report missing"),
    (["delete", "missing"], "no mirror report missing"),
])
def test_errors_are_one_line_and_exit_non_zero(setup, capsys, args, message):
    code, out, err = run(setup, capsys, *[a.format(**setup) for a in args])
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith("mirari: error: ") and message in err


def test_malformed_twice_exits_non_zero_and_stores_nothing(setup, capsys, fake_llm):
    fake_llm.reply(text="no json here")
    code, out, err = run(setup, capsys, "run", "--connection", setup["conn"], "--title", "T",
                         "--thread", setup["thread"])
    assert code == 1 and "Nothing was stored" in err and err.count("\n") == 1
    assert stored(setup)[0] == []


def test_undo_after_a_manual_edit_needs_force(setup, capsys):
    _code, out, _ = run(setup, capsys, "run", "--connection", setup["conn"], "--title", "T", "--thread", setup["thread"])
    report_id = out.split()[0]
    run(setup, capsys, "apply", report_id, "--prompt")
    db = open_database(setup["path"])
    with db.write() as s:
        s.get(AgentConnection, setup["conn"]).system_prompt = "Hand edited."
    db.close()
    code, _out, err = run(setup, capsys, "undo", report_id)
    assert code == 1 and "--force" in err
    assert run(setup, capsys, "undo", report_id, "--force")[0] == 0
    assert stored(setup)[1].system_prompt == "Be careful."
