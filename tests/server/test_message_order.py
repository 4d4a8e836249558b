"""messages.seq on the server: the client's order is stored as sent, kept on every UPDATE (no device and
no replay can reorder a thread), filled in for an older client that sends none, and backfilled from
created_at exactly as the local migration v6 does, without restamping anything."""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg.rows import dict_row

from local_schema.timestamps import to_micros
from standin.impersonate import ApiSession, create_auth_user
from standin.schema import (
    MIGRATION_HISTORY_SQL,
    SCAFFOLDING_SQL,
    _run_file,
    _run_migration,
    migration_files,
)
from tests.server.rows import insert, patch

ORDER_MIGRATION = "20261130100000_message_order.sql"


@pytest.fixture
def thread(alice):
    return alice, insert(alice, "conversations", title="t")


def test_the_clients_seq_is_stored_and_kept_on_update(thread):
    alice, conversation = thread
    row = insert(alice, "messages", conversation_id=conversation["id"], role="user", content="q", seq=42)
    assert row["seq"] == 42
    same = patch(alice, "messages", row["id"], seq=7)  # only seq: nothing changes, not even the stamp
    assert (same["seq"], same["updated_at"]) == (42, row["updated_at"])
    edited = patch(alice, "messages", row["id"], seq=7, content="q, edited")
    assert edited["seq"] == 42 and edited["updated_at"] > row["updated_at"]


def test_an_older_client_that_sends_no_seq_gets_the_servers_clock(thread):
    alice, conversation = thread
    before = time.time_ns() // 1000
    row = insert(alice, "messages", conversation_id=conversation["id"], role="user", content="old client")
    assert before - 5_000_000 <= row["seq"] <= time.time_ns() // 1000 + 5_000_000


def test_seq_must_be_positive(thread):
    alice, conversation = thread
    with pytest.raises(psycopg.errors.CheckViolation):
        insert(alice, "messages", conversation_id=conversation["id"], role="user", content="x", seq=0)


def test_existing_messages_are_backfilled_from_created_at_without_a_new_stamp(pg_cluster):
    name = "message_order_backfill"
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    dsn = pg_cluster.dsn(name)
    earlier = [p for p in migration_files() if p.name < ORDER_MIGRATION]
    with psycopg.connect(dsn, autocommit=True) as conn:
        _run_file(conn, SCAFFOLDING_SQL)
        conn.execute(MIGRATION_HISTORY_SQL)
        for path in earlier:
            _run_migration(conn, path)
    user = create_auth_user(dsn)
    with ApiSession(dsn, user) as alice:
        conversation = insert(alice, "conversations", title="before the upgrade")
        for i in range(3):
            insert(alice, "messages", conversation_id=conversation["id"], role="user", content=f"m{i}")
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("set timezone = 'UTC'")
        before = conn.execute("select id, created_at::text, updated_at::text from public.messages").fetchall()
        _run_migration(conn, next(p for p in migration_files() if p.name == ORDER_MIGRATION))
        after = {r["id"]: r for r in conn.execute(
            "select id, seq, created_at::text, updated_at::text from public.messages").fetchall()}
    assert len(before) == 3
    for row in before:
        migrated = after[row["id"]]
        assert migrated["updated_at"] == row["updated_at"]  # no device pulls the thread again
        stamp = row["created_at"].replace(" ", "T")
        assert migrated["seq"] == to_micros(stamp + ("" if stamp[-3] == ":" else ":00"))
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'drop database "{name}" with (force)')
