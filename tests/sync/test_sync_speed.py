"""What makes sync fast must never make it wrong: pipelined pull, idle sync in one request, the echo of a
push not downloaded again, the first sync's search index built in chunks."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from local_schema.models import SYNCED_TABLES, Task
from sync import bulkload, heads
from sync.pages import AdoptedRanges, page_params
from sync.stamps import server_stamp
from tests.sync.helpers import seed_thread, server_rows

ROOT = Path(__file__).resolve().parents[2]


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def test_the_next_page_is_fetched_while_one_is_written_and_rows_commit_with_their_cursor(devices, api):
    seed_thread(api, 3500)
    b = devices("b")
    path = b.db.path
    rest = b.engine.rest()
    fetches, commits, mismatches = [], [], []
    plain_select = rest.select

    def timed_select(table, params):
        if table == "messages":
            fetches.append(time.monotonic())
        return plain_select(table, params)

    def on_commit(tables, origin):
        # Another connection sees exactly what was committed: every stored row, and the cursor after them.
        if origin != "sync" or "messages" not in tables:
            return
        commits.append(time.monotonic())
        conn = read_only(path)
        try:
            cursor = conn.execute("SELECT cursor FROM sync_cursors WHERE table_name = 'messages'").fetchone()
            newest = conn.execute("SELECT max(updated_at) FROM messages").fetchone()[0]
            if cursor is None or cursor[0] != newest:
                mismatches.append((cursor, newest))
        finally:
            conn.close()

    rest.select = timed_select
    b.db.add_change_listener(on_commit)
    result = b.sync()
    assert result.pulled == 3501 and mismatches == []
    assert len(fetches) == 4 and commits
    assert fetches[1] < commits[0]  # page 2 was on its way before page 1 was committed
    assert b.scalar("SELECT count(DISTINCT content) FROM messages") == 3500


def test_idle_cycle_is_one_request_warm_and_cold_without_sqlalchemy(devices, supabase_stack, user, tmp_path,
                                                                    file_keyring_env):
    a = devices("a")
    with a.session() as s:
        s.add(Task(title="x"))
        s.commit()
    a.sync()
    warm = [a.sync() for _ in range(3)]
    assert [(r.requests, r.pushed, r.pulled) for r in warm] == [(1, 0, 0)] * 3
    assert a.engine.status()["last_sync"]  # recorded without the SQLAlchemy path
    # Cold: a fresh process with nothing to do reads, asks and records with plain sqlite3.
    env = {**os.environ, **file_keyring_env, "MIRARI_SUPABASE_URL": supabase_stack.url,
           "MIRARI_SUPABASE_ANON_KEY": supabase_stack.anon_key, "MIRARI_PASSWORD": user[1]}
    data = tmp_path / "cold"
    login = subprocess.run([sys.executable, "-m", "mirari", "--data-dir", str(data), "account", "login",
                            "--email", user[0]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert login.returncode == 0, login.stderr
    script = ("import contextlib, io, json, sys\nfrom mirari.main import main\nout = io.StringIO()\n"
              "with contextlib.redirect_stdout(out):\n    rc = main(['--data-dir', sys.argv[1], 'sync', '--json'])\n"
              "print(json.dumps({'rc': rc, 'result': json.loads(out.getvalue()), "
              "'loaded': sorted(m for m in ('sqlalchemy', 'sqlmodel', 'supabase') if m in sys.modules)}))")
    for expected_requests in (1 + 1, 1):  # the first sync pulls the one table with a row (tasks); then idle
        run = subprocess.run([sys.executable, "-c", script, str(data)], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout.strip().splitlines()[-1])
        assert report["rc"] == 0 and report["result"]["requests"] == expected_requests
    assert report["loaded"] == []


def test_a_server_without_sync_heads_is_pulled_table_by_table(devices, supabase_stack):
    a = devices("a")
    missing = {"code": "PGRST202", "message": "Could not find the function public.sync_heads",
               "details": None, "hint": None}
    supabase_stack.faults.fail_next("POST", "/rest/v1/rpc/sync_heads", 404, missing)
    first = a.sync()
    assert first.requests == 1 + len(SYNCED_TABLES)
    assert a.sync().requests == len(SYNCED_TABLES)  # not asked again by this engine


def test_a_server_error_on_the_heads_call_does_not_stop_the_cycle(devices, supabase_stack):
    a = devices("a")
    with a.session() as s:
        s.add(Task(title="pushed anyway"))
        s.commit()
    boom = {"code": "XX000", "message": "boom", "details": None, "hint": None}
    supabase_stack.faults.fail_next("POST", "/rest/v1/rpc/sync_heads", 500, boom)
    result = a.sync()  # as for a 5xx on a push: the cycle goes on, pulling every table this time
    assert result.pushed == 1 and result.requests == 1 + 1 + 1 + len(SYNCED_TABLES)
    assert a.sync().requests == 1  # asked again next cycle (only a 404 means the server has none)


def test_pushed_rows_are_not_pulled_again_but_rows_written_between_the_requests_are(devices, api, supabase_stack,
                                                                                   user):
    a = devices("a")
    with a.session() as s:
        s.add_all([Task(title=f"mine {i}") for i in range(1200)])  # three POSTs: 500, 500, 200
        s.commit()
    elsewhere, edited = str(uuid.uuid4()), []

    def write_between(phase, count):
        # After the first POST's reply was stored, before the second POST: another device writes a new
        # row and edits one of the rows just pushed. Both get stamps between or after our requests.
        if phase == "push" and count == 500 and not edited:
            [first] = api.all("select id from public.tasks where title = 'mine 0'")
            api.all("update public.tasks set title = 'edited elsewhere' where id = %s", (first["id"],))
            api.all("insert into public.tasks (id, title) values (%s, 'from another device')", (elsewhere,))
            edited.append(str(first["id"]))

    a.engine.on_progress = write_between
    result = a.sync()
    assert edited and result.pushed == 1200
    assert result.pulled == 2  # the other device's two rows; none of the 1,200 came back
    rows = a.rows("tasks")
    assert rows[elsewhere]["title"] == "from another device" and rows[edited[0]]["title"] == "edited elsewhere"
    server = {str(r["id"]): r for r in server_rows(supabase_stack, "tasks", user[2])}
    assert len(server) == len(rows) == 1201
    assert all(server_stamp(rows[i]["updated_at"]) == server[i]["updated_at"] for i in server)
    # The cursor passed everything: the next cycle is idle, and another device sees the same rows.
    assert (a.sync().requests, a.sync().pulled) == (1, 0)
    b = devices("b")
    b.sync()
    assert b.rows("tasks") == a.rows("tasks")


def test_first_sync_search_index_is_built_in_short_transactions(devices, api, monkeypatch):
    seed_thread(api, 3000)
    monkeypatch.setattr(bulkload, "BACKLOG_SECONDS", 0.0001)  # the smallest chunks: 500 rows
    b = devices("b")
    path = b.db.path
    chunks, writes_between = [], []

    def between_chunks(phase, count):
        if phase != "index":
            return
        chunks.append(count)
        # The write lock is free between chunks: a writer that will not wait at all gets in.
        conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            writes_between.append(True)
        finally:
            conn.close()

    b.engine.on_progress = between_chunks
    assert b.sync().pulled == 3001
    assert len(chunks) >= 3 and chunks == sorted(chunks) and chunks[-1] == 3000
    assert len(writes_between) == len(chunks)
    assert b.scalar("SELECT count(*) FROM messages_fts_backlog") == 0
    from local_schema.search import search_messages

    with b.db.engine.connect() as conn:
        assert len(search_messages(conn, "reply", limit=5000)) == 3000
        conn.exec_driver_sql("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")


def test_a_write_from_the_app_during_a_first_sync_is_indexed_once(devices, api, supabase_stack):
    """The app keeps writing while the first sync stores unindexed rows: its own message is indexed by the
    trigger at once and never put on the backlog, so nothing is indexed twice."""
    from local_schema.models import Message

    conv = seed_thread(api, 2500)
    supabase_stack.faults.delay("GET", "/rest/v1/messages", 0.4)  # one transaction per page
    b = devices("b")
    wrote = threading.Event()

    def app_write(phase, count):
        if phase == "pull" and count > 1 and not wrote.is_set():  # after the first page of messages
            with b.db.write() as session:
                session.add(Message(conversation_id=conv, role="user", content="typed during the sync"))
            wrote.set()

    b.engine.on_progress = app_write
    b.sync()
    assert wrote.is_set()
    from local_schema.search import search_messages

    with b.db.engine.connect() as conn:
        assert [h.snippet_plain() for h in search_messages(conn, "typed")] == ["typed during the sync"]
        assert len(search_messages(conn, "reply", limit=5000)) == 2500
        conn.exec_driver_sql("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")


# -- pieces ------------------------------------------------------------------------------------------------
def test_the_idle_check_knows_every_synced_table():
    assert heads.SYNCED_TABLES == SYNCED_TABLES


def test_heads_moved_compares_stamps_not_strings():
    cursors = {"tasks": "2026-11-30T12:00:00.12+00:00", "skills": "2026-11-30T12:00:00.5+00:00"}
    server = dict.fromkeys(SYNCED_TABLES)
    server.update(tasks="2026-11-30T12:00:00.120000+00:00", skills="2026-11-30T12:00:00.500001+00:00",
                  templates="2026-11-30T11:00:00+00:00")
    assert heads.moved(server, cursors) == {"skills", "templates"}
    del server["messages"]  # a table the server does not name: pulled, the pull decides
    assert heads.moved(server, cursors) == {"skills", "templates", "messages"}


def test_adopted_ranges_and_the_filter_that_leaves_them_out():
    ranges = AdoptedRanges()
    ranges.add("tasks", ["2026-11-30T12:00:03+00:00", "2026-11-30T12:00:01.5+00:00"])
    ranges.add("tasks", ["2026-11-30T12:00:07+00:00"])
    assert ranges.after("tasks", None) == [("2026-11-30T12:00:01.5+00:00", "2026-11-30T12:00:03+00:00"),
                                           ("2026-11-30T12:00:07+00:00", "2026-11-30T12:00:07+00:00")]
    assert ranges.after("tasks", "2026-11-30T12:00:05+00:00") == [("2026-11-30T12:00:07+00:00",) * 2]
    assert ranges.newest("tasks") == "2026-11-30T12:00:07+00:00" and ranges.newest("skills") is None
    params = page_params(("id", "updated_at"), "user_id", "u", "c", 1000, ranges.after("tasks", None)[:1])
    assert params["and"] == ('(or(updated_at.lt."2026-11-30T12:00:01.5+00:00",'
                             'updated_at.gt."2026-11-30T12:00:03+00:00"))')


def test_a_cycle_that_leaves_a_big_wal_copies_it_into_the_database_file(devices, api, monkeypatch):
    from sync import dbutil

    seed_thread(api, 3000)
    b = devices("b")
    path = b.db.path
    before = path.stat().st_size
    monkeypatch.setattr(dbutil, "CHECKPOINT_BYTES", 1)
    b.sync()
    # The sync connections never checkpoint on their own (wal_autocheckpoint is far away); the cycle did.
    assert path.stat().st_size > before + 500_000
    monkeypatch.setattr(dbutil, "CHECKPOINT_BYTES", 1 << 40)
    seed_thread(api, 3000)
    size = path.stat().st_size
    b.sync()
    assert path.stat().st_size == size  # below the threshold: left in the WAL for later


def test_derived_data_stays_exact_when_a_batch_inserts_then_changes_a_row(devices, user, monkeypatch):
    """In one transaction of a first sync, a message arrives, then arrives again edited, then tombstoned
    (it changed on the server while the pull ran), and another arrives again with a new created_at. The
    message counts and the search index — kept by
    set-aside triggers and per-statement catch-up — must end exactly as if every row had gone through
    the triggers one by one."""
    from datetime import UTC, datetime, timedelta

    from sync import pull
    from sync.pull import Puller

    monkeypatch.setattr(pull, "TX_ROWS", 10**6)
    monkeypatch.setattr(pull, "TX_SECONDS", 60.0)  # every page in one transaction
    b = devices("b")
    uid, conv = user[2], str(uuid.uuid4())
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def row(i, rid, content="searchable text", deleted=False):
        stamp = (start + timedelta(microseconds=i)).isoformat()
        return {"id": rid, "user_id": uid, "conversation_id": conv, "role": "user", "content": content,
                "created_at": (start + timedelta(minutes=i % 50)).isoformat(), "updated_at": stamp,
                "deleted_at": stamp if deleted else None, "seq": i + 1, "status": "done", "parent_id": None}

    ids = [str(uuid.uuid4()) for _ in range(448)]
    page1 = [row(i, ids[i]) for i in range(300)]
    page1[5]["seq"] = None  # from a server without the column: the fill trigger must still run for it
    page2 = [row(300 + i, ids[300 + i]) for i in range(148)] + [row(448, ids[0], content="edited words"),
                                                                   row(449, ids[1], deleted=True),
                                                                   row(477, ids[2])]  # another created_at
    conv_row = {"id": conv, "user_id": uid, "agent_connection_id": None, "title": "t",
                "created_at": start.isoformat(), "updated_at": (start - timedelta(seconds=1)).isoformat(),
                "deleted_at": None}

    class Pages:
        def __init__(self, pages):
            self.pages = iter(pages)

        def next_page(self, timeout=None):
            return next(self.pages)

        def close(self):
            pass

    puller = Puller(b.db, b.engine.rest(), uid, b.engine.remote_tx, lambda _m: None, page_size=300)
    puller.pull_table("conversations", stream=Pages([[conv_row]]))
    from local_schema.models import FOLLOWS_LAST

    more = [row(478 + i, str(uuid.uuid4())) for i in range(149)]  # page2 full: a third page follows
    late = row(700, str(uuid.uuid4()))
    late["parent_id"] = FOLLOWS_LAST  # from a client that left it to the thread: the fill trigger runs for it
    puller.pull_table("messages", stream=Pages([page1, page2 + more, [late]]))
    bulkload.finish(b.db)
    assert b.scalar("SELECT count(*) FROM messages") == 597  # 598 ids, one tombstoned
    assert b.scalar("SELECT count(*) FROM messages WHERE seq IS NULL") == 0
    assert b.scalar("SELECT parent_id FROM messages WHERE id = ?", late["id"]) == more[-1]["id"]  # newest before
    assert b.scalar("SELECT count(*) FROM messages WHERE parent_id = ?", FOLLOWS_LAST) == 0
    counted = dict(b.db.engine.connect().exec_driver_sql(
        "SELECT bucket, live FROM message_counts WHERE live <> 0").fetchall())
    from local_schema.migrations.v0007_observatory_and_templates import bucket_sql

    expected = dict(b.db.engine.connect().exec_driver_sql(
        f"SELECT {bucket_sql('created_at')}, count(*) FROM messages WHERE deleted_at IS NULL GROUP BY 1").fetchall())
    assert counted == expected and sum(expected.values()) == 597
    from local_schema.search import search_messages

    with b.db.engine.connect() as conn:
        assert len(search_messages(conn, "searchable", limit=1000)) == 596
        assert [h.message_id for h in search_messages(conn, "edited")] == [ids[0]]
        conn.exec_driver_sql("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")


def test_every_trigger_a_batch_sets_aside_is_the_one_the_schema_has(tmp_path):
    """A batch leaves a trigger out only if its stored SQL is the one whose work it knows how to skip or
    redo (bulkload._inert, _set_based); a later migration that redefines one must update that list, or
    first syncs quietly run every such trigger for every row again (as messages_seq_fill did after v9)."""
    from local_schema.database import open_database

    db = open_database(tmp_path / "mirari.db")
    with db.engine.connect() as conn:
        stored = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())
    for name, (sql, *_rest) in {**bulkload._inert(), **bulkload._set_based()}.items():
        assert bulkload._norm(stored[name]) == sql, name


def test_a_first_sync_of_memory_keeps_the_duplicate_index_exact(devices, user, monkeypatch):
    """The Atlas's duplicate-key index (local migration v10) is kept by a set-aside insert trigger during a
    big pull: every pulled node is in it, a node relabelled later in the same transaction gets its new
    key, a tombstoned one is not found, and an add of a pulled fact reinforces it instead of duplicating."""
    from datetime import UTC, datetime, timedelta

    from agent.memory.atlas import add_node
    from sync import pull
    from sync.pull import Puller

    monkeypatch.setattr(pull, "TX_ROWS", 10**6)
    monkeypatch.setattr(pull, "TX_SECONDS", 60.0)  # every page in one transaction
    b = devices("b")
    uid = user[2]
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def row(i, rid, label, deleted=False):
        stamp = (start + timedelta(microseconds=i)).isoformat()
        return {"id": rid, "user_id": uid, "label": label, "category": "fact", "strength": 0.5, "source": "manual",
                "last_referenced_at": None, "created_at": start.isoformat(), "updated_at": stamp,
                "deleted_at": stamp if deleted else None, "paused": False}

    ids = [str(uuid.uuid4()) for _ in range(400)]
    page1 = [row(i, ids[i], f"Fact number {i}") for i in range(300)]
    page2 = [row(300 + i, ids[300 + i], f"Fact number {300 + i}") for i in range(100)] + [
        row(400, ids[0], "Plays the cello"), row(401, ids[1], "Fact number 1", deleted=True)]

    class Pages:
        def __init__(self, pages):
            self.pages = iter(pages)

        def next_page(self, timeout=None):
            return next(self.pages)

        def close(self):
            pass

    puller = Puller(b.db, b.engine.rest(), uid, b.engine.remote_tx, lambda _m: None, page_size=300)
    puller.pull_table("memory_nodes", stream=Pages([page1, page2]))
    bulkload.finish(b.db)
    with b.db.engine.connect() as conn:
        indexed = {r[0] for r in conn.exec_driver_sql("SELECT node_id FROM memory_dedup_keys")}
        stored = {r[0] for r in conn.exec_driver_sql("SELECT id FROM memory_nodes")}
        triggers = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert indexed == stored and ids[0] in stored and "memory_dedup_keys_insert" in triggers
    assert add_node(b.db, "plays cello!").node.id == ids[0]
    assert add_node(b.db, "Fact number 299").node.id == ids[299]
    assert not add_node(b.db, "Fact number 0").reinforced  # relabelled in the same transaction
    assert not add_node(b.db, "Fact number 1").reinforced  # tombstoned


def test_a_big_pull_is_announced_per_table_not_per_row(devices, api, monkeypatch):
    """Listing every pulled id would grow with the table (memory must stay flat): past ANNOUNCED_IDS the
    listeners hear that the table changed as a whole."""
    from sync import pull

    monkeypatch.setattr(pull, "ANNOUNCED_IDS", 1000)
    conv = seed_thread(api, 1500)
    b = devices("b")
    heard = []
    b.db.add_change_listener(lambda tables, origin: heard.append((tables, origin)))
    b.sync()
    [(tables, origin)] = heard
    assert origin == "sync" and {"conversations", "messages"} <= set(tables)
    assert tables.ids("messages") is None and tables.ids("conversations") == {conv}


def test_sync_transactions_on_the_windows_own_database_get_the_sync_pragmas(tmp_path):
    """The window hands the engine its own database handle (never tuned for sync): each sync transaction
    tunes the connection it runs on, once; the app's other connections keep SQLite's defaults."""
    from local_schema.database import open_database
    from sync.dbutil import SYNC_PRAGMAS
    from sync.engine import SyncEngine

    db = open_database(tmp_path / "app.sqlite3")
    engine = SyncEngine(tmp_path, database=db)
    wanted = {p.split("=")[0].strip(): int(p.split("=")[1]) for p in SYNC_PRAGMAS}

    def pragmas(conn) -> dict:
        return {p: conn.exec_driver_sql(p).scalar() for p in wanted}

    with db.engine.connect() as plain:
        assert pragmas(plain) != wanted
    with engine.remote_tx(db) as conn:
        assert pragmas(conn) == wanted
    db.close()


def test_rows_go_in_as_multi_row_inserts_within_sqlites_parameter_limit(tmp_path, monkeypatch):
    import sqlalchemy.exc

    from local_schema.database import open_database
    from sync import pull_rows
    from sync.dbutil import table_info

    monkeypatch.setattr(pull_rows, "MAX_PARAMS", 4 * len(table_info("messages").columns))  # 4 messages a statement
    db = open_database(tmp_path / "m.sqlite3")
    info = table_info("conversations")
    conv = {c: None for c in info.columns} | {"id": "c1", "title": "t", "created_at": "2026-11-30T12:00:00+00:00",
                                              "updated_at": "2026-11-30T12:00:00+00:00"}
    info_m = table_info("messages")

    def message(i, **changes):
        row = {c: None for c in info_m.columns} | {
            "id": f"m{i:02d}", "conversation_id": "c1", "role": "user", "content": f"text {i}", "seq": i, "status": "done",
            "created_at": "2026-11-30T12:00:00+00:00", "updated_at": "2026-11-30T12:00:00+00:00"}
        return info_m.encode(row | changes)

    statements = []
    plain = pull_rows.insert_sql.__wrapped__

    monkeypatch.setattr(pull_rows, "insert_sql",
                        lambda i, c="", rows=1, nulls=(): statements.append(rows) or plain(i, c, rows, nulls))
    with db.write() as s:
        conn = s.connection()
        pull_rows.insert_many(conn, info, [info.encode(conv)])
        assert pull_rows.insert_many(conn, info_m, [message(i) for i in range(10)], "OR IGNORE") == 10
        assert statements[1:] == [4, 4, 2]
        # Rows already here are passed over and counted out; the rest go in.
        assert pull_rows.insert_many(conn, info_m, [message(i) for i in range(8, 13)], "OR IGNORE") == 3
        assert conn.exec_driver_sql("SELECT count(*) FROM messages").scalar() == 13
    # Without OR IGNORE a constraint fails as SQLAlchemy's IntegrityError, which the pull's fallback expects.
    with pytest.raises(sqlalchemy.exc.IntegrityError), db.write() as s:
        pull_rows.insert_many(s.connection(), info_m, [message(20), message(21, role=None)])
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM messages").scalar() == 13
    db.close()


def test_a_read_reply_is_freed_at_once_not_left_to_the_cyclic_collector(devices, api):
    """httpx ties a response and its stream in a reference cycle: each pull page's body (~0.6 MB) would wait
    for Python's cyclic collector, and a 200,000-row pull grew by ~20 MB."""
    import gc

    import httpx

    seed_thread(api, 50)
    b = devices("b")
    rest = b.engine.rest()
    gc.collect()
    # Earlier tests may keep a reply alive on purpose (an error that carries its response): only the
    # replies this loop reads count.
    before = {id(o) for o in gc.get_objects() if isinstance(o, httpx.Response)}
    gc.disable()
    try:
        for _ in range(5):
            rest.select("messages", {"select": "id,content", "limit": "50"})
        alive = [o for o in gc.get_objects() if isinstance(o, httpx.Response) and id(o) not in before]
    finally:
        gc.enable()
    assert alive == []
