"""Measure the sync engine against the local Supabase stand-in, next to a naive baseline.

Run by hand from the repository root: `.venv/bin/python -m bench.bench_sync [--rows 100000]`.
Prints figures (and keeps them in bench/results/sync-*.txt); asserts nothing. Scenarios (each in a fresh child process of this script, so its peak
memory (max RSS) is its own; the stand-in runs as its own process, as a developer would run it):

- first sync: N messages (~300 bytes each) already on the server, pulled into an empty database
  (N = rows/4, rows/2, rows: memory should stay flat as N grows);
- push: 10,000 new local rows pushed (push phase alone, and the whole cycle incl. pulling the echo);
- idle sync: nothing to do (requests and wall time per cycle);
- baseline (same script, same server): supabase-py `select` paged by offset + one SQLModel insert per row;
  one supabase-py upsert per row for push. Run on a subset (it is slow); rates are compared.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-123"


# -- orchestration ------------------------------------------------------------------------------------------
def start_standin() -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.supabase_local"], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"the stand-in did not start (exit code {proc.wait()})")
    return proc, json.loads(line)


def new_user(info: dict) -> tuple[str, str]:
    email = f"bench-{uuid.uuid4().hex[:10]}@example.test"
    r = httpx.post(f"{info['url']}/auth/v1/signup", json={"email": email, "password": PASSWORD},
                   headers={"apikey": info["anon_key"]}, timeout=30)
    r.raise_for_status()
    return email, r.json()["user"]["id"]


def seed_messages(info: dict, user_id: str, n: int, analyze: bool = True) -> None:
    """N messages of ~300 bytes in 10 conversations, written as the database owner for speed.

    Then ANALYZE, as autovacuum does on a real server long before anyone pulls rows that accumulated
    over time. Without it the planner has no statistics for a table that just grew from 0 to N rows in
    one burst, estimates ~400 matching rows and answers every pull page with a bitmap scan of *all*
    rows after the cursor plus a top-N sort: ~80 ms for the first of 100 pages, O(N^2) in total, which
    is what made 100,000 rows slower per row than 50,000 (`--no-analyze` reproduces it)."""
    with psycopg.connect(info["db_url"], autocommit=True) as conn:
        convs = [str(uuid.uuid4()) for _ in range(10)]
        for c in convs:
            conn.execute("insert into public.conversations (id, user_id, title) values (%s, %s, 'bench')", (c, user_id))
        step = 20_000
        for start in range(0, n, step):
            conn.execute(
                "insert into public.messages (user_id, conversation_id, role, content) "
                "select %s, (%s::uuid[])[1 + i %% 10], 'assistant', "
                "'message ' || i || ' ' || repeat(md5(i::text), 9) from generate_series(%s::int, %s::int) i",
                (user_id, convs, start + 1, min(n, start + step)))
        if analyze:
            conn.execute("analyze public.conversations, public.messages")


def child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.bench_sync", "--child", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"scenario {args[0]} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- scenarios (run in the child) ------------------------------------------------------------------------------
def _engine(info: dict, email: str, data_dir: Path):
    import keyring

    from sync import config
    from sync.engine import SyncEngine
    from tests.keyrings import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())  # no OS keychain on a bench machine
    config.set_value(data_dir, "supabase.url", info["url"])
    config.set_value(data_dir, "supabase.anon_key", info["anon_key"])
    engine = SyncEngine(data_dir)
    engine.sign_in(email, PASSWORD)
    return engine


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scenario_first_sync(info, email, n, data_dir) -> dict:
    engine = _engine(info, email, data_dir)
    engine.database()
    rss_before = maxrss_mb()
    t = time.perf_counter()
    result = engine.run_cycle()
    elapsed = time.perf_counter() - t
    assert result.state == "idle", result
    idle = []
    requests = []
    for _ in range(5):
        r = engine.run_cycle()
        idle.append(r.duration_s)
        requests.append(r.requests)
    return {"rows": result.pulled, "seconds": elapsed, "rows_per_s": result.pulled / elapsed,
            "requests": result.requests, "peak_rss_mb": maxrss_mb(), "rss_before_mb": rss_before,
            "idle_ms_median": statistics.median(idle) * 1000, "idle_requests": max(requests)}


def scenario_apply_only(info, email, n, data_dir) -> dict:
    """The client's side of a first sync alone: pages fetched first (untimed), then applied and timed."""
    from local_schema.models import SYNCED_TABLES
    from sync.dbutil import table_info
    from sync.pull import Puller

    engine = _engine(info, email, data_dir)
    db = engine.database()
    session = engine.sessions.current()
    puller = Puller(db, engine.rest(), session.user_id, engine.remote_tx, lambda _m: None)
    pages = []
    for table in SYNCED_TABLES:
        cursor = None
        while True:
            rows = puller._fetch(table, cursor)
            if rows:
                pages.append((table, rows, cursor))
            if len(rows) < puller.page_size:
                break
            cursor = rows[-1]["updated_at"]
    from sync import bulkload
    from sync.dbutil import write_tx

    t = time.perf_counter()
    for table, rows, cursor in pages:  # as pull_table does it, search index built once per table
        info_ = table_info(table)
        if cursor is None:
            with db.engine.connect() as conn:
                puller._index_trigger = bulkload.deferrable(conn, table)
        puller._apply_page(info_, rows, puller._scan(info_, rows, cursor), True)
        if len(rows) < puller.page_size and puller._index_trigger is not None:
            puller._index_trigger = None
            with write_tx(db) as conn:
                bulkload.rebuild_if_needed(conn)
    elapsed = time.perf_counter() - t
    return {"rows": puller.result.pulled, "seconds": elapsed, "rows_per_s": puller.result.pulled / elapsed,
            "peak_rss_mb": maxrss_mb()}


