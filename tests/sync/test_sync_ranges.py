"""A big pull fetched several pages at once (sync_page_bounds + ranges): every row exactly once, in order,
whatever changes meanwhile, whatever the bounds say, and page by page from a server without them.

Pages of 50 rows (instead of 1,000) make a few hundred rows a big pull."""

from __future__ import annotations

import threading
import time

import pytest

from sync.errors import Kind, RequestFailed
from sync.pages import page_params
from sync.stamps import server_stamp
from tests.sync.helpers import seed_thread, server_rows

PAGE = 50


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    from sync import pull

    monkeypatch.setattr(pull, "PAGE_SIZE", PAGE)


class Log:
    """Every GET of messages and every bounds call a device's REST client makes, with when it ran."""

    def __init__(self, rest, before_get=None):
        self.gets: list[tuple[dict, float, float]] = []
        self.bounds: list[dict] = []
        self.lock = threading.Lock()
        plain_select, plain_rpc = rest.select, rest.rpc

        def select(table, params):
            started = time.monotonic()
            if table == "messages" and before_get is not None:
                before_get(params)
            rows = plain_select(table, params)
            if table == "messages":
                with self.lock:
                    self.gets.append((params, started, time.monotonic()))
            return rows

        def rpc(function, args=None):
            if function == "sync_page_bounds":
                with self.lock:
                    self.bounds.append(args)
            return plain_rpc(function, args)

        rest.select, rest.rpc = select, rpc

    def ranged(self) -> list[tuple[dict, float, float]]:
        return [g for g in self.gets if "lte" in g[0].get("and", "")]


def same_as_server(device, stack, user_id) -> None:
    everything = server_rows(stack, "messages", user_id)
    server = {str(r["id"]): r for r in everything if r["deleted_at"] is None}  # a tombstone deletes here
    local = device.rows("messages")
    assert set(local) == set(server)
    for row_id, row in server.items():
        assert local[row_id]["content"] == row["content"]
        assert server_stamp(local[row_id]["updated_at"]) == row["updated_at"]
    cursor = device.scalar("SELECT cursor FROM sync_cursors WHERE table_name = 'messages'")
    assert server_stamp(cursor) == max(r["updated_at"] for r in everything)


def test_ranges_are_fetched_at_once_and_committed_in_order_with_their_cursor(devices, api, supabase_stack, user):
    seed_thread(api, 1000)  # 20 pages
    b = devices("b")
    log = Log(b.engine.rest())
    supabase_stack.faults.delay("GET", "/rest/v1/messages", 0.03)  # so that requests in flight overlap
    mismatches = []

    def on_commit(tables, origin):
        if origin == "sync" and "messages" in tables:
            cursor = b.scalar("SELECT cursor FROM sync_cursors WHERE table_name = 'messages'")
            newest = b.scalar("SELECT max(updated_at) FROM messages")
            if cursor != newest:
                mismatches.append((cursor, newest))

    b.db.add_change_listener(on_commit)
    result = b.sync()
    supabase_stack.faults.clear()
    assert result.pulled == 1001 and mismatches == []
    assert b.scalar("SELECT count(*) FROM messages") == 1000
    same_as_server(b, supabase_stack, user[2])
    assert len(log.bounds) == 1 and log.bounds[0]["page_rows"] == PAGE
    ranged = log.ranged()
    assert len(ranged) >= 15  # everything after the first pages came as ranges
    overlapping = sum(1 for i, (_, s1, e1) in enumerate(ranged) for _, s2, e2 in ranged[i + 1:] if s2 < e1 and s1 < e2)
    assert overlapping >= 5  # several in flight at once
    assert len(log.gets) <= 20 + 2  # a range is one request (plus the short last page)


def test_rows_written_while_the_ranges_are_fetched_arrive_in_their_last_version(devices, api, supabase_stack, user):
    seed_thread(api, 600)
    b = devices("b")
    ids = [str(r["id"]) for r in sorted(server_rows(supabase_stack, "messages", user[2]), key=lambda r: r["updated_at"])]
    done = []

    def meanwhile(params):
        # At the first range: rows of ranges already fetched, of this one and of later ones change, some
        # are deleted, new ones come — all of them now stamped after every bound.
        if done or "lte" not in params.get("and", ""):
            return
        done.append(True)
        with api.tx() as cur:
            cur.execute("update public.messages set content = content || ' (edited)' where id = any(%s)",
                        (ids[10:600:37],))
            cur.execute("update public.messages set deleted_at = now() where id = any(%s)", (ids[5:600:101],))
            cur.execute("insert into public.messages (conversation_id, role, content) "
                        "select conversation_id, 'user', 'late ' || i from public.messages, generate_series(1, 7) i "
                        "where id = %s", (ids[0],))

    Log(b.engine.rest(), before_get=meanwhile)
    b.sync()
    assert done
    same_as_server(b, supabase_stack, user[2])  # in one cycle: the moved rows were walked after the ranges
    assert b.sync().pulled == 0


