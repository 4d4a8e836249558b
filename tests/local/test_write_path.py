"""The one write path: BEGIN IMMEDIATE, commit or roll back as a whole, listeners told which tables.

Which tables: whatever the transaction wrote, as SQLite reports it (ORM, raw SQL, foreign-key cascades,
triggers), bookkeeping tables left out; recorded in the current operation's collector too."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from local_schema import changes
from local_schema.models import AgentConnection, ConnectionCheck, Conversation, MemoryNode, Message, Task
from tests.cascades import delete_reaches


def test_write_commits_and_tells_listeners_the_tables(db):
    heard: list[tuple[frozenset, str]] = []
    db.add_change_listener(lambda tables, origin: heard.append((tables, origin)))
    with db.write() as session:
        session.add(MemoryNode(label="likes tea", category="preference", strength=0.5, source="manual"))
        session.add(Conversation(title="t"))
    assert heard == [(frozenset({"memory_nodes", "conversations"}), "local")]
    with db.session() as session:
        assert session.exec(text("SELECT count(*) FROM memory_nodes")).scalar() == 1


def test_write_rolls_back_everything_on_error_and_tells_nobody(db):
    heard = []
    db.add_change_listener(lambda tables, origin: heard.append(tables))
    with pytest.raises(RuntimeError), db.write() as session:
        session.add(Conversation(title="kept?"))
        session.flush()
        raise RuntimeError("boom")
    assert heard == []
    with db.session() as session:
        assert session.exec(text("SELECT count(*) FROM conversations")).scalar() == 0


def test_the_expected_cascades_are_read_from_the_models():
    assert {"conversations", "messages"} <= delete_reaches("conversations")
    assert {"agent_connections", "connection_checks", "conversations", "tasks", "mirror_reports",
            "dream_reports"} <= delete_reaches("agent_connections")
    assert "messages" not in delete_reaches("agent_connections")  # SET NULL: the threads stay


def _listen(db) -> list[tuple[frozenset, str]]:
    heard: list[tuple[frozenset, str]] = []
    db.add_change_listener(lambda tables, origin: heard.append((frozenset(tables), origin)))
    return heard


def test_raw_sql_is_heard_without_declaring_its_tables(db):
    heard = _listen(db)
    with db.write() as session:
        session.execute(text("INSERT INTO conversations (id, title) VALUES ('x', 'raw')"))
    with db.write() as session:
        session.connection().exec_driver_sql("UPDATE conversations SET title = ? WHERE id = ?", ("again", "x"))
    assert heard == [(frozenset({"conversations"}), "local"), (frozenset({"conversations"}), "local")]


def test_tables_are_never_listed_by_hand(db):
    """A hand-typed list could only disagree with what SQLite reports: write() takes none."""
    with pytest.raises(TypeError):
        db.write(tables=["conversations"])


def test_an_attachment_announces_its_row_and_never_its_upload_queue(db):
    """agent.attachments.store declared `attachment_uploads` by hand, and a declared table skipped the
    bookkeeping filter: every attachment announced the transfer queue to the pages as if it were data."""
    from agent.attachments.reading import prepare_bytes
    from agent.attachments.store import attach

    with db.write() as session:
        session.add(Conversation(id="c", title="t"))
        session.add(Message(id="m", conversation_id="c", role="user", content="see the notes"))
    heard = _listen(db)
    attach(db, "m", [prepare_bytes("notes.txt", b"one line")])
    assert heard == [(frozenset({"attachments"}), "local")]


def test_the_same_statement_again_is_still_heard(db):
    """Python's sqlite3 re-uses a prepared statement without preparing it again (SQLite's authorizer
    stays silent): the second and later runs must be reported all the same, cascades included."""
    with db.write() as session:
        for i in range(4):
            session.add(Conversation(id=f"c{i}", title=str(i)))
            session.add(Message(conversation_id=f"c{i}", role="user", content="hello"))
    heard = _listen(db)
    statement = text("DELETE FROM conversations WHERE id = :id")
    for i in range(4):
        with db.write() as session:
            session.execute(statement, {"id": f"c{i}"})
    assert heard == [(delete_reaches("conversations"), "local")] * 4


def test_writes_on_a_second_pooled_connection_are_heard(db):
    """A reader holding one pooled connection sends the writes to another; each connection has its own
    tracker and its own statement cache."""
    heard = _listen(db)
    statement = text("UPDATE conversations SET title = :t")
    with db.write() as first:
        first.add(Conversation(title="a"))
    with db.session() as reader:
        reader.execute(text("SELECT 1")).scalar()  # holds one connection while the next write takes another
        for i in range(3):
            with db.write() as session:
                session.execute(statement, {"t": str(i)})
    assert [tables for tables, _ in heard] == [frozenset({"conversations"})] * 4


def test_deleting_a_connection_reports_the_rows_its_foreign_keys_cascade_to(db):
    """ON DELETE SET NULL (threads, reports, tasks) and ON DELETE CASCADE (its last check) change rows of
    other tables in the same statement; listeners hear all of them, not only agent_connections."""
    with db.write() as session:
        connection = AgentConnection(name="c", provider="custom", base_url="http://x", model="m")
        session.add(connection)
        session.flush()
        session.add(ConnectionCheck(connection_id=connection.id, status="online"))
        session.add(Conversation(title="t", agent_connection_id=connection.id))
        session.add(Task(title="task", connection_id=connection.id))
    heard = _listen(db)
    with db.write() as session:
        session.delete(session.get(AgentConnection, connection.id))
    [(tables, origin)] = heard
    assert origin == "local"
    assert tables == delete_reaches("agent_connections")
    with db.session() as session:
        assert session.exec(text("SELECT count(*) FROM connection_checks")).scalar() == 0
        assert session.exec(text("SELECT agent_connection_id FROM conversations")).scalar() is None


def test_deleting_a_thread_reports_its_messages(db):
    with db.write() as session:
        conversation = Conversation(title="t")
        session.add(conversation)
        session.flush()
        session.add(Message(conversation_id=conversation.id, role="user", content="hello"))
    heard = _listen(db)
    with db.write() as session:
        session.execute(text("DELETE FROM conversations WHERE id = :id"), {"id": conversation.id})
    assert heard == [(delete_reaches("conversations"), "local")]


def test_tables_written_by_triggers_for_bookkeeping_are_never_reported(db):
    """A message insert makes its triggers write the outbox (sync_outbox), the counts (message_counts)
    and the search index (messages_fts and its shadow tables): none of them is data a view shows."""
    heard = _listen(db)
    with db.write() as session:
        conversation = Conversation(title="t")
        session.add(conversation)
        session.flush()
        session.add(Message(conversation_id=conversation.id, role="user", content="searchable words"))
    with db.write() as session:
        session.execute(text("UPDATE messages SET content = 'other words'"))
    with db.write() as session:
        session.execute(text("DELETE FROM messages"))
    with db.session() as session:  # the triggers did run
        assert session.exec(text("SELECT count(*) FROM sync_outbox")).scalar() >= 3
    assert [tables for tables, _ in heard] == [frozenset({"conversations", "messages"}),
                                               frozenset({"messages"}), delete_reaches("messages")]
    for tables, _ in heard:
        assert not any(changes.is_internal(t) for t in tables)


def test_what_applying_remote_writes_is_not_a_local_change(db):
    """Rows a sync cycle applies (capture suppressed) are announced by the sync engine, with their ids."""
    heard = _listen(db)
    with db.write() as session, db.applying_remote(session):
        session.execute(text("INSERT INTO conversations (id, title) VALUES ('from-server', 'remote')"))
    assert heard == []
    with db.write() as session:
        with db.applying_remote(session):
            session.execute(text("INSERT INTO tasks (id, title, status) VALUES ('r', 'remote', 'todo')"))
        session.add(Conversation(title="mine"))
    assert heard == [(frozenset({"conversations"}), "local")]


def test_plain_sessions_and_rolled_back_writes_leave_nothing_for_the_next_write(db):
    heard = _listen(db)
    with pytest.raises(RuntimeError), db.write() as session:
        session.execute(text("INSERT INTO tasks (id, title, status) VALUES ('x', 'gone', 'todo')"))
        raise RuntimeError("boom")
    with db.session() as session:  # not the write path: not reported (and not carried into the next one)
        session.execute(text("INSERT INTO memory_nodes (id, label, category, strength, source) "
                             "VALUES ('n', 'l', 'fact', 0.5, 'manual')"))
        session.commit()
    with db.write() as session:
        session.add(Conversation(title="only this"))
    assert heard == [(frozenset({"conversations"}), "local")]


def test_an_operation_collects_what_its_writes_committed(db):
    with changes.collect() as collected:
        assert changes.collecting()
        with db.write() as session:
            session.add(Conversation(title="t"))
        with db.write() as session:
            session.execute(text("INSERT INTO tasks (id, title, status) VALUES ('x', 'raw', 'todo')"))
        with pytest.raises(RuntimeError), db.write() as session:  # rolled back: nothing to announce
            session.add(MemoryNode(label="l", category="fact", strength=0.5, source="manual"))
            raise RuntimeError("boom")
    assert not changes.collecting()
    assert collected.changes() == {"conversations", "tasks"}


def test_collectors_nest_and_the_outer_one_gets_everything(db):
    with changes.collect() as outer:
        with db.write() as session:
            session.add(Conversation(title="t"))
        with pytest.raises(ValueError), changes.collect() as inner:
            with db.write() as session:
                session.add(Task(title="inner"))
            raise ValueError("the inner step failed after its write committed")
        with db.write() as session:
            session.add(MemoryNode(label="l", category="fact", strength=0.5, source="manual"))
    assert inner.changes() == {"tasks"}
    assert outer.changes() == {"conversations", "tasks", "memory_nodes"}


def test_a_collector_belongs_to_its_thread(db):
    done = threading.Event()

    def elsewhere():
        with db.write() as session:
            session.add(Task(title="another thread"))
        done.set()

    with changes.collect() as collected:
        thread = threading.Thread(target=elsewhere)
        thread.start()
        assert done.wait(5)
        thread.join()
        with db.write() as session:
            session.add(Conversation(title="this thread"))
    assert collected.changes() == {"conversations"}


def test_a_failing_listener_does_not_undo_the_write(db):
    db.add_change_listener(lambda tables, origin: 1 / 0)
    with db.write() as session:
        session.add(Conversation(title="stays"))
    with db.session() as session:
        assert session.exec(text("SELECT count(*) FROM conversations")).scalar() == 1


def test_read_then_write_waits_for_another_writer_instead_of_failing(db):
    """A deferred read-then-write fails at once with 'database is locked' when another connection
    commits between its read and its write; write() takes the lock first and waits its turn."""
    with db.write() as session:
        conversation = Conversation(title="0")
        session.add(conversation)
    held, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with db.write() as session:
            session.execute(text("UPDATE conversations SET title = 'other'"))
            held.set()
            release.wait(5)

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert held.wait(5)
    threading.Timer(0.3, release.set).start()
    with db.write() as session:  # blocks on the lock, then reads the committed value
        row = session.get(Conversation, conversation.id)
        row.title = row.title + "+mine"
        session.add(row)
    thread.join()
    with db.session() as session:
        assert session.get(Conversation, conversation.id).title == "other+mine"


def test_what_counts_as_bookkeeping():
    for table in ("sync_outbox", "message_counts", "messages_fts", "messages_fts_data", "messages_fts_backlog",
                  "knowledge_fts", "knowledge_fts_idx", "sqlite_sequence", "attachment_uploads"):
        assert changes.is_internal(table), table
    for table in ("messages", "conversations", "memory_nodes", "connection_checks", "knowledge_chunks"):
        assert not changes.is_internal(table), table
