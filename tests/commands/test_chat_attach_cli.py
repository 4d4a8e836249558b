"""`mirari chat … --attach FILE` and `--knowledge NAME` against the fake OpenAI endpoint: the exact content
parts and knowledge block it receives, what is stored, and refused files leaving nothing behind."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from standin.demo.pdf import make_pdf
from tests.commands.conftest import one_error_line


def add(mirari, fake_llm, *extra):
    result = mirari("connections", "add", "--name", "Fake", "--base-url", fake_llm.base_url, "--model", "fake-model",
                    *extra)
    assert result.code == 0, result.err
    return result.out.strip()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 10), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def stored_counts(mirari):
    from local_schema.database import open_database

    db = open_database(mirari.data_dir / "local.sqlite3")
    try:
        with db.engine.connect() as c:
            return tuple(c.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                         for t in ("conversations", "messages", "attachments", "attachment_uploads"))
    finally:
        db.close()


def test_attach_sends_exact_parts_and_stores_the_files(mirari, fake_llm, tmp_path, monkeypatch):
    monkeypatch.setenv("MIRARI_API_KEY", "")
    cid = add(mirari, fake_llm, "--accepts-images")
    (tmp_path / "photo.png").write_bytes(image := png())
    (tmp_path / "plan.csv").write_text("bed,crop\n1,kale\n")
    (tmp_path / "guide.pdf").write_bytes(make_pdf("Mulch keeps water in"))
    fake_llm.reply(text="Kale it is.")
    run = mirari("chat", "--connection", cid, "--attach", str(tmp_path / "photo.png"),
                 "--attach", str(tmp_path / "plan.csv"), "--attach", str(tmp_path / "guide.pdf"), "--json", "Plan?")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    content = fake_llm.chat_requests[-1].messages[-1]["content"]
    assert content[1:] == [{"type": "image_url",
                            "image_url": {"url": "data:image/png;base64," + base64.b64encode(image).decode()}}]
    assert content[0]["type"] == "text"
    text = content[0]["text"]
    assert text.startswith('Plan?\n\n<file name="plan.csv" type="text/csv">\nbed,crop\n1,kale\n\n</file>\n\n'
                           '<file name="guide.pdf" type="application/pdf">\n[page 1]\n')
    assert "Mulch keeps water in" in text
    listed = json.loads(mirari("attachments", "list", "--json").out)
    assert sorted((a["name"], a["mime_type"], a["message_id"]) for a in listed) == [
        ("guide.pdf", "application/pdf", data["user_message_id"]), ("photo.png", "image/png", data["user_message_id"]),
        ("plan.csv", "text/csv", data["user_message_id"])]
    copy = tmp_path / "back.png"
    photo = next(a for a in listed if a["name"] == "photo.png")
    assert mirari("attachments", "get", photo["id"], "--to", str(copy)).code == 0 and copy.read_bytes() == image

    fake_llm.reply(text="Again.")
    again = mirari("chat", "--thread", data["thread_id"], "--regenerate")
    assert again.code == 0 and fake_llm.chat_requests[-1].messages[-1]["content"] == content  # rebuilt the same


@pytest.mark.parametrize("name, data, reason", [
    ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ngarbage", "is not a readable PDF"),
    ("tool.bin", bytes(range(256)) * 8, "is a binary file"),
    ("huge.txt", b"a" * 3000, "huge.txt is 0.0 MB; the limit is 0.0 MB"),
])
def test_refused_files_store_and_send_nothing(mirari, fake_llm, tmp_path, monkeypatch, name, data, reason):
    monkeypatch.setenv("MIRARI_API_KEY", "")
    cid = add(mirari, fake_llm, "--accepts-images")
    (mirari.data_dir / "attachments.json").write_text(json.dumps({"max_file_mb": 0.002}))
    (tmp_path / name).write_bytes(data)
    (tmp_path / "ok.txt").write_text("fine")
    before = stored_counts(mirari)
    run = mirari("chat", "--connection", cid, "--attach", str(tmp_path / "ok.txt"), "--attach", str(tmp_path / name),
                 "hello")
    assert reason in one_error_line(run) and run.code == 1
    assert stored_counts(mirari) == before and fake_llm.chat_requests == []


def test_an_image_for_a_text_only_connection_is_refused_with_nothing_stored(mirari, fake_llm, tmp_path, monkeypatch):
    monkeypatch.setenv("MIRARI_API_KEY", "")
    cid = add(mirari, fake_llm)
    (tmp_path / "photo.png").write_bytes(png())
    before = stored_counts(mirari)
    run = mirari("chat", "--connection", cid, "--attach", str(tmp_path / "photo.png"), "look")
    assert "does not take images (photo.png)" in one_error_line(run)
    assert stored_counts(mirari) == before and fake_llm.chat_requests == []


def test_edit_keeps_or_drops_attachments(mirari, fake_llm, tmp_path, monkeypatch):
    monkeypatch.setenv("MIRARI_API_KEY", "")
    cid = add(mirari, fake_llm)
    (tmp_path / "a.md").write_text("alpha")
    first = json.loads(mirari("chat", "--connection", cid, "--attach", str(tmp_path / "a.md"), "--json", "hi").out)
    thread, question = first["thread_id"], first["user_message_id"]
    assert mirari("chat", "--thread", thread, "--edit", question, "hi again").code == 0
    assert fake_llm.chat_requests[-1].messages[-1]["content"] == \
        'hi again\n\n<file name="a.md" type="text/markdown">\nalpha\n</file>'
    assert mirari("chat", "--thread", thread, "--edit", question, "--drop-attachments", "plain").code == 0
    assert fake_llm.chat_requests[-1].messages[-1]["content"] == "plain"
    assert "--drop-attachments goes with --edit" in one_error_line(
        mirari("chat", "--thread", thread, "--drop-attachments", "x"))
    assert "a retry or regenerate" in one_error_line(
        mirari("chat", "--thread", thread, "--regenerate", "--attach", str(tmp_path / "a.md")))


def test_knowledge_block_and_citations(mirari, fake_llm, tmp_path, monkeypatch):
    monkeypatch.setenv("MIRARI_API_KEY", "")
    cid = add(mirari, fake_llm)
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "soil.md").write_text("Compost feeds the soil.\nTurn it weekly.\n")
    (folder / "other.md").write_text("Nothing relevant here.\n")
    assert mirari("knowledge", "add", "notes", str(folder)).code == 0
    fake_llm.reply(text="Turn it weekly [notes/soil.md:1-2].")
    run = mirari("chat", "--connection", cid, "--knowledge", "notes", "How often should compost be turned?")
    assert run.code == 0 and run.out == "Turn it weekly [notes/soil.md:1-2].\n"
    assert fake_llm.chat_requests[-1].messages[0] == {"role": "system", "content": (
        "Passages from the user's knowledge folders (cite them as [file:line]):\n\n"
        '<passage source="notes/soil.md:1-2">\nCompost feeds the soil.\nTurn it weekly.\n</passage>')}
    assert f"source: notes/soil.md:1-2 -> {(folder / 'soil.md').resolve()}" in run.err.splitlines()
    thread = run.err.split("(thread ")[1].split(":")[0]
    fake_llm.reply(text="See [soil.md:2].")
    data = json.loads(mirari("chat", "--thread", thread, "--knowledge", "notes", "--json", "compost again").out)
    assert [c["source"] for c in data["citations"]] == ["notes/soil.md:2"]
    assert [p["source"] for p in data["passages"]] == ["soil.md:1-2"]

    before = stored_counts(mirari)
    assert "no knowledge set named gone" in one_error_line(
        mirari("chat", "--thread", thread, "--knowledge", "gone", "hi"))
    assert stored_counts(mirari) == before


def test_the_installed_command_in_a_subprocess(fake_llm, tmp_path):
    """`python -m mirari` as a user runs it: a PNG and a Markdown file, a knowledge set, one turn."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
           "MIRARI_API_KEY": "", "MIRARI_KEY_PASSPHRASE": "a passphrase for the test"}
    data = tmp_path / "data"

    def run(*argv):
        return subprocess.run([sys.executable, "-m", "mirari", "--data-dir", str(data), *argv], capture_output=True,
                              text=True, env=env, timeout=120)

    added = run("connections", "add", "--name", "Fake", "--base-url", fake_llm.base_url, "--model", "m",
                "--accepts-images")
    assert added.returncode == 0, added.stderr
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "kale.md").write_text("Kale likes cool weather.\n")
    assert run("knowledge", "add", "kb", str(folder)).returncode == 0
    (tmp_path / "leaf.png").write_bytes(image := png())
    (tmp_path / "todo.md").write_text("- sow kale\n")
    fake_llm.reply(text="Cool weather [kb/kale.md:1].")
    chat = run("chat", "--connection", added.stdout.strip(), "--attach", str(tmp_path / "leaf.png"), "--attach",
               str(tmp_path / "todo.md"), "--knowledge", "kb", "When does kale grow best?")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout == "Cool weather [kb/kale.md:1].\n"
    assert f"source: kb/kale.md:1 -> {(folder / 'kale.md').resolve()}" in chat.stderr
    messages = fake_llm.chat_requests[-1].messages
    assert messages[0]["content"].endswith('<passage source="kb/kale.md:1">\nKale likes cool weather.\n</passage>')
    assert messages[-1]["content"] == [
        {"type": "text", "text": 'When does kale grow best?\n\n<file name="todo.md" type="text/markdown">\n'
                                 '- sow kale\n\n</file>'},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(image).decode()}}]