@pytest.mark.parametrize("every", [3, None])
def test_bounds_that_are_wrong_cost_requests_never_rows(devices, api, supabase_stack, user, monkeypatch, every):
    """Too few bounds (ranges of 150 rows: read on past a full page) or too many (ranges of 20 rows: short
    pages that are not the end)."""
    from sync.pull import Puller

    seed_thread(api, 700)
    real = Puller._bounds

    def wrong(self, table, after):
        if every is not None:
            found = real(self, table, after)
            return found[every - 1::every] if found else found
        found = self.rest.rpc("sync_page_bounds", {"tbl": table, "after_stamp": after, "page_rows": 20})
        return found or None

    monkeypatch.setattr(Puller, "_bounds", wrong)
    b = devices("b")
    log = Log(b.engine.rest())
    result = b.sync()
    assert result.pulled == 701
    same_as_server(b, supabase_stack, user[2])
    assert log.ranged()


def test_bounds_that_make_no_sense_are_not_used(devices, api, supabase_stack, user, monkeypatch):
    from sync.pull import Puller

    seed_thread(api, 300)
    b = devices("b")
    rest = b.engine.rest()
    real_rpc = rest.rpc
    answers = iter([["not a stamp"], ["2026-01-02T00:00:00+00:00", "2026-01-01T00:00:00+00:00"],
                    {"bounds": 1}, ["1999-01-01T00:00:00+00:00"]])  # bad, backwards, not a list, before cursor

    def rpc(function, args=None):
        return next(answers, None) if function == "sync_page_bounds" else real_rpc(function, args)

    rest.rpc = rpc
    puller = Puller(b.db, rest, user[2], b.engine.remote_tx, lambda _m: None)
    after = "2026-11-30T12:00:00+00:00"
    assert [puller._bounds("messages", after) for _ in range(4)] == [None] * 4
    log = Log(rest)
    assert b.sync().pulled == 301
    same_as_server(b, supabase_stack, user[2])
    assert log.ranged() == []  # page by page


def test_a_server_without_the_function_is_pulled_page_by_page(devices, api, supabase_stack, user):
    seed_thread(api, 400)
    supabase_stack.faults.fail_next("POST", "/rest/v1/rpc/sync_page_bounds", 404,
                                    {"code": "PGRST202", "message": "Could not find the function"}, times=10)
    b = devices("b")
    log = Log(b.engine.rest())
    result = b.sync()
    supabase_stack.faults.clear()
    assert result.pulled == 401
    same_as_server(b, supabase_stack, user[2])
    assert len(log.bounds) == 1 and log.ranged() == []  # asked once, then page by page


def test_a_range_that_fails_keeps_what_came_before_it_and_the_next_cycle_finishes(devices, api, supabase_stack, user):
    seed_thread(api, 800)
    b = devices("b")
    calls = []

    def fail_once(params):
        if "lte" in params.get("and", ""):
            calls.append(True)
            if len(calls) == 4:
                raise RequestFailed(Kind.TRANSIENT, None, None, "connection reset")

    Log(b.engine.rest(), before_get=fail_once)
    first = b.sync(expect_state=None)
    assert first.state == "offline"
    stored = b.scalar("SELECT count(*) FROM messages")
    cursor = b.scalar("SELECT cursor FROM sync_cursors WHERE table_name = 'messages'")
    assert 0 < stored < 800
    # What was committed is exactly the rows up to the cursor: a prefix, never a hole.
    server = server_rows(supabase_stack, "messages", user[2])
    assert stored == sum(1 for r in server if r["updated_at"] <= server_stamp(cursor))
    b.sync()
    same_as_server(b, supabase_stack, user[2])


def test_the_range_filter_keeps_the_adopted_ranges_out_too():
    params = page_params(("id", "updated_at"), "user_id", "u", "2026-11-30T12:00:00+00:00", 1000,
                         [("2026-11-30T12:00:01+00:00", "2026-11-30T12:00:02+00:00")],
                         upto="2026-11-30T12:00:05+00:00")
    assert params["updated_at"] == "gt.2026-11-30T12:00:00+00:00"
    assert params["and"] == ('(updated_at.lte."2026-11-30T12:00:05+00:00",'
                             'or(updated_at.lt."2026-11-30T12:00:01+00:00",updated_at.gt."2026-11-30T12:00:02+00:00"))')
