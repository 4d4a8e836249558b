"""sync_page_bounds(): the stamp of every n-th row of a synced table after a cursor, for the caller, under
RLS, so a client can fetch the pages of a big pull at the same time."""

from __future__ import annotations

from datetime import datetime

import pytest
from psycopg import errors

from tests.server.rows import make, patch


def bounds(session, table: str, after=None, page_rows: int = 1000, max_pages: int = 1000) -> list[datetime]:
    got = session.one("select public.sync_page_bounds(%s, %s, %s, %s) as b", (table, after, page_rows, max_pages))["b"]
    return [datetime.fromisoformat(s) for s in got]


def stamps(session, table: str) -> list[datetime]:
    return [r["updated_at"] for r in session.all(f"select updated_at from public.{table} order by updated_at")]


def test_every_nth_stamp_after_the_cursor_oldest_first(alice, bob):
    conversation = make(alice, "conversations")
    for i in range(11):
        make(alice, "messages", conversation_id=conversation["id"], content=f"m{i}")
        make(bob, "messages", content=f"bob {i}")  # interleaved: another user's rows are never counted
    mine = stamps(alice, "messages")
    assert len(mine) == 11
    assert bounds(alice, "messages", page_rows=3) == [mine[2], mine[5], mine[8]]
    assert bounds(alice, "messages", after=mine[2], page_rows=3) == [mine[5], mine[8]]
    assert bounds(alice, "messages", after=mine[3], page_rows=4) == [mine[7]]
    assert bounds(alice, "messages", after=mine[-1]) == []
    assert bounds(alice, "messages", page_rows=1, max_pages=4) == mine[:4]  # at most max_pages bounds
    assert bounds(alice, "messages", page_rows=11) == [mine[-1]]


def test_the_answer_is_json_text_a_pull_can_send_back(alice):
    message = make(alice, "messages")
    raw = alice.one("select public.sync_page_bounds('messages', null, 1) as b")["b"]
    assert isinstance(raw[0], str) and "T" in raw[0]  # the same ISO form as the rows' updated_at in JSON
    assert datetime.fromisoformat(raw[0]) == message["updated_at"]


def test_an_update_moves_the_row_past_every_bound(alice):
    rows = [make(alice, "tasks", title=f"t{i}") for i in range(4)]
    before = bounds(alice, "tasks", page_rows=2)
    patch(alice, "tasks", rows[0]["id"], title="edited")
    after = bounds(alice, "tasks", page_rows=2)
    assert after[0] > before[0] and after[-1] > before[-1]  # ranges lose rows to later stamps, never gain any


def test_other_authors_public_templates_are_not_counted(alice, bob):
    make(bob, "templates", is_public=True)
    assert bounds(alice, "templates", page_rows=1) == []  # RLS lets alice read it; it is not hers to pull
    make(alice, "templates")
    assert len(bounds(alice, "templates", page_rows=1)) == 1


@pytest.mark.parametrize("table", ["pg_roles", "sync_clock", "no_such_table", "messages; drop table tasks"])
def test_only_a_synced_table_may_be_named(alice, table):
    with pytest.raises(errors.UndefinedTable):
        bounds(alice, table)


@pytest.mark.parametrize("page_rows, max_pages", [(0, 10), (-1, 10), (100001, 10), (10, 0), (10, 10001)])
def test_sizes_out_of_range_are_refused(alice, page_rows, max_pages):
    with pytest.raises(errors.InvalidParameterValue):
        bounds(alice, "messages", page_rows=page_rows, max_pages=max_pages)


def test_anon_may_not_call_it(as_user):
    anon = as_user(None, role="anon")
    with pytest.raises(errors.InsufficientPrivilege):
        bounds(anon, "messages")


def test_it_runs_with_the_callers_rights(server_db):
    import psycopg

    with psycopg.connect(server_db) as conn:
        row = conn.execute("select prosecdef, provolatile from pg_proc where proname = 'sync_page_bounds'").fetchone()
    assert row == (False, "s")  # security invoker (RLS applies), stable
