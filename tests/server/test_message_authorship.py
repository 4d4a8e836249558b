"""messages.agent_connection_id and messages.model (20261206100100_message_authorship.sql): what wrote
each reply, bounded, kept when the connection is deleted, backfilled from the thread's connection without
restamping anything; row-level security unchanged."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors
from psycopg.rows import dict_row

from standin.impersonate import ApiSession, create_auth_user
from standin.schema import (
    MIGRATION_HISTORY_SQL,
    SCAFFOLDING_SQL,
    _run_file,
    _run_migration,
    migration_files,
)
from tests.server.rows import get, insert, make, patch

AUTHORSHIP_MIGRATION = "20261206100100_message_authorship.sql"


@pytest.fixture
def reply_of(alice):
    connection = make(alice, "agent_connections")
    conversation = make(alice, "conversations", agent_connection_id=connection["id"])

    def write(**values):
        return insert(alice, "messages", conversation_id=conversation["id"], role="assistant", content="r", **values)
    return connection, write


def test_a_reply_records_its_connection_and_model(alice, reply_of):
    connection, write = reply_of
    row = write(agent_connection_id=connection["id"], model="hermes3:8b")
    assert (row["agent_connection_id"], row["model"]) == (connection["id"], "hermes3:8b")
    assert make(alice, "messages")["model"] is None  # the user's own messages: nobody's


def test_the_model_name_is_bounded(reply_of):
    _, write = reply_of
    assert write(model="m" * 500)["model"] == "m" * 500
    with pytest.raises(errors.CheckViolation, match="messages_model_length"):
        write(model="m" * 501)


def test_deleting_the_connection_keeps_the_authorship(alice, reply_of):
    connection, write = reply_of
    row = write(agent_connection_id=connection["id"], model="hermes3")
    patch(alice, "agent_connections", connection["id"], deleted_at="now")
    kept = get(alice, "messages", row["id"])
    assert (kept["agent_connection_id"], kept["model"], kept["updated_at"]) == (
        connection["id"], "hermes3", row["updated_at"])  # nothing cascaded, nothing restamped
    late = write(agent_connection_id=connection["id"], model="hermes3")  # from a device that missed it
    assert late["agent_connection_id"] == connection["id"]


def test_authorship_changes_like_any_column_and_only_for_the_owner(alice, bob, reply_of):
    connection, write = reply_of
    row = write(agent_connection_id=connection["id"], model="a")
    edited = patch(alice, "messages", row["id"], model="b")
    assert edited["model"] == "b" and edited["updated_at"] > row["updated_at"]
    assert patch(bob, "messages", row["id"], model="bob's", agent_connection_id=str(uuid.uuid4())) is None
    assert get(bob, "messages", row["id"]) is None
    assert get(alice, "messages", row["id"]) == edited


def test_another_users_connection_id_reveals_and_changes_nothing(alice, bob, reply_of):
    _, write = reply_of
    bobs = make(bob, "agent_connections", model="bob-secret-model")
    row = write(agent_connection_id=bobs["id"], model="claimed")
    assert row["model"] == "claimed"  # only what alice sent; bob's connection is not read
    assert get(alice, "agent_connections", bobs["id"]) is None
    assert get(bob, "agent_connections", bobs["id"]) == bobs
    assert get(bob, "messages", row["id"]) is None


def test_existing_replies_are_attributed_to_their_threads_connection_without_a_new_stamp(pg_cluster):
    name = "message_authorship_backfill"
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    dsn = pg_cluster.dsn(name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            _run_file(conn, SCAFFOLDING_SQL)
            conn.execute(MIGRATION_HISTORY_SQL)
            for path in migration_files():
                if path.name < AUTHORSHIP_MIGRATION:
                    _run_migration(conn, path)
        user = create_auth_user(dsn)
        with ApiSession(dsn, user) as alice:
            live = make(alice, "agent_connections", model="hermes3")
            gone = make(alice, "agent_connections", model="old-model")
            bound = make(alice, "conversations", agent_connection_id=live["id"])
            orphaned = make(alice, "conversations", agent_connection_id=gone["id"])
            unbound = make(alice, "conversations")
            rows = {
                "reply": make(alice, "messages", conversation_id=bound["id"], role="assistant", content="r"),
                "question": make(alice, "messages", conversation_id=bound["id"], role="user", content="q"),
                "orphan": make(alice, "messages", conversation_id=orphaned["id"], role="assistant", content="o"),
                "unbound": make(alice, "messages", conversation_id=unbound["id"], role="assistant", content="u"),
            }
            patch(alice, "agent_connections", gone["id"], deleted_at="now")  # nulls orphaned's reference
        with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
            before = {r["id"]: r["updated_at"] for r in conn.execute("select id, updated_at from public.messages")}
            _run_migration(conn, next(p for p in migration_files() if p.name == AUTHORSHIP_MIGRATION))
            after = {r["id"]: r for r in conn.execute(
                "select id, agent_connection_id, model, updated_at from public.messages")}
        authors = {k: (after[r["id"]]["agent_connection_id"], after[r["id"]]["model"]) for k, r in rows.items()}
        assert authors == {"reply": (live["id"], "hermes3"), "question": (None, None), "orphan": (None, None),
                           "unbound": (None, None)}
        assert {i: r["updated_at"] for i, r in after.items()} == before  # no device pulls them again
    finally:
        with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
            conn.execute(f'drop database "{name}" with (force)')
