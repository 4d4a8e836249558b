"""sync_heads(): each table's newest updated_at for the caller, under RLS, so an idle sync is one request."""

from __future__ import annotations

from datetime import datetime

import pytest
from psycopg import errors

from local_schema.models import SYNCED_TABLES
from tests.server.rows import make, patch


def heads(session) -> dict:
    return session.one("select public.sync_heads() as heads")["heads"]


def stamp(value) -> datetime:
    return datetime.fromisoformat(value)


def test_heads_are_null_for_a_new_user_and_name_every_synced_table(alice):
    assert heads(alice) == dict.fromkeys(SYNCED_TABLES)


def test_each_head_is_the_newest_stamp_of_the_callers_rows_and_moves_with_every_write(alice, bob):
    message = make(alice, "messages")
    task = make(alice, "tasks")
    make(bob, "messages")  # another user's rows never move alice's heads
    make(bob, "skills")
    got = heads(alice)
    assert stamp(got["messages"]) == message["updated_at"]
    assert stamp(got["tasks"]) == task["updated_at"]
    assert stamp(got["conversations"]) < message["updated_at"]  # the message's parent, made just before it
    assert got["skills"] is None and got["templates"] is None
    # An update and a tombstone are writes too: the head follows them.
    edited = patch(alice, "messages", message["id"], content="edited")
    assert stamp(heads(alice)["messages"]) == edited["updated_at"]
    gone = patch(alice, "tasks", task["id"], deleted_at="now")
    assert stamp(heads(alice)["tasks"]) == gone["updated_at"]
    # An update that changes nothing keeps the stamp, so the head does not move (no echo churn).
    before = heads(alice)
    patch(alice, "messages", message["id"], content="edited")
    assert heads(alice) == before


def test_other_authors_public_templates_do_not_move_the_callers_head(alice, bob):
    make(bob, "templates", is_public=True)
    assert heads(alice)["templates"] is None  # RLS lets alice read it; its stamp is bob's clock
    mine = make(alice, "templates")
    assert stamp(heads(alice)["templates"]) == mine["updated_at"]


def test_anon_may_not_call_it(as_user):
    anon = as_user(None, role="anon")
    with pytest.raises(errors.InsufficientPrivilege):
        heads(anon)


def test_it_runs_with_the_callers_rights(server_db):
    import psycopg

    with psycopg.connect(server_db) as conn:
        row = conn.execute("select prosecdef, provolatile from pg_proc where proname = 'sync_heads'").fetchone()
    assert row == (False, "s")  # security invoker (RLS applies), stable