def scenario_push(info, email, n, data_dir) -> dict:
    from local_schema.models import Conversation, Message
    from sync.push import Pusher

    engine = _engine(info, email, data_dir)
    db = engine.database()
    with db.session() as s:
        conv = Conversation(title="push bench")
        s.add(conv)
        s.flush()
        s.add_all([Message(conversation_id=conv.id, role="user", content=f"local {i} " + "y" * 290)
                   for i in range(n - 1)])
        s.commit()
    session = engine.sessions.current()
    rest = engine.rest()
    t = time.perf_counter()
    pusher = Pusher(db, rest, session.user_id, engine.remote_tx, set(), lambda *_: None)
    pusher.push_all()
    push_s = time.perf_counter() - t
    push_requests = rest.requests
    t = time.perf_counter()
    cycle = engine.run_cycle()  # pulls the echo of what was pushed
    echo_s = time.perf_counter() - t
    return {"rows": pusher.result.pushed, "seconds": push_s, "rows_per_s": pusher.result.pushed / push_s,
            "requests": push_requests, "echo_pull_s": echo_s, "echo_rows": cycle.pulled,
            "peak_rss_mb": maxrss_mb()}


def scenario_baseline_pull(info, email, n, data_dir) -> dict:
    """Naive: supabase-py select paged by offset, one SQLModel insert (and commit) per row."""
    from local_schema.database import open_database
    from local_schema.models import Message
    from supabase import ClientOptions, create_client

    db = open_database(data_dir / "baseline.sqlite3")
    client = create_client(info["url"], info["anon_key"], options=ClientOptions(auto_refresh_token=False))
    client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    t = time.perf_counter()
    offset, rows, requests = 0, 0, 0
    with db.session() as s:
        # Parents first, or the messages' foreign keys fail.
        from local_schema.models import Conversation

        for conv in client.table("conversations").select("*").execute().data:
            s.add(Conversation(**conv))
            s.commit()
        requests += 1
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
    elapsed = time.perf_counter() - t
    return {"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed, "requests": requests,
            "peak_rss_mb": maxrss_mb()}


def scenario_baseline_push(info, email, n, data_dir) -> dict:
    """Naive: one supabase-py upsert per row."""
    from supabase import ClientOptions, create_client

    client = create_client(info["url"], info["anon_key"], options=ClientOptions(auto_refresh_token=False))
    client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    conv = str(uuid.uuid4())
    client.table("conversations").insert({"id": conv, "title": "baseline"}).execute()
    t = time.perf_counter()
    for i in range(n):
        client.table("messages").upsert({"id": str(uuid.uuid4()), "conversation_id": conv, "role": "user",
                                         "content": f"local {i} " + "y" * 290}).execute()
    elapsed = time.perf_counter() - t
    return {"rows": n, "seconds": elapsed, "rows_per_s": n / elapsed, "requests": n, "peak_rss_mb": maxrss_mb()}


SCENARIOS = {"first_sync": scenario_first_sync, "push": scenario_push, "apply_only": scenario_apply_only,
             "baseline_pull": scenario_baseline_pull, "baseline_push": scenario_baseline_push}


