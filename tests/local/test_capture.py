"""Change capture: every write to a synced table lands in sync_outbox in the same transaction."""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from local_schema.database import CaptureSuppressionLeak
from local_schema.models import SYNCED_TABLES, AgentConnection, Conversation, MemoryNode, Message, Skill
from local_schema.outbox import count_parked, count_pending
from tests.outbox_ops import ops_for_row, pending_ops


def _ops(db):
    with db.session() as session:
        return [(op.table_name, op.row_id, op.kind, op.changed_columns) for op in pending_ops(session)]


def _clear(db):
    with db.session() as session:
        session.execute(text("DELETE FROM sync_outbox"))
        session.commit()


def _connection(**overrides):
    values = {
        "name": "Hermes",
        "provider": "hermes",
        "base_url": "http://localhost:11434/v1",
        "model": "hermes3",
    }
    return AgentConnection(**{**values, **overrides})


def test_orm_insert_update_delete_are_captured_in_order(db):
    with db.session() as session:
        conn = _connection()
        session.add(conn)
        session.commit()
        conn.name, conn.model = "Renamed", "hermes3:8b"
        session.add(conn)
        session.commit()
        session.delete(conn)
        session.commit()
    assert _ops(db) == [
        ("agent_connections", conn.id, "insert", None),
        ("agent_connections", conn.id, "update", ["name", "model"]),
        ("agent_connections", conn.id, "delete", None),
    ]
    with db.session() as session:
        ops = pending_ops(session)
    assert [op.op_seq for op in ops] == sorted(op.op_seq for op in ops)
    assert len({op.op_uuid for op in ops}) == 3
    assert all(uuid.UUID(op.op_uuid).version == 4 for op in ops)
    assert all(op.state == "pending" and op.attempts == 0 and op.created_at.endswith("+00:00") for op in ops)


def test_raw_sqlite3_writes_on_the_file_are_captured(db, db_path):
    raw = sqlite3.connect(db_path)
    raw.execute("INSERT INTO skills (id, name) VALUES ('11111111-1111-4111-8111-111111111111', 'raw')")
    raw.execute("UPDATE skills SET score = 0.9, status = 'accepted' WHERE name = 'raw'")
    raw.execute("DELETE FROM skills")
    raw.commit()
    raw.close()
    row = "11111111-1111-4111-8111-111111111111"
    assert _ops(db) == [
        ("skills", row, "insert", None),
        ("skills", row, "update", ["status", "score"]),
        ("skills", row, "delete", None),
    ]


def test_only_changed_columns_and_no_op_updates_record_nothing(db, db_path):
    with db.session() as session:
        node = MemoryNode(label="likes tea", category="preference")
        session.add(node)
        session.commit()
    _clear(db)
    raw = sqlite3.connect(db_path)
    raw.execute("UPDATE memory_nodes SET label = label, strength = 0.5")  # same values
    raw.execute("UPDATE memory_nodes SET category = NULL")  # value -> NULL is a change
    raw.execute("UPDATE memory_nodes SET category = NULL")  # NULL -> NULL is not
    raw.commit()
    raw.close()
    assert _ops(db) == [("memory_nodes", node.id, "update", ["category"])]


def test_server_managed_columns_are_not_captured_but_a_tombstone_is(db):
    with db.session() as session:
        skill = Skill(name="s")
        session.add(skill)
        session.commit()
    _clear(db)
    with db.session() as session:
        # Claiming rows on first sign-in and refreshing stamps must not generate pushes...
        session.execute(
            text("UPDATE skills SET user_id = :u, updated_at = 'x', created_at = 'y'"),
            {"u": str(uuid.uuid4())},
        )
        session.commit()
        assert pending_ops(session) == []
        # ...but asking for a tombstone must.
        session.execute(text("UPDATE skills SET deleted_at = '2024-05-01T12:00:00.000000+00:00'"))
        session.commit()
    assert _ops(db) == [("skills", skill.id, "update", ["deleted_at"])]


def test_changing_a_primary_key_is_a_delete_and_an_insert(db, db_path):
    with db.session() as session:
        skill = Skill(name="s")
        session.add(skill)
        session.commit()
    _clear(db)
    new_id = str(uuid.uuid4())
    raw = sqlite3.connect(db_path)
    raw.execute("UPDATE skills SET id = ?, name = 't'", (new_id,))
    raw.commit()
    raw.close()
    assert _ops(db) == [("skills", skill.id, "delete", None), ("skills", new_id, "insert", None)]


