import pytest
from sqlmodel import select

from agent.chat.threads import (
    default_title,
    delete_thread,
    list_threads_in,
    new_thread,
    rename_thread,
    thread_messages_in,
)
from local_schema.models import Message
from tests.agent.conftest import add_connection, add_message, ts
from tests.cascades import delete_reaches


def test_default_title():
    assert default_title("  short\nquestion ") == "short question"
    assert default_title("word " * 30) == ("word " * 12).strip() + "…"
    assert default_title("x" * 80) == "x" * 60 + "…"
    assert default_title("   ") == "New thread"


def test_threads_sorted_by_recent_activity_rename_delete(db):
    with db.session() as session:
        conn = add_connection(session)
    quiet = new_thread(db, conn.id)
    busy = new_thread(db, conn.id)
    empty = new_thread(db, conn.id)
    with db.session() as session:
        add_message(session, quiet, "user", "old", ts(5))
        add_message(session, busy, "user", "newer", ts(1))
        empty.created_at = ts(3)
        session.add(empty)
        session.commit()
    with db.session() as session:
        assert [t.id for t in list_threads_in(session)] == [busy.id, empty.id, quiet.id]
        assert list_threads_in(session)[0].message_count == 1
    rename_thread(db, quiet.id, "  Renamed  thread ")
    with db.session() as session:
        assert {t.id: t.title for t in list_threads_in(session)}[quiet.id] == "Renamed thread"
    with pytest.raises(ValueError, match="cannot be empty"):
        rename_thread(db, quiet.id, "  ")
    delete_thread(db, busy.id)
    with db.session() as session:
        assert [t.id for t in list_threads_in(session)] == [empty.id, quiet.id]
        assert session.exec(select(Message).where(Message.conversation_id == busy.id)).all() == []


def test_paging_through_messages(db):
    t = new_thread(db)
    with db.session() as session:
        for i in range(25):
            add_message(session, t, "user", f"m{i}", ts(1, i))
        assert [m.content for m in thread_messages_in(session, t.id, offset=20, limit=10)] == [
            f"m{i}" for i in range(20, 25)]


def test_rename_keeps_titles_within_the_server_limit(db):
    # conversations.title is at most 500 characters on the server: a longer title would never sync.
    with db.session() as session:
        connection = add_connection(session)
    thread = new_thread(db, connection.id)
    renamed = rename_thread(db, thread.id, "word " * 200)
    assert len(renamed.title) <= 500 and renamed.title.endswith("…")


def test_writers_tell_the_change_listeners(db):
    heard = []
    db.add_change_listener(lambda tables, origin: heard.append(tables))
    thread = new_thread(db)
    rename_thread(db, thread.id, "named")
    delete_thread(db, thread.id)
    assert heard == [{"conversations"}, {"conversations"}, delete_reaches("conversations")]