def run_child(argv: list[str]) -> None:
    name, info_json, email, n = argv[0], argv[1], argv[2], int(argv[3])
    with tempfile.TemporaryDirectory() as tmp:
        out = SCENARIOS[name](json.loads(info_json), email, n, Path(tmp))
    print(json.dumps(out))


# -- main ---------------------------------------------------------------------------------------------------
def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        run_child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--push", type=int, default=10_000)
    parser.add_argument("--baseline-rows", type=int, default=5_000)
    parser.add_argument("--baseline-push", type=int, default=1_000)
    parser.add_argument("--no-analyze", action="store_true",
                        help="pull right after the bulk seed, before Postgres has statistics for it")
    args = parser.parse_args()
    proc, info = start_standin()
    try:
        blob = json.dumps(info)
        sizes = [args.rows // 4, args.rows // 2, args.rows]
        first = {}
        for n in sizes:
            email, uid = new_user(info)
            seed_messages(info, uid, n, analyze=not args.no_analyze)
            first[n] = child(["first_sync", blob, email, str(n)])
        apply_only = child(["apply_only", blob, email, str(args.rows)])  # same rows as the biggest sync
        email, _ = new_user(info)
        push = child(["push", blob, email, str(args.push)])
        email, uid = new_user(info)
        seed_messages(info, uid, args.baseline_rows, analyze=not args.no_analyze)
        base_pull = child(["baseline_pull", blob, email, str(args.baseline_rows)])
        email, _ = new_user(info)
        base_push = child(["baseline_push", blob, email, str(args.baseline_push)])
    finally:
        proc.terminate()
        proc.wait(60)

    lines: list[str] = []

    def out(text: str) -> None:
        print(text)
        lines.append(text)

    big = first[args.rows]
    out(f"sync benchmark against the local stand-in ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    stats = "none: pulled right after the bulk seed" if args.no_analyze else "ANALYZEd after the seed"
    out(f"first sync into an empty database (messages ~300 bytes; rows include 10 conversations; "
        f"server statistics {stats}):")
    for n, r in first.items():
        out(f"  {n:>7,} msgs: {r['rows']:>7,} rows in {r['seconds']:.2f} s = {r['rows_per_s']:>8,.0f} rows/s, "
              f"{r['requests']} requests, peak RSS {r['peak_rss_mb']:.0f} MB "
              f"(after opening the db: {r['rss_before_mb']:.0f} MB)")
    out(f"  client side alone (the same {apply_only['rows']:,} rows fetched first, then applied to SQLite, "
        f"FTS included): {apply_only['rows_per_s']:,.0f} rows/s")
    out(f"push of {push['rows']:,} new rows: {push['seconds']:.2f} s = {push['rows_per_s']:,.0f} rows/s, "
          f"{push['requests']} requests, peak RSS {push['peak_rss_mb']:.0f} MB; "
          f"the next cycle pulled the echo ({push['echo_rows']:,} rows) in {push['echo_pull_s']:.2f} s")
    out(f"idle sync: {big['idle_requests']} requests (8 tables), median {big['idle_ms_median']:.1f} ms")
    out(f"baseline pull ({base_pull['rows']:,} rows, offset pages + one SQLModel insert/commit per row): "
          f"{base_pull['rows_per_s']:,.0f} rows/s, {base_pull['requests']} requests")
    out(f"baseline push ({base_push['rows']:,} rows, one upsert per row): {base_push['rows_per_s']:,.0f} rows/s, "
          f"{base_push['requests']} requests")
    out(f"ratios (ours / baseline): first sync x{big['rows_per_s'] / base_pull['rows_per_s']:.1f}, "
          f"push x{push['rows_per_s'] / base_push['rows_per_s']:.1f}")
    out(f"targets: first sync >= 20,000 rows/s -> {big['rows_per_s']:,.0f}; push >= 5,000 rows/s -> "
          f"{push['rows_per_s']:,.0f}; idle <= 8 requests and <= 50 ms -> {big['idle_requests']}, "
          f"{big['idle_ms_median']:.1f} ms; memory {first[sizes[0]]['peak_rss_mb']:.0f} -> "
          f"{big['peak_rss_mb']:.0f} MB for {sizes[0]:,} -> {sizes[-1]:,} rows")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    path = results / time.strftime("sync-%Y%m%d-%H%M%S.txt", time.gmtime())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"(kept in {path.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
