"""updated_at is the sync cursor: unique and commit-ordered per user, whatever the clock does, and a
pull `updated_at > cursor` is an index range scan that never skips a committed row — including the
long-transaction case that a plain now() stamp gets wrong."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time

import psycopg
import pytest

from standin.impersonate import ApiSession
from tests.server.rows import MINIMAL, OWNER, insert, make, patch

PULL = ("select id, updated_at from public.{table} where updated_at > %s"
        " order by updated_at limit 1000")


def test_writes_in_one_transaction_get_distinct_increasing_stamps(alice):
    with alice.tx() as cur:
        stamps = []
        for i in range(20):
            cur.execute("insert into public.tasks (title) values (%s) returning updated_at", [f"t{i}"])
            stamps.append(cur.fetchone()["updated_at"])
        cur.execute("update public.tasks set status = 'done' returning updated_at")
        stamps += sorted(r["updated_at"] for r in cur.fetchall())
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


def test_stamps_keep_increasing_when_the_clock_goes_back(server_db, alice, bob):
    """Simulate a server clock stepped back by a day: the user's last stamp lies in the 'future'."""
    make(alice, "tasks")
    with psycopg.connect(server_db, autocommit=True) as conn:
        future = conn.execute("update mirari_private.sync_clock set last_stamp = now() + interval '1 day'"
                              " where user_id = %s returning last_stamp", [alice.user_id]).fetchone()[0]
    stamps = [make(alice, "tasks")["updated_at"] for _ in range(3)]
    assert stamps[0] == future + dt.timedelta(microseconds=1)
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    # Another user's clock is independent.
    assert make(bob, "tasks")["updated_at"] < future


def test_stamps_are_unique_across_a_users_tables(alice):
    rows = [make(alice, table) for table in MINIMAL]
    stamps = [r["updated_at"] for r in rows]
    assert len(set(stamps)) == len(stamps)


def _plan(session: ApiSession, query: str, params) -> str:
    with session.tx(read_only=True) as cur:
        # Plan as on SSD storage, where hosted Postgres is usually tuned near random_page_cost = 1.1: the
        # throwaway cluster's 4.0 (spinning disks) made the RLS-only form, planned without knowing
        # auth.uid(), flip to a sequential scan on some ANALYZE samples. (The client also always sends the
        # owner as a literal: sync.pages.page_params.)
        cur.execute("set local random_page_cost = 1.1")
        cur.execute("explain (format json) " + query, params)
        return json.dumps(cur.fetchone()["QUERY PLAN"])


def _bulk_rows(server_db: str, table: str, owner_id: str, count: int) -> None:
    """Many rows for one owner in one statement, through the real trigger (as the superuser)."""
    values = {OWNER.get(table, "user_id"): owner_id, **MINIMAL[table]}
    with psycopg.connect(server_db, autocommit=True) as conn:
        if table in ("messages", "attachments"):
            values["conversation_id"] = conn.execute(
                "insert into public.conversations (user_id) values (%s) returning id", [owner_id]).fetchone()[0]
        if table == "attachments":  # one message; each row's object path is its owner's folder + its id
            message = conn.execute("insert into public.messages (user_id, conversation_id, role, content)"
                                   " values (%s, %s, 'user', 'x') returning id",
                                   [owner_id, values.pop("conversation_id")]).fetchone()[0]
            conn.execute("insert into public.attachments (id, user_id, message_id, name, mime_type, size, sha256,"
                         " storage_path) select g.id, %s, %s, %s, %s, %s, %s, %s || '/' || g.id"
                         " from (select gen_random_uuid() as id from generate_series(1, %s)) g",
                         [owner_id, message, values["name"], values["mime_type"], values["size"], values["sha256"],
                          owner_id, count])
            return
        conn.execute(f"insert into public.{table} ({', '.join(values)})"
                     f" select {', '.join(['%s'] * len(values))} from generate_series(1, %s)",
                     [*(json.dumps(v) if isinstance(v, dict) else v for v in values.values()), count])


