import pytest
from sqlmodel import select

from agent.threads import (
    default_title,
    delete_thread,
    list_threads,
    new_thread,
    rename_thread,
    thread_messages,
)
from local_schema.models import Message
from tests.agent.conftest import add_connection, add_message, ts


def test_default_title():
    assert default_title("  short\nquestion ") == "short question"
    assert default_title("word " * 30) == ("word " * 12).strip() + "…"
    assert default_title("x" * 80) == "x" * 60 + "…"
    assert default_title("   ") == "New thread"


def test_threads_sorted_by_recent_activity_rename_delete(session):
    conn = add_connection(session)
    quiet = new_thread(session, conn.id)
    busy = new_thread(session, conn.id)
    empty = new_thread(session, conn.id)
    add_message(session, quiet, "user", "old", ts(5))
    add_message(session, busy, "user", "newer", ts(1))
    empty.created_at = ts(3)
    session.add(empty)
    session.commit()
    assert [t.id for t in list_threads(session)] == [busy.id, empty.id, quiet.id]
    assert list_threads(session)[0].message_count == 1
    rename_thread(session, quiet.id, "  Renamed  thread ")
    assert {t.id: t.title for t in list_threads(session)}[quiet.id] == "Renamed thread"
    with pytest.raises(ValueError, match="cannot be empty"):
        rename_thread(session, quiet.id, "  ")
    delete_thread(session, busy.id)
    assert [t.id for t in list_threads(session)] == [empty.id, quiet.id]
    assert session.exec(select(Message).where(Message.conversation_id == busy.id)).all() == []


def test_paging_through_messages(session):
    t = new_thread(session)
    for i in range(25):
        add_message(session, t, "user", f"m{i}", ts(1, i))
    assert [m.content for m in thread_messages(session, t.id, offset=20, limit=10)] == [f"m{i}" for i in range(20, 25)]


def test_rename_keeps_titles_within_the_server_limit(session):
    # conversations.title is at most 500 characters on the server: a longer title would never sync.
    thread = new_thread(session, add_connection(session).id)
    renamed = rename_thread(session, thread.id, "word " * 200)
    assert len(renamed.title) <= 500 and renamed.title.endswith("…")
