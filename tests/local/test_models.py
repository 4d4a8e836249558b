"""Every synced model round-trips through a real file, and the models match the migrated schema."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from sqlalchemy import JSON, Boolean, Float, Integer, String, TypeDecorator, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from local_schema.database import open_database
from local_schema.models import (
    CLIENT_COLUMNS,
    INSERT_ONLY_COLUMNS,
    LOCAL_ONLY_MODELS,
    MODELS_BY_TABLE,
    SERVER_MANAGED_COLUMNS,
    SYNCED_MODELS,
    AgentConnection,
    ConnectionCheck,
    Conversation,
    MemoryNode,
    Message,
    MirrorReport,
    Skill,
    Task,
    Template,
    all_columns,
    captured_columns,
)

SERVER_STAMP = "2024-05-01T12:00:00.123456+00:00"  # as PostgREST renders a timestamptz
TRIMMED_STAMP = "2024-05-01T12:00:00.1+00:00"  # PostgreSQL also trims trailing zeros: kept verbatim


def _graph():
    conn = AgentConnection(
        name="Hermes · Local",
        provider="hermes",
        base_url="http://localhost:11434/v1",
        model="hermes3",
        system_prompt="Be brief.",
        created_at=SERVER_STAMP,
        updated_at=TRIMMED_STAMP,
    )
    conv = Conversation(agent_connection_id=conn.id, title="Ünïcødé ✶ thread", temperature=0.25, max_tokens=512,
                        stop_sequences=["\n\nUser:", "✶"], system_addition="Answer in French.",
                        active_leaf_id=str(uuid.uuid4()))
    return [
        conn,
        conv,
        Message(conversation_id=conv.id, role="assistant", content="hello\nworld", deleted_at=SERVER_STAMP,
                seq=1714564800123456, parent_id=None, status="error", error="502 Bad Gateway"),
        MemoryNode(
            label="likes tea", category="preference", strength=0.8125, last_referenced_at=SERVER_STAMP
        ),
        Skill(name="summarise", score=0.3333333333333333, version=7, template_prompt="Summarise."),
        MirrorReport(
            agent_connection_id=conn.id,
            strengths=["clear", {"nested": [1, 2.5, None, True]}],
            weaknesses=[],
            recommendations=["ask more"],
            suggested_prompt="Ask first.",
        ),
        Task(connection_id=conn.id, title="write docs", status="in_progress"),
        Template(
            name="starter",
            payload={"skills": [{"name": "x"}], "seed_memory": [{"label": "y", "strength": 0.5}]},
            installs=3,
            is_public=True,
            author_id=str(uuid.uuid4()),
        ),
    ]


def test_every_model_round_trips_unchanged(db_path):
    originals = _graph()
    expected = {type(obj): obj.model_dump() for obj in originals}
    db = open_database(db_path)
    with db.session() as session:
        session.add_all(originals)
        session.commit()
    db.close()
    db = open_database(db_path)  # a fresh engine: values come from the file, not an identity map
    try:
        with db.session() as session:
            for model, values in expected.items():
                loaded = session.exec(select(model)).one()
                assert loaded.model_dump() == values, model.__name__
                assert type(loaded.model_dump()["id"]) is str
    finally:
        db.close()


def test_defaults_follow_the_seed(db):
    with db.session() as session:
        conn = AgentConnection(name="c", provider="custom", base_url="", model="")
        node = MemoryNode(label="fact")
        skill = Skill(name="s")
        report = MirrorReport()
        task = Task(title="t")
        template = Template(name="t", payload={"skills": [], "seed_memory": []})
        session.add_all([conn, node, skill, report, task, template])
        session.commit()
        assert (conn.status, conn.user_id, conn.deleted_at) == ("offline", None, None)
        assert (node.strength, node.last_referenced_at) == (0.5, None)
        assert (skill.status, skill.score, skill.version) == ("suggested", 0.0, 1)
        assert (report.strengths, report.weaknesses, report.recommendations) == ([], [], [])
        assert task.status == "pending"
        assert (template.installs, template.is_public, template.author_id) == (0, False, None)
        assert str(uuid.UUID(conn.id)) == conn.id and uuid.UUID(conn.id).version == 4
        assert len(conn.created_at) == len(SERVER_STAMP) and conn.created_at.endswith("+00:00")


@pytest.mark.parametrize(
    "make",
    [
        lambda: Template(name="t", payload=None),
        lambda: Task(title=None),
    ],
)
def test_none_in_a_required_column_is_refused_not_stored(db, make):
    with db.session() as session:
        session.add(make())
        with pytest.raises(IntegrityError, match="NOT NULL"):
            session.commit()
        session.rollback()
        assert session.execute(text("SELECT count(*) FROM sync_outbox")).scalar() == 0


def test_none_in_a_json_list_column_never_becomes_json_null_text(db):
    with db.session() as session:
        session.add(MirrorReport(strengths=None))
        session.commit()
        # The ORM leaves a None column out of the INSERT, so the schema default applies.
        assert session.execute(text("SELECT strengths FROM mirror_reports")).scalar() == "[]"


def test_raw_sql_insert_gets_the_same_defaults(db, db_path):
    raw = sqlite3.connect(db_path)
    raw.execute("INSERT INTO tasks (title) VALUES ('by hand')")
    raw.commit()
    raw.close()
    with db.session() as session:
        task = session.exec(select(Task)).one()
    assert uuid.UUID(task.id).version == 4 and task.id == task.id.lower()
    assert task.status == "pending"
    assert len(task.created_at) == len(SERVER_STAMP) and task.created_at.endswith("000+00:00")


def test_connection_check_is_local_state_not_captured_and_follows_its_connection(db):
    with db.session() as session:
        conn = AgentConnection(name="c", provider="custom", base_url="", model="")
        session.add(conn)
        session.flush()
        session.add(ConnectionCheck(connection_id=conn.id, status="error", error="401 bad key"))
        session.commit()
        captured = session.execute(text("SELECT table_name FROM sync_outbox")).scalars().all()
        assert captured == ["agent_connections"]
        session.delete(conn)
        session.commit()
        assert session.exec(select(ConnectionCheck)).all() == []


def test_column_classification():
    assert [m.__tablename__ for m in SYNCED_MODELS] == [
        "agent_connections",
        "conversations",
        "messages",
        "attachments",
        "memory_nodes",
        "skills",
        "mirror_reports",
        "tasks",
        "templates",
        "dream_reports",
    ]
    assert SERVER_MANAGED_COLUMNS["templates"] == ("created_at", "updated_at", "author_id", "deleted_at")
    assert CLIENT_COLUMNS["messages"] == ("id", "conversation_id", "role", "content", "seq", "agent_connection_id",
                                          "model", "parent_id", "status", "error", "tool_calls", "tool_call_id")
    assert "seq" not in captured_columns("messages")  # insert-only: the server keeps the first value
    assert "parent_id" not in captured_columns("messages")  # insert-only too: a message never moves in its tree
    assert {"active_leaf_id", "temperature", "max_tokens", "stop_sequences", "system_addition"} <= set(
        captured_columns("conversations"))
    assert "system_prompt" in CLIENT_COLUMNS["agent_connections"]
    assert "last_referenced_at" in CLIENT_COLUMNS["memory_nodes"]
    for table, model in MODELS_BY_TABLE.items():
        assert set(CLIENT_COLUMNS[table]) | set(SERVER_MANAGED_COLUMNS[table]) == set(all_columns(model))
        assert "updated_at" in all_columns(model) and "deleted_at" in all_columns(model)
        assert set(captured_columns(table)) == (
            set(CLIENT_COLUMNS[table]) - {"id", *INSERT_ONLY_COLUMNS.get(table, ())}) | {"deleted_at"}


# --- the models and the migrated schema must not drift apart ---------------------------------------

_DECLARED = {String: "TEXT", Integer: "INTEGER", Float: "REAL", Boolean: "BOOLEAN", JSON: "TEXT"}


def _expected_type(column) -> str:
    column_type = column.type
    if isinstance(column_type, TypeDecorator):  # SQLModel's AutoString wraps String
        column_type = column_type.impl_instance
    for sa_type, declared in _DECLARED.items():
        if isinstance(column_type, sa_type):
            return declared
    raise AssertionError(f"unmapped column type {column.type!r} for {column}")


@pytest.mark.parametrize("model", [*SYNCED_MODELS, ConnectionCheck, *LOCAL_ONLY_MODELS], ids=lambda m: m.__tablename__)
def test_model_matches_migrated_table(db_path, model):
    open_database(db_path).close()
    raw = sqlite3.connect(db_path)
    try:
        info = {row[1]: row for row in raw.execute(f"PRAGMA table_info({model.__tablename__})")}
        fks = {
            row[3]: (row[2], row[4], row[6])
            for row in raw.execute(f"PRAGMA foreign_key_list({model.__tablename__})")
        }
    finally:
        raw.close()
    columns = {column.name: column for column in model.__table__.columns}
    assert set(info) == set(columns)
    for name, column in columns.items():
        _cid, _name, declared, notnull, _default, pk = info[name]
        assert declared == _expected_type(column), name
        assert bool(pk) == column.primary_key, name
        assert bool(notnull) == (not column.nullable), name
    model_fks = {
        fk.parent.name: (fk.column.table.name, fk.column.name, (fk.ondelete or "NO ACTION").upper())
        for fk in model.__table__.foreign_keys
    }
    assert fks == model_fks
