"""The first sync's writer path: pages of new rows in one plain INSERT each (no savepoint), the cursor written
once per transaction, the page check done a column at a time on the fetching threads, columns NULL in every
row written as literals, the cyclic collector off during a pull, replies parsed by orjson. None of it may
change what is stored or when the cursor moves."""

from __future__ import annotations

import gc
import os
import random
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from sync.dbutil import table_info
from sync.pull_rows import _all_clean, _first, insert_many, insert_statements, prepare
from sync.rest import RestClient, Rows
from sync.stamps import server_stamp
from tests.sync.helpers import seed_thread, server_rows

ROOT = Path(__file__).resolve().parents[2]


def seed_as_owner(stack, user_id: str, n: int) -> None:
    """Many messages fast: as the database owner (as bench/bench_sync.py seeds), in short threads (the
    server links each new message to the last one of its thread)."""
    with psycopg.connect(stack.db_url, autocommit=True) as conn:
        convs = [str(uuid.uuid4()) for _ in range(n // 100)]
        for c in convs:
            conn.execute("insert into public.conversations (id, user_id, title) values (%s, %s, 'bulk')", (c, user_id))
        conn.execute("insert into public.messages (user_id, conversation_id, role, content) "
                     "select %s, (%s::uuid[])[1 + i %% %s], 'assistant', 'reply number ' || i "
                     "from generate_series(1, %s) i", (user_id, convs, len(convs), n))
        conn.execute("analyze public.conversations, public.messages")


def read_only_count(path: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def exactly_the_servers(device, stack, user_id: str) -> None:
    server = {str(r["id"]): r for r in server_rows(stack, "messages", user_id)}
    local = device.rows("messages")
    assert set(local) == set(server)
    assert all(local[i]["content"] == r["content"] for i, r in server.items())
    cursor = device.scalar("SELECT cursor FROM sync_cursors WHERE table_name = 'messages'")
    assert server_stamp(cursor) == max(r["updated_at"] for r in server.values())
    assert device.scalar("SELECT count(*) FROM messages_fts_backlog") == 0
    assert device.scalar("SELECT count(*) FROM sync_meta WHERE key LIKE 'deferred_indexes:%'") == 0


class Crash(BaseException):
    """Stands for the process dying: nothing of the open transaction may be committed."""


def test_a_transaction_of_several_pages_cut_short_leaves_only_whole_transactions_and_their_cursor(
        devices, api, supabase_stack, user, monkeypatch):
    from sync import pull

    seed_thread(api, 600)
    monkeypatch.setattr(pull, "PAGE_SIZE", 100)
    monkeypatch.setattr(pull, "TX_ROWS", 300)  # three pages a transaction
    monkeypatch.setattr(pull, "TX_SECONDS", 60.0)
    monkeypatch.setattr(pull.Puller, "_bounds", lambda self, table, after: None)  # pages in order, one by one
    b = devices("b")
    plain_fetch, gets = pull.Puller._fetch, []

    def fetch(self, table, cursor, upto=None):
        if table == "messages":
            gets.append(cursor)
            if len(gets) == 5:  # pages 1-3 committed, page 4 in the open transaction
                raise Crash()
        return plain_fetch(self, table, cursor, upto)

    monkeypatch.setattr(pull.Puller, "_fetch", fetch)
    with pytest.raises(Crash):
        b.engine.run_cycle()
    stamps = sorted(r["updated_at"] for r in server_rows(supabase_stack, "messages", user[2]))
    assert b.scalar("SELECT count(*) FROM messages") == 300  # page 4 went with its transaction
    cursor = b.scalar("SELECT cursor FROM sync_cursors WHERE table_name = 'messages'")
    assert server_stamp(cursor) == stamps[299] == server_stamp(b.scalar("SELECT max(updated_at) FROM messages"))
    assert b.scalar("SELECT count(*) FROM messages_fts_backlog") == 300  # committed with them
    monkeypatch.setattr(pull.Puller, "_fetch", plain_fetch)
    result = b.sync()
    assert result.pulled == 300
    exactly_the_servers(b, supabase_stack, user[2])


def test_a_first_sync_killed_mid_way_resumes_exactly(devices, api, supabase_stack, user, file_keyring_env):
    """SIGKILL (TerminateProcess on Windows) while pages arrive several per transaction: only committed
    transactions are there, each with its cursor, and the next sync brings exactly the rest."""
    seed_as_owner(supabase_stack, user[2], 8_000)
    dev = devices("b")
    db_path = dev.engine.database().path
    dev.engine.close_database()
    supabase_stack.faults.delay("GET", "/rest/v1/messages", 0.3)  # a few pages per 0.5 s transaction
    env = {**os.environ, **file_keyring_env}
    proc = subprocess.Popen([sys.executable, "-m", "mirari", "--data-dir", str(dev.data_dir), "sync", "--json"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while read_only_count(db_path, "SELECT count(*) FROM messages") == 0:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        proc.kill()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = read_only_count(db_path, "SELECT count(*) FROM messages")
    assert 0 < partial < 8_000 and partial % 1000 == 0  # whole pages of committed transactions
    assert read_only_count(db_path, "SELECT count(*) FROM sync_cursors WHERE table_name = 'messages' "
                                    "AND cursor = (SELECT max(updated_at) FROM messages)") == 1
    assert read_only_count(db_path, "SELECT count(*) FROM messages_fts_backlog") == partial
    supabase_stack.faults.clear()
    result = dev.sync()
    assert result.pulled == 8_000 - partial
    assert dev.scalar("SELECT count(DISTINCT content) FROM messages") == 8_000
    exactly_the_servers(dev, supabase_stack, user[2])


def test_a_page_whose_insert_fails_leaves_none_of_its_rows(devices, api, supabase_stack, user):
    """A page's rows go in sorted by id, so the rows after a bad one (in stamp order) may come first in the
    statement: SQLite undoes the whole failing INSERT, the careful way stores the rows before the bad one,
    and the cursor stops there."""
    conv = str(uuid.uuid4())
    api.all("insert into public.conversations (id, title) values (%s, 'c')", (conv,))
    ids = [f"{9 - i:08x}-0000-4000-8000-000000000000" for i in range(5)]  # later rows, smaller ids
    for i, row_id in enumerate(ids):
        api.all("insert into public.messages (id, conversation_id, role, content) values (%s, %s, 'user', %s)",
                (row_id, conv, f"m{i}"))
    with psycopg.connect(supabase_stack.db_url) as conn:
        conn.row_factory = psycopg.rows.dict_row
        rows = conn.execute("select * from public.messages where user_id = %s order by updated_at",
                            (user[2],)).fetchall()
    page = [{k: (v.isoformat() if hasattr(v, "isoformat") else str(v) if isinstance(v, uuid.UUID) else v)
             for k, v in r.items()} for r in rows]
    page[2]["conversation_id"] = str(uuid.uuid4())  # a parent nobody has
    supabase_stack.faults.fail_next("GET", "/rest/v1/messages", 200, page, times=2)  # and the parents' retry
    b = devices("b")
    result = b.sync()
    assert (result.pulled, result.quarantined) == (1 + 2, 1)  # the conversation, two messages
    assert sorted(b.rows("messages")) == sorted(ids[:2])
    assert b.scalar("SELECT cursor FROM sync_cursors WHERE table_name = 'messages'") == page[1]["updated_at"]
    b.sync()  # the server's own rows: the rest arrives and the quarantine is cleared
    exactly_the_servers(b, supabase_stack, user[2])
    assert b.scalar("SELECT count(*) FROM sync_quarantine") == 0


USER = "8d0f6c1e-0000-4000-8000-000000000001"


def _message(i: int, **changes) -> dict:
    row = {"id": f"m{i:04d}", "user_id": USER, "conversation_id": "c1", "role": "user", "content": f"hi {i}",
           "created_at": "2026-11-26T10:00:00+00:00", "updated_at": f"2026-11-26T10:{i // 60:02d}:{i % 60:02d}+00:00",
           "deleted_at": None, "seq": i, "agent_connection_id": None, "model": None, "parent_id": None,
           "status": "done", "error": None, "tool_calls": None, "tool_call_id": None}
    row.update(changes)
    return row


MUTATIONS = [
    lambda r: r.update(content=None),  # a required column null
    lambda r: r.pop("role", None),  # a required column missing
    lambda r: r.pop("model", None),  # an optional column missing: fine
    lambda r: r.update(user_id="someone else"),
    lambda r: r.update(deleted_at="2026-11-26T11:00:00+00:00"),  # a tombstone: the careful path
    lambda r: r.update(id=""),
    lambda r: r.update(id=5),
    lambda r: r.update(id="m0000"),  # an id twice (unless it is row 0)
    lambda r: r.update(updated_at="2026-11-26T09:00:00+00:00"),  # stamps go backwards
    lambda r: r.update(updated_at="2026-11-26T10:00:00"),  # no time zone
    lambda r: r.update(updated_at="yesterday"),
    lambda r: r.update(tool_calls=[{"id": "t", "function": {"name": "é", "arguments": "{}"}}]),  # JSON: fine
    lambda r: r.update(tool_calls="just text"),  # an optional JSON value that is a string: fine
    lambda r: r.update(error="boom", model="m"),  # values in mostly-null columns: fine
]


def test_the_column_check_accepts_exactly_the_pages_the_row_check_accepts():
    info = table_info("messages")
    rng = random.Random(24)
    outcomes = []
    for _ in range(400):
        rows = [_message(i) for i in range(rng.randint(1, 6))]
        for _ in range(rng.choice([0, 0, 1, 2])):
            rng.choice(MUTATIONS)(rng.choice(rows))
        if rng.random() < 0.05:
            rows[rng.randrange(len(rows))] = ["not", "an", "object"]
        page = Rows(rows)
        page.newest_allowed = None
        after = rng.choice([None, "2026-11-26T09:30:00+00:00", "2026-11-26T10:00:00+00:00"])
        prepare(info, page, after, USER)
        previous = server_stamp(after) if after else None
        try:
            ids = [r["id"] for r in rows]
            expected = (_all_clean(info, rows, previous, None, USER) and not any(r.get("deleted_at") for r in rows)
                        and len(set(ids)) == len(ids))
        except (TypeError, KeyError):
            expected = False
        prepared = getattr(page, "prepared", None)
        assert (prepared is not None) == expected, rows
        outcomes.append(expected)
        if prepared is not None:
            assert prepared.values == sorted(map(info.encode, rows), key=_first)
            assert prepared.ids == [r["id"] for r in rows]
    assert 100 < outcomes.count(True) < 300  # both answers, many times


def test_columns_null_in_every_row_are_literals_and_store_the_same(tmp_path):
    """sqlite3 binds None through its adapter lookup (slow, with the GIL held): a column NULL in every row
    of a chunk is written as NULL in the SQL instead, with the same result."""
    from local_schema.database import open_database

    info = table_info("messages")
    rows = [_message(i, error="boom" if i == 3 else None) for i in range(10)]
    values = sorted(map(info.encode, rows), key=_first)
    ((sql, params),) = insert_statements(info, values)
    nulls = [c for c in info.columns if all(r[c] is None for r in rows)]
    assert "deleted_at" in nulls and "error" not in nulls
    assert len(params) == 10 * (len(info.columns) - len(nulls)) and sql.count("NULL") == 10 * len(nulls)
    db = open_database(tmp_path / "n.sqlite3")
    conv = {c: None for c in table_info("conversations").columns} | {
        "id": "c1", "title": "t", "created_at": "2026-11-26T10:00:00+00:00", "updated_at": "2026-11-26T10:00:00+00:00"}
    with db.write() as s:
        conn = s.connection()
        insert_many(conn, table_info("conversations"), [table_info("conversations").encode(conv)])
        assert insert_many(conn, info, values) == 10
        stored = conn.exec_driver_sql(f"SELECT {', '.join(info.columns)} FROM messages ORDER BY id").fetchall()
    assert [tuple(r) for r in stored] == values
    db.close()


def test_the_cyclic_collector_is_off_while_a_pull_runs_and_back_after(devices, api):
    seed_thread(api, 50)
    b = devices("b")
    rest = b.engine.rest()
    seen, plain = [], rest.select

    def select(table, params):
        seen.append(gc.isenabled())
        return plain(table, params)

    rest.select = select
    assert gc.isenabled()
    b.sync()
    assert seen and not any(seen) and gc.isenabled()
    gc.disable()  # someone else switched it off: it stays off
    try:
        api.all("insert into public.tasks (id, title) values (%s, 't')", (str(uuid.uuid4()),))
        b.sync()
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize(("body", "expected"), [
    (b'[{"a": "\\ud800"}]', [{"a": "\ud800"}]),  # a lone surrogate: orjson refuses it, json reads it
    (b'[1e400]', [float("inf")]),  # so is a number past a double's range
    (b'[{"a": 1, "b": [true, null, 2.5, "\xc3\xa9"]}]', [{"a": 1, "b": [True, None, 2.5, "\u00e9"]}]),
    # Past 64 bits orjson gives a float, as a JavaScript client reads it (no column of ours is wider than
    # bigint; before, json's exact int then failed to bind: SQLite's integers are 64-bit too).
    (b'[123456789012345678901234567890]', [1.2345678901234568e29]),
])
def test_replies_are_read_by_orjson_and_what_it_refuses_by_json(body, expected):
    decoded = RestClient._decode(httpx.Response(200, content=body, headers={"Date": "Sun, 06 Dec 2026 10:00:00 GMT"}))
    assert isinstance(decoded, Rows) and decoded == expected and decoded.server_date.year == 2026


def test_a_reply_that_is_not_json_is_still_a_clear_error():
    from sync.errors import Kind, RequestFailed

    for body in (b"[1,", b"<html>", b"[" * 100_000):
        with pytest.raises(RequestFailed) as caught:
            RestClient._decode(httpx.Response(200, content=body))
        assert caught.value.kind is Kind.MALFORMED
