"""Measure the sync engine against the local Supabase stand-in, next to RxDB's Supabase replication plugin.

Run by hand from the repository root: `.venv/bin/python -m bench.bench_sync [--rows 100000]`. Prints the
figures (and keeps them in bench/results/sync-*.txt); asserts nothing. The stand-in runs as its own
process on the same machine, as a developer would run it; each scenario runs in a child process
(bench/sync_scenarios.py), so its peak memory (max RSS) is its own.

- first sync: N messages (~300 bytes) already on the server, pulled into an empty database, at several
  sizes (memory should stay flat as N grows); in-cycle time in a warm process (until every row is stored
  with its cursor and the app is told), then the upkeep the same cycle runs after it (the deferred indexes,
  the search index in chunks, the WAL checkpoint), reported apart and together; the longest write
  transaction (the window waits for the write lock up to 5 s) and that of the search index build;
- the client's side alone: the same pages fetched first, then written;
- RxDB (rxdb + @supabase/supabase-js installed with npm into a temporary folder, in-memory storage) pulling
  the same N rows from the same stand-in in the same run;
- the physical limit (`--compare` sizes, 50,000 and 100,000): the same pages fetched in parallel as the
  engine fetches them and discarded, nothing parsed or written; with the CPU each side spent (client,
  the stand-in's Python, its PostgreSQL) for the first sync, the raw fetch and RxDB, to say where the rest goes;
- push of 10,000 new rows, the whole cycle (the rows it stores from the replies are not pulled again);
- idle sync: requests and time of a cycle in a warm process, and of a cold `mirari sync` process (with
  `-X importtime`: what it imported);
- `--pin` (Linux): the stand-in and its PostgreSQL on one CPU, every client on the others, as when the
  server runs on its own machines; run it beside an unpinned run, which is the one the targets name;
- `--baseline`: the naive client (offset pages, one SQLModel insert/commit per row; one upsert per row).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
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
RXDB_PACKAGES = ("rxdb", "rxjs", "@supabase/supabase-js")


# -- the stand-in and its users ---------------------------------------------------------------------------
def pin_server_apart(info: dict) -> str:
    """`--pin`: the stand-in and its PostgreSQL on the first CPU, this process and every client it starts
    (our scenarios, the raw fetch, RxDB's node) on the others, as when the server runs on its own machines:
    a real project's pages are served by Supabase's hardware, not by the client's cores. Linux only.
    Returns what was pinned, for the report."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("--pin needs at least 2 CPUs")
    server, clients = {cpus[0]}, set(cpus[1:])

    def pin(pid: int) -> None:
        for task in Path(f"/proc/{pid}/task").iterdir():  # every thread (a new one inherits its creator's)
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(task.name), server)

    if not info.get("postmaster_pid"):
        raise SystemExit("--pin: the stand-in's PostgreSQL process was not found")
    pids = [info["standin_pid"], info["postmaster_pid"]]
    for entry in Path("/proc").iterdir():  # PostgreSQL's running processes; new backends fork from the postmaster
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "stat").read_text().rpartition(")")[2].split()[1] == str(info["postmaster_pid"]):
                    pids.append(int(entry.name))
    for pid in pids:
        pin(pid)
    os.sched_setaffinity(0, clients)  # the scenarios, node and `mirari` are children of this process
    return (f"pinned: the stand-in and PostgreSQL ({len(pids)} processes) on CPU {cpus[0]}, the clients on "
            f"CPU {','.join(map(str, sorted(clients)))}")


def start_standin() -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "standin"], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"the stand-in did not start (exit code {proc.wait()})")
    info = json.loads(line)
    info["standin_pid"] = proc.pid  # for the CPU accounting of the scenarios (sync_scenarios.server_cpu)
    with psycopg.connect(info["db_url"]) as conn:
        data_dir = conn.execute("show data_directory").fetchone()[0]
    with contextlib.suppress(OSError):
        info["postmaster_pid"] = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    return proc, info


def new_user(info: dict) -> tuple[str, str]:
    email = f"bench-{uuid.uuid4().hex[:10]}@example.test"
    r = httpx.post(f"{info['url']}/auth/v1/signup", json={"email": email, "password": PASSWORD},
                   headers={"apikey": info["anon_key"]}, timeout=30)
    r.raise_for_status()
    return email, r.json()["user"]["id"]


