"""The scenarios of bench/bench_sync.py, each run in a child process of its own (so its peak memory, max
RSS, is its own): `python -m bench.sync_scenarios NAME INFO_JSON EMAIL N` prints one JSON line."""

from __future__ import annotations

import json
import resource
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

PASSWORD = "bench-password-123"


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu(info: dict) -> tuple[float, float]:
    """CPU seconds so far of the stand-in's Python process and of its PostgreSQL (the postmaster's children),
    from /proc (Linux); (0, 0) when the bench did not say which processes they are."""
    import os

    tick = os.sysconf("SC_CLK_TCK")

    def stat(pid) -> list[str] | None:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rpartition(")")[2].split()
        except OSError:
            return None

    def cpu(fields) -> float:
        return (int(fields[11]) + int(fields[12])) / tick  # utime, stime

    standin, postmaster = info.get("standin_pid"), info.get("postmaster_pid")
    if not standin or not postmaster:
        return 0.0, 0.0
    fields = stat(standin)
    pg = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            child = stat(entry)
            if child is not None and child[1] == str(postmaster):  # ppid
                pg += cpu(child)
    return (cpu(fields) if fields else 0.0), pg


def _engine(info: dict, email: str, data_dir: Path):
    import keyring

    from standin.keyrings import MemoryKeyring
    from sync import config
    from sync.engine import SyncEngine

    keyring.set_keyring(MemoryKeyring())  # no OS keychain on a bench machine
    config.set_value(data_dir, "supabase.url", info["url"])
    config.set_value(data_dir, "supabase.anon_key", info["anon_key"])
    engine = SyncEngine(data_dir)
    engine.sign_in(email, PASSWORD)
    return engine


@contextmanager
def write_lock_holds(phase: list[str]):
    """Every write transaction's duration (BEGIN IMMEDIATE takes SQLite's write lock, commit frees it),
    with the cycle's phase when it started: (phase, seconds)."""
    from local_schema.database import LocalDatabase

    holds: list[tuple[str, float]] = []
    plain = LocalDatabase.write

    @contextmanager
    def timed(self, *args, **kwargs):
        started, at = time.perf_counter(), phase[0]
        with plain(self, *args, **kwargs) as session:
            yield session
        holds.append((at, time.perf_counter() - started))

    LocalDatabase.write = timed
    try:
        yield holds
    finally:
        LocalDatabase.write = plain


def scenario_first_sync(info, email, n, data_dir) -> dict:
    """A fresh device pulls everything (in-cycle time, as a warm app would: the database is open and the
    sync modules are imported first: until every row is stored with its cursor and the app told; then the
    upkeep the same run_cycle does: indexes, search index, WAL checkpoint), then idle cycles in the same warm
    process."""
    engine = _engine(info, email, data_dir)
    engine.database()
    import sync.pull  # noqa: F401 - what a warm process has imported already
    import sync.push  # noqa: F401
    from sync import bulkload

    rss_before = maxrss_mb()
    phase = ["pull"]
    for name in ("restore_indexes", "index_backlog"):  # which write transactions belong to which phase
        plain = getattr(bulkload, name)

        def marked(*args, _plain=plain, _name=name, **kwargs):
            phase[0] = _name
            try:
                return _plain(*args, **kwargs)
            finally:
                phase[0] = "pull"

        setattr(bulkload, name, marked)
    upkeep_cpu, upkeep_thread = [], []
    plain_upkeep = engine._upkeep

    def upkeep():  # its CPU apart: the in-cycle figures are compared with the raw fetch
        started, thread_started = own_cpu(), time.thread_time()
        try:
            plain_upkeep()
        finally:
            upkeep_cpu.append(own_cpu() - started)
            upkeep_thread.append(time.thread_time() - thread_started)

    from sync.pages import PageStream

    waited = []  # the writer (this thread) waiting for the next page
    plain_next = PageStream.next_page

    def next_page(self, timeout=None):
        started = time.perf_counter()
        try:
            return plain_next(self, timeout)
        finally:
            waited.append(time.perf_counter() - started)

    PageStream.next_page = next_page
    engine._upkeep = upkeep
    cpu_before, server_before, thread_before = own_cpu(), server_cpu(info), time.thread_time()
    with write_lock_holds(phase) as holds:
        result = engine.run_cycle()
    cpu_after, server_after = own_cpu(), server_cpu(info)
    writer_cpu = time.thread_time() - thread_before - sum(upkeep_thread)
    engine._upkeep, PageStream.next_page = plain_upkeep, plain_next
    assert result.state == "idle", result
    idle = [engine.run_cycle() for _ in range(20)]
    index_holds = [s for p, s in holds if p == "index_backlog"] or [0.0]
    return {"rows": result.pulled, "seconds": result.duration_s, "rows_per_s": result.pulled / result.duration_s,
            "upkeep_s": result.upkeep_s, "requests": result.requests, "peak_rss_mb": maxrss_mb(),
            "rss_before_mb": rss_before,
            "longest_write_tx_s": max(s for _, s in holds), "longest_index_tx_s": max(index_holds),
            "index_txs": len([p for p, _ in holds if p == "index_backlog"]),
            "longest_index_build_tx_s": max([s for p, s in holds if p == "restore_indexes"] or [0.0]),
            "idle_ms_median": statistics.median(r.duration_s for r in idle) * 1000,
            "idle_requests": max(r.requests for r in idle),
            "cpu_client_s": cpu_after - cpu_before - sum(upkeep_cpu), "cpu_upkeep_s": sum(upkeep_cpu),
            "writer_cpu_s": writer_cpu, "writer_wait_s": sum(waited),
            "cpu_standin_s": server_after[0] - server_before[0], "cpu_postgres_s": server_after[1] - server_before[1]}


