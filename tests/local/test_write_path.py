"""The one write path: BEGIN IMMEDIATE, commit or roll back as a whole, listeners told which tables."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from local_schema.models import Conversation, MemoryNode


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


def test_raw_sql_declares_its_tables(db):
    heard = []
    db.add_change_listener(lambda tables, origin: heard.append(tables))
    with db.write(tables=["conversations"]) as session:
        session.execute(text("INSERT INTO conversations (id, title) VALUES ('x', 'raw')"))
    assert heard == [frozenset({"conversations"})]


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