@pytest.mark.parametrize("table", list(MINIMAL))
def test_pull_is_an_index_range_scan(server_db, alice, bob, make_user, table):
    for user_id in (alice.user_id, bob.user_id, make_user()):
        _bulk_rows(server_db, table, user_id, 3000)
    with psycopg.connect(server_db, autocommit=True) as conn:
        conn.execute(f"analyze public.{table}")
    owner = OWNER.get(table, "user_id")
    # PostgREST sends the owner filter as a literal: ?user_id=eq.<uuid>
    explicit = PULL.format(table=table).replace("where", f"where {owner} = '{alice.user_id}' and")
    index = f"{table}_owner_updated_at"
    # A first sync (cursor -infinity) and an incremental one (all but the newest 30 rows pulled).
    recent = alice.all(f"select updated_at from public.{table} where {owner} = auth.uid()"
                       " order by updated_at offset 2969 limit 1")[0]["updated_at"]
    # As the client sends it (RLS adds the owner filter) and with the owner filter spelled out. Templates
    # must be pulled with the explicit filter: RLS also shows other authors' public templates, whose
    # stamps follow their authors' clocks, not this user's.
    for query in [explicit] if table == "templates" else [PULL.format(table=table), explicit]:
        for cursor in ("-infinity", recent):
            plan = _plan(alice, query, [cursor])
            assert f'"Index Name": "{index}"' in plan, plan
            assert '"Seq Scan"' not in plan, plan
            # Templates' select policy ORs in the public catalogue, so the planner may bitmap-scan the
            # same index range and sort the page; attachments' rows are wide (a hash and a path: twice the
            # heap pages of messages), so when its estimate of the rows past the cursor is high it may do the
            # same (a sort of at most one page's candidates). Every other table streams it in index order.
            assert table in ("templates", "attachments") or '"Node Type": "Sort"' not in plan, plan
            assert '"Index Cond"' in plan and "updated_at >" in plan and f"{owner} =" in plan, plan
    assert len(alice.all(explicit, ["-infinity"])) == 1000
    rows = alice.all(explicit, [recent])
    assert len(rows) == 30 and all(r["updated_at"] > recent for r in rows)


def _wait_until_blocked(server_db: str, pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(server_db, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("select wait_event_type from pg_stat_activity where pid = %s", [pid]).fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} never waited on a lock")


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_long_transaction_rows_are_never_skipped(server_db, alice, as_user, outcome):
    """tx1 writes X and stays open; tx2 (same user) writes Y and must wait for tx1; a reader takes its
    cursor meanwhile. Once tx1 ends and tx2 commits, `updated_at > cursor` returns every row committed
    after the cursor was taken — X (if tx1 committed) and Y, in commit order."""
    earlier = make(alice, "tasks", title="earlier")
    slow, fast, reader = alice, as_user(alice.user_id), as_user(alice.user_id)
    y_result: dict = {}

    def write_y():
        try:
            y_result["row"] = insert(fast, "tasks", title="Y")
        except BaseException as exc:  # surfaced by the assertion below
            y_result["error"] = exc

    writer = threading.Thread(target=write_y)
    ending = pytest.raises(RuntimeError) if outcome == "rollback" else contextlib.nullcontext()
    with ending, slow.tx() as tx1:
        tx1.execute("insert into public.tasks (title) values ('X') returning id, updated_at")
        x = tx1.fetchone()
        time.sleep(0.01)  # so that Y's clock reading is clearly later than X's
        writer.start()
        _wait_until_blocked(server_db, fast.conn.info.backend_pid)
        assert writer.is_alive()
        cursor = reader.one("select max(updated_at) as c from public.tasks")["c"]
        assert cursor == earlier["updated_at"]  # X is invisible, Y is not written yet
        if outcome == "rollback":
            raise RuntimeError("tx1 rolls back")
    writer.join(10)
    assert not writer.is_alive() and "error" not in y_result, y_result
    y = y_result["row"]

    pulled = reader.all(PULL.format(table="tasks"), [cursor])
    expected = [x["id"], y["id"]] if outcome == "commit" else [y["id"]]
    assert [r["id"] for r in pulled] == expected
    if outcome == "commit":
        assert x["updated_at"] < y["updated_at"]
    # Nothing further to pull after the new cursor.
    assert reader.all(PULL.format(table="tasks"), [pulled[-1]["updated_at"]]) == []


def test_concurrent_writers_of_one_user_get_commit_ordered_unique_stamps(server_db, alice):
    """Four connections hammer one user; per-user stamps stay unique and every row is pulled once."""
    sessions = [ApiSession(server_db, alice.user_id) for _ in range(4)]
    errors_seen: list[BaseException] = []

    def work(session, n):
        try:
            for i in range(25):
                row = make(session, "memory_nodes", label=f"{n}-{i}")
                patch(session, "memory_nodes", row["id"], strength=0.6)
        except BaseException as exc:
            errors_seen.append(exc)

    threads = [threading.Thread(target=work, args=(s, n)) for n, s in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in sessions:
        s.close()
    assert not errors_seen
    pulled, cursor = [], "-infinity"
    while page := alice.all(PULL.replace("limit 1000", "limit 7").format(table="memory_nodes"), [cursor]):
        pulled += page
        cursor = page[-1]["updated_at"]
    assert len(pulled) == len({r["id"] for r in pulled}) == 100