def test_insert_or_replace_captures_the_replaced_row(db):
    with db.session() as session:
        skill = Skill(name="s")
        session.add(skill)
        session.commit()
    _clear(db)
    with db.session() as session:
        session.execute(
            text("INSERT OR REPLACE INTO skills (id, name) VALUES (:id, 'replaced')"), {"id": skill.id}
        )
        session.commit()
    assert _ops(db) == [("skills", skill.id, "delete", None), ("skills", skill.id, "insert", None)]


def test_suppressed_while_applying_remote_only_inside_that_transaction(db):
    remote = _connection(name="from server")
    with db.session() as session:
        with db.applying_remote(session):
            session.add(remote)
            session.flush()
            session.execute(text("UPDATE agent_connections SET status = 'online'"))
        local = _connection(name="typed by the user")  # after the block, in the same transaction
        session.add(local)
        session.commit()
    assert _ops(db) == [("agent_connections", local.id, "insert", None)]
    with db.session() as session:
        assert (
            session.execute(text("SELECT value FROM sync_meta WHERE key = 'capture_suppressed'")).scalar()
            == "0"
        )
        assert len(session.exec(select(AgentConnection)).all()) == 2


def test_applying_remote_works_on_a_core_connection(db):
    with db.engine.begin() as conn, db.applying_remote(conn):
        conn.execute(text("INSERT INTO tasks (title) VALUES ('remote')"))
    assert _ops(db) == []


def test_suppression_is_invisible_to_other_connections(db, db_path):
    with db.session() as session, db.applying_remote(session):
        session.add(Skill(name="remote"))
        session.flush()
        # Another writer cannot even start while this write transaction holds the lock, and a reader
        # sees the committed flag, which is still '0'.
        reader = sqlite3.connect(db_path)
        try:
            flag = reader.execute("SELECT value FROM sync_meta WHERE key = 'capture_suppressed'").fetchone()[
                0
            ]
        finally:
            reader.close()
        assert flag == "0"
        session.rollback()


def test_exception_inside_applying_remote_restores_capture(db):
    with db.session() as session:
        with pytest.raises(RuntimeError, match="boom"), db.applying_remote(session):
            session.add(Skill(name="remote"))
            session.flush()
            raise RuntimeError("boom")
        session.rollback()
        session.add(Skill(name="local"))
        session.commit()
    assert [op[2] for op in _ops(db)] == ["insert"]
    with db.session() as session:
        assert [s.name for s in session.exec(select(Skill))] == ["local"]


def test_commit_inside_applying_remote_is_refused_and_rolled_back(db):
    with db.session() as session:
        with pytest.raises(CaptureSuppressionLeak), db.applying_remote(session):
            session.add(Skill(name="remote"))
            session.commit()
        session.rollback()
        assert session.exec(select(Skill)).all() == []
        assert (
            session.execute(text("SELECT value FROM sync_meta WHERE key = 'capture_suppressed'")).scalar()
            == "0"
        )
        session.add(Skill(name="local"))
        session.commit()
    assert [op[2] for op in _ops(db)] == ["insert"]


def test_rolled_back_transaction_leaves_neither_row_nor_capture(db, db_path):
    with db.session() as session:
        session.add(_connection())
        session.flush()
        assert count_pending(session) == 1  # visible inside the transaction...
        session.rollback()
    with db.session() as session:
        assert session.exec(select(AgentConnection)).all() == []
        assert count_pending(session) == 0  # ...and gone with it
    # Same through the raw driver: a failing statement in the middle of a transaction.
    raw = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError), raw:
        raw.execute("INSERT INTO tasks (title) VALUES ('kept?')")
        raw.execute("INSERT INTO tasks (title) VALUES (NULL)")  # NOT NULL violation
    raw.close()
    # And through the ORM: an FK violation at commit undoes the earlier, already flushed insert.
    with db.session() as session:
        session.add(Skill(name="flushed first"))
        session.flush()
        session.add(Message(conversation_id=str(uuid.uuid4()), role="user", content="orphan"))
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM tasks")).scalar() == 0
        assert session.exec(select(Skill)).all() == []
        assert count_pending(session) == 0


