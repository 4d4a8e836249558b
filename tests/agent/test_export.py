import json

import pytest

from agent.chat.export import export_thread_in, thread_to_json_in, thread_to_markdown_in
from tests.agent.conftest import add_connection, add_message, add_thread, ts
from tests.portable import mode_of, shown_mode


@pytest.fixture
def thread(session):
    conn = add_connection(session, name="Local Hermes", model="hermes3")
    t = add_thread(session, conn, title="Tea talk")
    add_message(session, t, "user", "Which tea?", ts(1, 0))
    add_message(session, t, "assistant", "Try **sencha**:\n\n```py\nbrew()\n```\n", ts(1, 5), author=conn)
    return t


def test_markdown_export(session, thread, tmp_path):
    md = thread_to_markdown_in(session, thread.id, exported_at="2026-05-01T12:00:00.000000+00:00")
    assert md == (
        "# Tea talk\n\n"
        "_Exported from MIRARI on 2026-05-01T12:00:00.000000+00:00 · Local Hermes (hermes3)_\n\n"
        f"## You · {ts(1, 0)}\n\nWhich tea?\n\n"
        f"## Local Hermes · hermes3 · {ts(1, 5)}\n\nTry **sencha**:\n\n```py\nbrew()\n```\n"
    )
    path = export_thread_in(session, thread.id, tmp_path / "out" / "tea.md")
    assert path.read_text("utf-8").startswith("# Tea talk\n")
    assert mode_of(path) == shown_mode(0o600)


def test_json_export_round_trips(session, thread, tmp_path):
    path = export_thread_in(session, thread.id, tmp_path / "tea.json")
    doc = json.loads(path.read_text("utf-8"))
    assert doc["format"] == "mirari.thread" and doc["conversation"]["title"] == "Tea talk"
    assert [(m["role"], m["content"]) for m in doc["messages"]] == [
        ("user", "Which tea?"), ("assistant", "Try **sencha**:\n\n```py\nbrew()\n```\n")]
    assert doc["messages"][0]["author"] is None
    assert doc["messages"][1]["author"] == {"label": "Local Hermes · hermes3", "connection_id": thread.agent_connection_id,
                                            "connection": "Local Hermes", "model": "hermes3"}
    assert doc["connection"] == {"name": "Local Hermes", "provider": "custom",
                                 "base_url": "http://127.0.0.1:9/v1", "model": "hermes3"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "tea.json"]  # no temp files left


def test_export_overwrites_atomically_and_rejects_bad_input(session, thread, tmp_path):
    target = tmp_path / "t.md"
    target.write_text("old")
    export_thread_in(session, thread.id, target, "markdown")
    assert target.read_text().startswith("# Tea talk")
    with pytest.raises(ValueError, match="markdown or json"):
        export_thread_in(session, thread.id, tmp_path / "t.txt", "pdf")
    with pytest.raises(ValueError, match="no longer exists"):
        export_thread_in(session, "00000000-0000-4000-8000-000000000000", tmp_path / "x.md")
    assert not (tmp_path / "x.md").exists()


def test_each_reply_is_exported_under_what_wrote_it(session, thread):
    """The thread moves to another connection and that one changes its model: the old reply keeps its
    author; a reply whose connection was deleted keeps its model; one with nothing recorded says so."""
    other = add_connection(session, name="Cloud", model="gpt-x")
    thread.agent_connection_id = other.id
    session.add(thread)
    session.commit()
    add_message(session, thread, "assistant", "From the cloud.", ts(0, 1), author=other)
    gone = add_connection(session, name="Old box", model="llama-old")
    add_message(session, thread, "assistant", "From a box since deleted.", ts(0, 2), author=gone)
    add_message(session, thread, "assistant", "From before authorship.", ts(0, 3))
    other.model = "gpt-y"
    session.add(other)
    session.commit()
    session.delete(gone)  # deleted here (a remote tombstone is a local delete too)
    session.commit()
    md = thread_to_markdown_in(session, thread.id, exported_at="2026-05-01T12:00:00.000000+00:00")
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert heads == [f"## You · {ts(1, 0)}", f"## Local Hermes · hermes3 · {ts(1, 5)}",
                     f"## Cloud · gpt-x · {ts(0, 1)}", f"## llama-old · {ts(0, 2)}",
                     f"## Agent · unknown model · {ts(0, 3)}"]
    doc = json.loads(thread_to_json_in(session, thread.id))
    assert [m["author"] and m["author"]["label"] for m in doc["messages"]] == [
        None, "Local Hermes · hermes3", "Cloud · gpt-x", "llama-old", "Agent · unknown model"]
    assert doc["messages"][3]["author"]["connection"] is None  # deleted: the id stays, the name is gone
    assert doc["messages"][3]["author"]["connection_id"] == gone.id


def test_a_messages_attachments_are_listed_in_both_formats(session, thread):
    from sqlmodel import select

    from local_schema.models import Attachment, Message

    question = session.exec(select(Message).where(Message.conversation_id == thread.id,
                                                  Message.role == "user")).one()
    kept = Attachment(message_id=question.id, name="bed\nplan.csv", mime_type="text/csv", size=2048, sha256="a" * 64)
    gone = Attachment(message_id=question.id, name="old.png", mime_type="image/png", size=10, sha256="b" * 64,
                      deleted_at=ts(1, 1))
    session.add_all([kept, gone])
    session.commit()
    doc = json.loads(thread_to_json_in(session, thread.id))
    assert doc["messages"][0]["attachments"] == [{"id": kept.id, "name": "bed\nplan.csv", "mime_type": "text/csv",
                                                  "size": 2048, "sha256": "a" * 64}]
    assert doc["messages"][1]["attachments"] == []
    md = thread_to_markdown_in(session, thread.id)
    assert "- 📎 bed plan.csv (text/csv, 2.0 KB)\n" in md and "old.png" not in md
