"""Local migration v11 (conversations as trees) on a database with existing threads, and the SQLite
triggers that keep raw inserts and deletes consistent with the tree."""

from __future__ import annotations

import sqlite3

from sqlmodel import func, select

from local_schema.database import open_database
from local_schema.migrations import migrate
from local_schema.models import FOLLOWS_LAST, Conversation, Message
from tests.outbox_ops import pending_ops

THREAD = "1c8a6d3f-4a7b-4e2f-8b64-7d2e3f4a5b6c"
OTHER = "2c8a6d3f-4a7b-4e2f-8b64-7d2e3f4a5b6c"


def ids(n: int, prefix: str = "a") -> list[str]:
    return [f"{prefix}{i:07d}-0000-4000-8000-000000000000" for i in range(n)]


def make_v10_file(path) -> list[str]:
    """Two threads written before trees: the first with a message the server deleted (its tombstone
    pulled as a local row with deleted_at), one only this device has, and seq ties."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = sqlite3.connect(path, isolation_level=None)
    migrate(raw, target=10)
    raw.execute("INSERT INTO conversations (id, title) VALUES (?, 'old'), (?, 'other')", (THREAD, OTHER))
    m = ids(6)
    raw.executemany("INSERT INTO messages (id, conversation_id, role, content, seq, deleted_at) VALUES (?, ?, ?, ?, ?, ?)", [
        (m[1], THREAD, "assistant", "a1", 200, None),
        (m[0], THREAD, "user", "q1", 100, None),
        (m[3], THREAD, "assistant", "tombstoned", 300, "2024-05-01T12:00:00+00:00"),
        (m[4], THREAD, "user", "q2 (tie)", 400, None),
        (m[2], THREAD, "user", "q2' (tie, smaller id)", 400, None),
        (m[5], OTHER, "user", "elsewhere", 150, None)])
    raw.execute("DELETE FROM sync_outbox WHERE row_id <> ?", (m[4],))  # pushed, except m[4]
    raw.close()
    return m


def parents(path) -> dict[str, str | None]:
    raw = sqlite3.connect(path)
    try:
        return dict(raw.execute("SELECT id, parent_id FROM messages"))
    finally:
        raw.close()


def test_existing_threads_become_one_path_and_nothing_new_is_pushed(db_path):
    m = make_v10_file(db_path)
    db = open_database(db_path)
    try:
        with db.session() as session:
            assert [(op.kind, op.row_id) for op in pending_ops(session)] == [("insert", m[4])]
            statuses = set(session.exec(select(Message.status)).all())
            settings = session.get(Conversation, THREAD)
        assert statuses == {"done"}
        assert (settings.active_leaf_id, settings.temperature, settings.stop_sequences) == (m[4], None, None)
    finally:
        db.close()
    assert parents(db_path) == {m[0]: None, m[1]: m[0], m[2]: m[1], m[4]: m[2], m[3]: None, m[5]: None}


def test_a_raw_insert_follows_the_thread_and_an_explicit_null_is_a_root(db_path):
    m = make_v10_file(db_path)
    open_database(db_path).close()
    raw = sqlite3.connect(db_path)
    try:
        raw.execute("INSERT INTO messages (id, conversation_id, role, content) VALUES ('raw', ?, 'user', 'r')", (THREAD,))
        raw.execute("INSERT INTO messages (id, conversation_id, role, content, seq) VALUES ('old', ?, 'user', 'o', 250)",
                    (THREAD,))
        raw.execute("INSERT INTO messages (id, conversation_id, role, content, parent_id) "
                    "VALUES ('root', ?, 'user', 'r', NULL)", (THREAD,))
        raw.execute("INSERT INTO conversations (id) VALUES ('empty')")
        raw.execute("INSERT INTO messages (id, conversation_id, role, content) VALUES ('first', 'empty', 'user', 'f')")
        raw.commit()
        found = dict(raw.execute("SELECT id, parent_id FROM messages WHERE id IN ('raw', 'old', 'root', 'first')"))
        assert found == {"raw": m[4], "old": m[1], "root": None, "first": None}
        assert raw.execute("SELECT count(*) FROM messages WHERE parent_id = ?", (FOLLOWS_LAST,)).fetchone()[0] == 0
    finally:
        raw.close()


def test_the_orm_follows_the_thread_across_one_flush_unless_told_a_parent(db):
    with db.write() as session:
        thread = Conversation(title="t")
        session.add(thread)
    with db.write() as session:
        first = Message(conversation_id=thread.id, role="user", content="q")
        second = Message(conversation_id=thread.id, role="assistant", content="a")
        root = Message(conversation_id=thread.id, role="user", content="edit of q", parent_id=None)
        session.add_all([first, second, root])
    with db.write() as session:
        third = Message(conversation_id=thread.id, role="user", content="q2")
        session.add(third)
    assert (first.parent_id, second.parent_id, root.parent_id, third.parent_id) == (None, first.id, None, root.id)
    with db.session() as session:
        stored = dict(session.exec(select(Message.id, Message.parent_id)).all())
    assert stored == {first.id: None, second.id: first.id, root.id: None, third.id: root.id}


def test_a_deleted_message_hands_its_children_to_its_parent_uncaptured(db):
    """What a pulled tombstone does where this device linked a message the server had linked past it."""
    with db.write() as session:
        thread = Conversation(title="t")
        session.add(thread)
        q = Message(conversation_id=thread.id, role="user", content="q", parent_id=None)
        gone = Message(conversation_id=thread.id, role="assistant", content="deleted on the server", parent_id=q.id)
        kept = Message(conversation_id=thread.id, role="assistant", content="regenerated", parent_id=gone.id)
        session.add_all([q, gone, kept])
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM sync_outbox")
        with db.applying_remote(conn):  # as a pull applies a tombstone
            conn.exec_driver_sql("DELETE FROM messages WHERE id = ?", (gone.id,))
    with db.session() as session:
        assert session.get(Message, kept.id).parent_id == q.id
        assert pending_ops(session) == []
    with db.write() as session:  # a thread's own delete leaves nothing to repair
        session.delete(session.get(Conversation, thread.id))
    with db.session() as session:
        assert session.exec(select(func.count(Message.id))).one() == 0