def test_a_conversations_cascade_is_left_to_the_server(db):
    """Deleting a thread is one op: the server's tombstone cascade deletes its messages there, so the
    local ON DELETE CASCADE is not captured, and the messages' own queued ops go with them."""
    with db.session() as session:
        conn = _connection()
        conv = Conversation(agent_connection_id=conn.id, title="t")
        messages = [Message(conversation_id=conv.id, role="user", content=f"m{i}") for i in range(3)]
        session.add(conn)
        session.flush()
        session.add(conv)
        session.flush()
        session.add_all(messages)
        session.commit()
    _clear(db)
    with db.write() as session:
        session.get(Message, messages[0].id).content = "edited, not pushed yet"
        session.add(Message(conversation_id=conv.id, role="user", content="never pushed"))
    assert len(_ops(db)) == 2
    with db.write() as session:
        session.execute(text("DELETE FROM conversations WHERE id = :id"), {"id": conv.id})
        session.execute(text("DELETE FROM agent_connections"))
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM messages")).scalar() == 0
    assert _ops(db) == [("conversations", conv.id, "delete", None), ("agent_connections", conn.id, "delete", None)]


def test_deleting_one_message_is_still_captured(db):
    with db.session() as session:
        conv = Conversation(title="t")
        session.add(conv)
        session.flush()
        message = Message(conversation_id=conv.id, role="assistant", content="old reply")
        session.add(message)
        session.commit()
    _clear(db)
    with db.write() as session:
        session.delete(session.get(Message, message.id))
    assert _ops(db) == [("messages", message.id, "delete", None)]


def test_a_connections_set_null_is_left_to_the_server_but_a_real_unbinding_is_captured(db):
    with db.session() as session:
        conn, other = _connection(), _connection(name="other")
        session.add_all([conn, other])
        session.flush()
        conv = Conversation(agent_connection_id=conn.id)
        unbound = Conversation(agent_connection_id=other.id)
        session.add_all([conv, unbound])
        session.commit()
    _clear(db)
    with db.write() as session:
        session.execute(text("DELETE FROM agent_connections WHERE id = :id"), {"id": conn.id})
        session.execute(text("UPDATE conversations SET agent_connection_id = NULL WHERE id = :id"),
                        {"id": unbound.id})
    with db.session() as session:
        assert session.get(Conversation, conv.id).agent_connection_id is None
    assert _ops(db) == [
        ("agent_connections", conn.id, "delete", None),
        ("conversations", unbound.id, "update", ["agent_connection_id"]),
    ]


def test_every_synced_table_has_all_capture_triggers(db_path, db):
    raw = sqlite3.connect(db_path)
    names = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    raw.close()
    for table in SYNCED_TABLES:
        for kind in ("insert", "update", "rekey", "delete"):
            assert f"{table}_capture_{kind}" in names


def test_outbox_helpers(db):
    with db.session() as session:
        for i in range(5):
            session.add(Skill(name=f"s{i}"))
        session.commit()
        ops = pending_ops(session)
        session.execute(
            text(
                "UPDATE sync_outbox SET next_attempt_at = '2999-01-01T00:00:00.000000+00:00' WHERE op_seq = :s"
            ),
            {"s": ops[0].op_seq},
        )
        session.execute(
            text("UPDATE sync_outbox SET state = 'parked' WHERE op_seq = :s"), {"s": ops[1].op_seq}
        )
        session.execute(
            text(
                "INSERT INTO sync_parked (op_seq, table_name, row_id, kind, code, message, details) "
                "VALUES (:s, 'skills', :r, 'insert', '42501', 'rls', :d)"
            ),
            {"s": ops[1].op_seq, "r": ops[1].row_id, "d": json.dumps({"status": 403})},
        )
        session.execute(
            text(
                "INSERT INTO sync_parked (op_seq, table_name, row_id, kind) VALUES (999, 'skills', 'x', 'update')"
            )
        )
        session.commit()
        assert count_pending(session) == 4
        assert count_parked(session) == 2  # one marked in the outbox (and detailed), one only in sync_parked
        assert [op.op_seq for op in pending_ops(session, limit=2)] == [ops[0].op_seq, ops[2].op_seq]
        due = pending_ops(session, due_at="2026-01-01T00:00:00.000000+00:00")
        assert ops[0].op_seq not in [op.op_seq for op in due] and len(due) == 3
        assert [op.kind for op in ops_for_row(session, "skills", ops[3].row_id)] == ["insert"]