def seed_messages(info: dict, user_id: str, n: int) -> None:
    """N messages of ~300 bytes in 10 conversations, written as the database owner for speed, then
    ANALYZE (autovacuum does it on a real server long before anyone pulls rows that accumulated over time;
    without statistics the planner answers each page with a scan of every row after the cursor)."""
    with psycopg.connect(info["db_url"], autocommit=True) as conn:
        convs = [str(uuid.uuid4()) for _ in range(10)]
        for c in convs:
            conn.execute("insert into public.conversations (id, user_id, title) values (%s, %s, 'bench')", (c, user_id))
        for start in range(0, n, 20_000):
            conn.execute(
                "insert into public.messages (user_id, conversation_id, role, content) "
                "select %s, (%s::uuid[])[1 + i %% 10], 'assistant', "
                "'message ' || i || ' ' || repeat(md5(i::text), 9) from generate_series(%s::int, %s::int) i",
                (user_id, convs, start + 1, min(n, start + 20_000)))
        conn.execute("analyze public.conversations, public.messages")


def settle(info: dict) -> None:
    """Let the server finish what the bench's own bulk seeding set off before a timed scenario: vacuum and
    analyze now (instead of autovacuum waking up in the middle of the next measurement on the same two
    cores) and checkpoint, as a server that was not just bulk-loaded would be."""
    with psycopg.connect(info["db_url"], autocommit=True) as conn:
        conn.execute("vacuum (analyze) public.conversations, public.messages")
        conn.execute("checkpoint")


def child(name: str, info: dict, email: str, n: int) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.sync_scenarios", name, json.dumps(info), email, str(n)],
                          cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"scenario {name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- RxDB ----------------------------------------------------------------------------------------------------
def rxdb_folder(cached: str | None) -> Path:
    folder = Path(cached) if cached else Path(tempfile.mkdtemp(prefix="mirari-rxdb-"))
    if not (folder / "node_modules" / "rxdb").exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "init", "-y"], cwd=folder, check=True, capture_output=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", *RXDB_PACKAGES], cwd=folder, check=True,
                       capture_output=True, timeout=900)
    shutil.copy(ROOT / "bench" / "rxdb_pull.mjs", folder / "rxdb_pull.mjs")
    return folder


def quoted_filters_refused(info: dict, email: str) -> str | None:
    """The stand-in's answer to RxDB's filter with quoted column names, if it refuses it (else None)."""
    token = httpx.post(f"{info['url']}/auth/v1/token?grant_type=password", json={"email": email, "password": PASSWORD},
                       headers={"apikey": info["anon_key"]}, timeout=30).json()["access_token"]
    r = httpx.get(f"{info['url']}/rest/v1/messages", timeout=30,
                  params={"select": "id", "limit": "1",
                          "or": '("updated_at".gt.2000-01-01T00:00:00+00:00,and("updated_at".eq.2000-01-01T00:00:00'
                                '+00:00,"id".gt.00000000-0000-0000-0000-000000000000))'},
                  headers={"apikey": info["anon_key"], "Authorization": f"Bearer {token}"})
    return None if r.is_success else f"HTTP {r.status_code} {r.text[:160]}"