def scenario_raw_fetch(info, email, n, data_dir) -> dict:
    """The physical limit of a first sync here: the same pages (same columns, filter, order and page size,
    the ranges of `sync_page_bounds`) fetched as the engine fetches them — RANGE_WORKERS at a time, over one
    httpx client — and discarded: nothing parsed, checked or written."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from sync.dbutil import table_info
    from sync.pages import page_params
    from sync.pull import RANGE_WORKERS

    engine = _engine(info, email, data_dir)
    token, user_id = engine.sessions.access_token(), engine.sessions.current().user_id
    headers = {"apikey": info["anon_key"], "Authorization": f"Bearer {token}", "Accept-Profile": "public",
               "Accept": "application/json"}
    client = httpx.Client(base_url=f"{info['url']}/rest/v1", headers=headers, timeout=60)
    client.get("/conversations", params={"select": "id", "limit": "1"})  # connect first, as a warm app is
    tables = [(t, table_info(t)) for t in ("conversations", "messages")]

    def fetch(table, info_, lo, hi) -> int:
        response = client.get(f"/{table}", params=page_params(info_.columns, info_.owner, user_id, lo, 1000, [], hi))
        response.raise_for_status()
        span = response.headers.get("Content-Range", "*").partition("/")[0]
        low, _, high = span.partition("-")
        return 0 if span == "*" else int(high) - int(low) + 1

    cpu_before, server_before = own_cpu(), server_cpu(info)
    started = time.perf_counter()
    rows, requests = 0, 0
    with ThreadPoolExecutor(RANGE_WORKERS) as pool:
        for table, info_ in tables:
            bounds = client.post("/rpc/sync_page_bounds", json={"tbl": table, "after_stamp": None, "page_rows": 1000},
                                 headers={"Content-Type": "application/json"}).json()
            edges = [None, *bounds, None]
            ranges = list(zip(edges, edges[1:], strict=False))
            rows += sum(pool.map(lambda r, t=table, i=info_: fetch(t, i, *r), ranges))
            requests += 1 + len(ranges)
    elapsed = time.perf_counter() - started
    cpu_after, server_after = own_cpu(), server_cpu(info)
    client.close()
    return {"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed, "requests": requests,
            "cpu_client_s": cpu_after - cpu_before, "cpu_standin_s": server_after[0] - server_before[0],
            "cpu_postgres_s": server_after[1] - server_before[1]}


def scenario_apply_only(info, email, n, data_dir) -> dict:
    """The client's side of a first sync alone: the pages fetched first (untimed), then written and timed
    exactly as pull_all writes them (including the deferred indexes and the search index)."""
    from local_schema.models import SYNCED_TABLES
    from sync import bulkload
    from sync.pull import Puller

    engine = _engine(info, email, data_dir)
    db = engine.database()
    puller = Puller(db, engine.rest(), engine.sessions.current().user_id, engine.remote_tx, lambda _m: None)
    pages: dict[str, list] = {}
    for table in SYNCED_TABLES:
        cursor, pages[table] = None, []
        while True:
            rows = puller._fetch(table, cursor)
            pages[table].append(rows)
            if len(rows) < puller.page_size:
                break
            cursor = rows[-1]["updated_at"]

    class Prefetched:
        def __init__(self, table):
            self.pages = iter(pages[table])

        def next_page(self, timeout=None):
            return next(self.pages)

        def close(self):
            pass

    started = time.perf_counter()
    for table in SYNCED_TABLES:
        puller.pull_table(table, stream=Prefetched(table))
    bulkload.finish(db)
    elapsed = time.perf_counter() - started
    return {"rows": puller.result.pulled, "seconds": elapsed, "rows_per_s": puller.result.pulled / elapsed,
            "peak_rss_mb": maxrss_mb()}


def scenario_push(info, email, n, data_dir) -> dict:
    """N new local rows (a conversation and its messages) pushed by one whole cycle."""
    from local_schema.models import Conversation, Message

    engine = _engine(info, email, data_dir)
    db = engine.database()
    import sync.pull  # noqa: F401
    import sync.push  # noqa: F401

    with db.write() as s:
        conv = Conversation(title="push bench")
        s.add(conv)
        s.flush()
        s.add_all([Message(conversation_id=conv.id, role="user", content=f"local {i} " + "y" * 290)
                   for i in range(n - 1)])
    result = engine.run_cycle()
    after = engine.run_cycle()
    return {"rows": result.pushed, "seconds": result.duration_s, "rows_per_s": result.pushed / result.duration_s,
            "upkeep_s": result.upkeep_s, "requests": result.requests, "pulled": result.pulled,
            "next_cycle_requests": after.requests, "next_cycle_pulled": after.pulled, "peak_rss_mb": maxrss_mb()}


def scenario_baseline_pull(info, email, n, data_dir) -> dict:
    """Naive: supabase-py select paged by offset, one SQLModel insert (and commit) per row."""
    from local_schema.database import open_database
    from local_schema.models import Conversation, Message
    from supabase import ClientOptions, create_client

    db = open_database(data_dir / "baseline.sqlite3")
    client = create_client(info["url"], info["anon_key"], options=ClientOptions(auto_refresh_token=False))
    client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    started = time.perf_counter()
    offset, rows, requests = 0, 0, 1
    with db.session() as s:
        for conv in client.table("conversations").select("*").execute().data:  # parents first
            s.add(Conversation(**conv))
            s.commit()
        while rows < n:
            page = client.table("messages").select("*").order("id").range(offset, offset + 999).execute().data
            requests += 1
            if not page:
                break
            for row in page[: n - rows]:
                s.add(Message(**row))
                s.commit()
                rows += 1
            offset += len(page)
    elapsed = time.perf_counter() - started
    return {"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed, "requests": requests,
            "peak_rss_mb": maxrss_mb()}


def scenario_baseline_push(info, email, n, data_dir) -> dict:
    """Naive: one supabase-py upsert per row."""
    from supabase import ClientOptions, create_client

    client = create_client(info["url"], info["anon_key"], options=ClientOptions(auto_refresh_token=False))
    client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    conv = str(uuid.uuid4())
    client.table("conversations").insert({"id": conv, "title": "baseline"}).execute()
    started = time.perf_counter()
    for i in range(n):
        client.table("messages").upsert({"id": str(uuid.uuid4()), "conversation_id": conv, "role": "user",
                                         "content": f"local {i} " + "y" * 290}).execute()
    elapsed = time.perf_counter() - started
    return {"rows": n, "seconds": elapsed, "rows_per_s": n / elapsed, "requests": n, "peak_rss_mb": maxrss_mb()}


SCENARIOS = {"first_sync": scenario_first_sync, "apply_only": scenario_apply_only, "push": scenario_push,
             "raw_fetch": scenario_raw_fetch,
             "baseline_pull": scenario_baseline_pull, "baseline_push": scenario_baseline_push}

if __name__ == "__main__":
    name, info_json, email, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with tempfile.TemporaryDirectory() as tmp:
        out = SCENARIOS[name](json.loads(info_json), email, n, Path(tmp))
    print(json.dumps(out))