def run_rxdb(folder: Path, info: dict, email: str, n: int, rewrite: bool) -> dict:
    from bench.sync_scenarios import server_cpu

    server_before = server_cpu(info)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(["node", "rxdb_pull.mjs", info["url"], info["anon_key"], email, PASSWORD, "1000",
                           "1" if rewrite else "0", str(n)], cwd=folder, capture_output=True, text=True, timeout=3600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_after = server_cpu(info)
    if proc.returncode != 0:
        raise SystemExit(f"RxDB failed:\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # (the whole node process and the server around it: sign-in and start-up included)
    out.update(cpu_client_s=after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
               cpu_standin_s=server_after[0] - server_before[0], cpu_postgres_s=server_after[1] - server_before[1])
    return out


# -- the cold command ------------------------------------------------------------------------------------------
def cold_idle(info: dict, email: str, runs: int) -> dict:
    """`mirari sync` in a fresh process each time, nothing to do: wall and CPU of the whole process."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "sync", "local_schema", "desktop", "agent", "mirari"], cwd=ROOT,
                   check=True)  # as an installed package would have its .pyc files
    with tempfile.TemporaryDirectory() as tmp:
        # No OS keychain on a bench machine: the session in the data dir's session.json, by explicit opt-in
        # (the tests' file keyring would import pytest into the timed process).
        env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
               "MIRARI_ALLOW_PLAINTEXT_SESSION": "1", "MIRARI_SUPABASE_URL": info["url"],
               "MIRARI_SUPABASE_ANON_KEY": info["anon_key"], "MIRARI_PASSWORD": PASSWORD, "PYTHONPATH": str(ROOT)}
        mirari = [sys.executable, "-m", "mirari", "--data-dir", f"{tmp}/data"]
        subprocess.run([*mirari, "account", "login", "--email", email], env=env, check=True, capture_output=True)
        subprocess.run([*mirari, "sync"], env=env, check=True, capture_output=True)  # the first sync
        walls, cpus, requests = [], [], []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            out = subprocess.run([*mirari, "sync", "--json"], env=env, check=True, capture_output=True, text=True)
            walls.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            requests.append(json.loads(out.stdout)["requests"])
        traced = subprocess.run([sys.executable, "-X", "importtime", *mirari[1:], "sync"], env=env,
                                capture_output=True, text=True)
    tops = []
    for line in traced.stderr.splitlines():  # "import time: self | cumulative | name" of top-level imports
        found = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if found and not found.group(2).startswith(" "):
            tops.append((int(found.group(1)), found.group(2)))
    heavy = [m for m in ("sqlalchemy", "sqlmodel", "supabase") if any(n == m for _, n in tops)]
    return {"wall_median_s": statistics.median(walls), "cpu_median_s": statistics.median(cpus),
            "requests": max(requests), "top_imports": sorted(tops, reverse=True)[:6], "heavy_imports": heavy}


# -- main ------------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000, help="the first sync compared with RxDB")
    parser.add_argument("--compare", default="50000,100000",
                        help="sizes at which the first sync is compared with RxDB and with the raw fetch")
    parser.add_argument("--sizes", default="25000,50000,100000,200000", help="first-sync sizes (memory)")
    parser.add_argument("--push", type=int, default=10_000)
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--rxdb-dir", help="reuse this folder for the npm install of RxDB")
    parser.add_argument("--no-rxdb", action="store_true")
    parser.add_argument("--baseline", action="store_true", help="also run the naive client (slow)")
    parser.add_argument("--pin", action="store_true",
                        help="the server (stand-in + PostgreSQL) on one CPU, the clients on the others (Linux)")
    args = parser.parse_args()
    compare = sorted({*(int(s) for s in args.compare.split(",") if s), args.rows})
    sizes = sorted({*(int(s) for s in args.sizes.split(",") if s), *compare})
    rx_folder = None if args.no_rxdb else rxdb_folder(args.rxdb_dir)
    proc, info = start_standin()
    pinned = None
    try:
        if args.pin:
            pinned = pin_server_apart(info)
        users, first = {}, {}
        rx, refused, raw = {}, None, {}
        for n in sizes:
            users[n] = new_user(info)
            seed_messages(info, users[n][1], n)
            settle(info)
            first[n] = child("first_sync", info, users[n][0], n)
            if n in compare:  # the same user's rows: ours, the raw fetch and RxDB back to back
                raw[n] = child("raw_fetch", info, users[n][0], n)
                if rx_folder is not None:
                    refused = quoted_filters_refused(info, users[n][0])
                    rx[n] = run_rxdb(rx_folder, info, users[n][0], n, rewrite=refused is not None)
        email = users[args.rows][0]
        apply_only = child("apply_only", info, email, args.rows)
        settle(info)
        push = child("push", info, new_user(info)[0], args.push)
        cold = cold_idle(info, users[min(sizes, key=lambda s: abs(s - 50_000))][0], args.cold_runs)
        base_pull = base_push = None
        if args.baseline:
            email_b, uid_b = new_user(info)
            seed_messages(info, uid_b, 5_000)
            base_pull = child("baseline_pull", info, email_b, 5_000)
            base_push = child("baseline_push", info, new_user(info)[0], 1_000)
    finally:
        proc.terminate()
        proc.wait(60)
    report(args, sizes, first, apply_only, rx, refused, push, cold, base_pull, base_push, raw, compare, pinned)


def report(args, sizes, first, apply_only, rx, refused, push, cold, base_pull, base_push, raw, compare,
           pinned=None) -> None:
    lines: list[str] = []

    def out(text: str) -> None:
        print(text)
        lines.append(text)

    big = first[args.rows]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    out(f"sync benchmark against the local stand-in ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{os.cpu_count()} CPUs, load average {load} at the end)")
    if pinned:
        out(pinned)
    out("first sync into an empty database (messages ~300 bytes, + 10 conversations; in-cycle, warm process):")
    for n in sizes:
        r = first[n]
        out(f"  {n:>7,} msgs: {r['rows']:>7,} rows in {r['seconds']:.2f} s = {r['rows_per_s']:>7,.0f} rows/s, "
            f"then upkeep {r['upkeep_s']:.2f} s (counting it: {r['rows'] / (r['seconds'] + r['upkeep_s']):,.0f} "
            f"rows/s), {r['requests']} requests, peak RSS {r['peak_rss_mb']:.0f} MB (after opening the db: "
            f"{r['rss_before_mb']:.0f} MB); longest write transaction {r['longest_write_tx_s']:.2f} s, of the "
            f"search index build {r['longest_index_tx_s']:.2f} s ({r['index_txs']} chunks), of an index build "
            f"{r['longest_index_build_tx_s']:.2f} s")
    out(f"  client side alone (the same {apply_only['rows']:,} rows fetched first, then written, indexes and "
        f"search included): {apply_only['rows_per_s']:,.0f} rows/s")
    how = ("its quoted filters rewritten without quotes: the stand-in refused them: " + refused) if refused \
        else "its own filters"

    def cpu(r) -> str:
        return (f"CPU: client {r['cpu_client_s']:.2f} s, stand-in {r['cpu_standin_s']:.2f} s, "
                f"PostgreSQL {r['cpu_postgres_s']:.2f} s")

    out("first sync against the physical limit and RxDB, same users, same run (back to back):")
    for n in compare:
        ours, limit, peer = first[n], raw[n], rx.get(n)
        out(f"  {n:>7,}: ours {ours['rows_per_s']:>7,.0f} rows/s ({ours['seconds']:.2f} s in-cycle; {cpu(ours)}, "
            f"then the upkeep's {ours['cpu_upkeep_s']:.2f} s); raw parallel "
            f"fetch, discarded {limit['rows_per_s']:>7,.0f} rows/s ({limit['seconds']:.2f} s, {limit['requests']} "
            f"requests; {cpu(limit)})" + (f"; RxDB {peer['rows_per_s']:>7,.0f} rows/s ({peer['seconds']:.2f} s, "
                                          f"{peer['requests']} requests; {cpu(peer)}, node's start-up included)"
                                          if peer else ""))
        out(f"           ours / raw {ours['rows_per_s'] / limit['rows_per_s']:.0%}"
            + (f", ours / RxDB x{ours['rows_per_s'] / peer['rows_per_s']:.2f}" if peer else "")
            + f"; our writer thread: CPU {ours['writer_cpu_s']:.2f} s, waiting for pages {ours['writer_wait_s']:.2f} s")
    if rx:
        out(f"  RxDB Supabase plugin: in-memory storage, batch 1000, {how}")
    whole = push['seconds'] + push['upkeep_s']
    out(f"push of {push['rows']:,} new rows, whole cycle: {push['seconds']:.2f} s = {push['rows_per_s']:,.0f} rows/s, "
        f"{push['requests']} requests, {push['pulled']} rows pulled back; then upkeep (WAL checkpoint) "
        f"{push['upkeep_s']:.2f} s, run_cycle in all {whole:.2f} s = {push['rows'] / whole:,.0f} rows/s; next cycle "
        f"{push['next_cycle_requests']} request(s), {push['next_cycle_pulled']} rows; peak RSS {push['peak_rss_mb']:.0f} MB")
    out(f"idle cycle, warm process: {big['idle_requests']} request(s), median {big['idle_ms_median']:.1f} ms")
    out(f"idle `mirari sync`, cold process (median of {args.cold_runs}): {cold['wall_median_s']:.2f} s wall, "
        f"{cold['cpu_median_s']:.2f} s CPU, {cold['requests']} request(s); heavy imports: "
        f"{', '.join(cold['heavy_imports']) or 'none'}; top imports (-X importtime, cumulative µs): "
        + ", ".join(f"{name} {us:,}" for us, name in cold["top_imports"]))
    if base_pull is not None:
        out(f"baseline pull ({base_pull['rows']:,} rows, offset pages + one insert/commit per row): "
            f"{base_pull['rows_per_s']:,.0f} rows/s; baseline push ({base_push['rows']:,}, one upsert per row): "
            f"{base_push['rows_per_s']:,.0f} rows/s")
    out(f"targets: first sync of {args.rows:,} >= 40,000 rows/s -> {big['rows_per_s']:,.0f}"
        + "".join(f"; at {n:,} >= 2x RxDB -> x{first[n]['rows_per_s'] / rx[n]['rows_per_s']:.2f}" for n in rx)
        + "".join(f"; at {n:,} >= 80% of raw -> {first[n]['rows_per_s'] / raw[n]['rows_per_s']:.0%}" for n in compare)
        + f"; push >= 10,000 rows/s -> {push['rows_per_s']:,.0f}; idle 1 request, <= 20 ms warm -> "
        f"{big['idle_requests']}, {big['idle_ms_median']:.1f} ms; cold idle <= 1.0 s -> {cold['wall_median_s']:.2f} s; "
        f"search index transactions <= 1 s -> {max(first[n]['longest_index_tx_s'] for n in sizes):.2f} s; memory "
        f"{first[sizes[0]]['peak_rss_mb']:.0f} -> {first[sizes[-1]]['peak_rss_mb']:.0f} MB for "
        f"{sizes[0]:,} -> {sizes[-1]:,} rows")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    path = results / time.strftime("sync-%Y%m%d-%H%M%S.txt", time.gmtime())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"(kept in {path.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
