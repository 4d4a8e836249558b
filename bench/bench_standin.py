"""Measure the local Supabase stand-in: one-row GETs per second, 1,000-row pages, and where a page's
time goes (Python/HTTP vs PostgreSQL).

Run by hand from the repository root: `.venv/bin/python -m bench.bench_standin [--requests 2000]`.
The stand-in runs as its own process (`python -m standin`), as a developer would run it;
this process is the client. Prints timings; asserts nothing.

"PostgreSQL" below is the very transaction the server runs for the page (BEGIN READ ONLY, the
set_config pre-statement, the json_agg statement, COMMIT, sent as one query), timed from a psycopg
client on the same machine; "server execution" is EXPLAIN ANALYZE's own time for the statement.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import jwt
import psycopg

from standin import rest_statements
from standin.rest_api import request_settings, request_transaction
from standin.rest_query import parse_query
from standin.rest_sql import Scope, order_sql, select_sql, where_sql

ROOT = Path(__file__).resolve().parents[1]


def start_standin() -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "standin"], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"the stand-in did not start (exit code {proc.wait()})")
    return proc, json.loads(line)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc); robust even on a busy machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def summary(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return (f"median {statistics.median(ms):.2f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.2f} ms, "
            f"mean {statistics.fmean(ms):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="one-row GETs per measurement")
    parser.add_argument("--pages", type=int, default=100, help="1,000-row pages per measurement")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for the throughput run")
    args = parser.parse_args()

    proc, info = start_standin()
    try:
        run(info, args, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def run(info: dict, args, server_pid: int) -> None:
    url, anon = info["url"], info["anon_key"]
    email = f"bench-{uuid.uuid4().hex[:8]}@example.test"
    session = httpx.post(f"{url}/auth/v1/signup", json={"email": email, "password": "bench-password"},
                         headers={"apikey": anon}).json()
    token = session["access_token"]
    headers = {"apikey": anon, "Authorization": f"Bearer {token}"}
    task_id = str(uuid.uuid4())
    with httpx.Client(base_url=f"{url}/rest/v1", headers=headers, timeout=60) as http:
        http.post("/tasks", json={"id": task_id, "title": "one row"}).raise_for_status()
        rows = [{"id": str(uuid.uuid4()), "label": f"memory {i} " + "x" * 60, "category": "bench",
                 "strength": (i % 100) / 100} for i in range(1000)]
        http.post("/memory_nodes", json=rows).raise_for_status()

        print(f"stand-in at {url}; machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
        one_row = f"/tasks?select=*&id=eq.{task_id}"
        assert len(http.get(one_row).json()) == 1
        timed(lambda: http.get(one_row), 200)  # warm-up (pool, prepared statements, caches)
        cpu = cpu_seconds(server_pid)
        samples = timed(lambda: http.get(one_row), args.requests)
        cpu = (cpu_seconds(server_pid) - cpu) / args.requests
        print(f"one-row GET, 1 client (keep-alive): {len(samples) / sum(samples):,.0f} req/s; {summary(samples)}; "
              f"stand-in process CPU {cpu * 1000:.2f} ms/request")

    def worker(n: int, out: list) -> None:
        with httpx.Client(base_url=f"{url}/rest/v1", headers=headers, timeout=60) as client:
            for _ in range(n):
                client.get(one_row).raise_for_status()
        out.append(n)

    done: list = []
    threads = [threading.Thread(target=worker, args=(args.requests // args.clients, done)) for _ in range(args.clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t
    print(f"one-row GET, {args.clients} clients: {sum(done) / elapsed:,.0f} req/s "
          "(client threads share this process's GIL)")

    page_path = "/memory_nodes?select=*&order=updated_at.asc&limit=1000"
    with httpx.Client(base_url=f"{url}/rest/v1", headers=headers, timeout=60) as http:
        body = http.get(page_path).content
        assert len(json.loads(body)) == 1000
        timed(lambda: http.get(page_path).content, 10)
        cpu, own = cpu_seconds(server_pid), time.process_time()
        http_samples = timed(lambda: http.get(page_path).content, args.pages)
        page_cpu = (cpu_seconds(server_pid) - cpu) / args.pages
        client_cpu = (time.process_time() - own) / args.pages
    http_page = statistics.median(http_samples)
    print(f"1,000-row page over HTTP: {1000 / http_page:,.0f} rows/s; {summary(http_samples)}; "
          f"{len(body) / 1024:.0f} KiB JSON; CPU per page: stand-in process {page_cpu * 1000:.2f} ms, "
          f"this httpx client {client_cpu * 1000:.2f} ms")

    # The same transaction, straight to PostgreSQL as the API login role.
    claims = jwt.decode(token, options={"verify_signature": False})
    pre, pre_params = request_settings([("statement_timeout", "8s")], "authenticated", claims, "GET",
                                       "/memory_nodes", {k.lower(): v for k, v in headers.items()})
    q = parse_query([("select", "*"), ("order", "updated_at.asc"), ("limit", "1000")])
    scope = Scope("memory_nodes", None)
    page = rest_statements.page(select_sql(scope, q.select), rest_statements.rel("memory_nodes"),
                                where_sql(scope, q.conditions), order_sql(scope, q.order), q.limit, q.offset)
    statement = rest_statements.read(page, None, False, False)
    stmt, params = statement.text(), statement.params
    # The stand-in's API connections use the cluster's Unix socket; so does this baseline.
    with psycopg.connect(info["db_url"]) as admin:
        socket_dir = admin.execute("SHOW unix_socket_directories").fetchone()[0].split(",")[0].strip()
    rest_dsn = psycopg.conninfo.make_conninfo(info["db_url"], user="authenticator", host=socket_dir)
    transaction = request_transaction(True, pre, stmt)
    with psycopg.connect(rest_dsn, autocommit=True) as conn:

        def one_transaction():  # exactly what the server sends: one query message, one round trip
            cur = psycopg.ClientCursor(conn)
            cur.execute(transaction, [*pre_params, *params], prepare=False)
            cur.nextset()
            cur.nextset()
            return cur.fetchone()

        assert one_transaction()[1] == 1000
        timed(one_transaction, 10)
        pg_samples = timed(one_transaction, args.pages)
        with conn.transaction(force_rollback=True):
            conn.execute(pre, pre_params)
            plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + stmt, params).fetchone()[0]
    pg_page = statistics.median(pg_samples)
    execution = plan[0]["Execution Time"] / 1000
    print(f"same transaction via psycopg: {summary(pg_samples)}; server execution (EXPLAIN ANALYZE) "
          f"{execution * 1000:.2f} ms")
    print(f"page time split (medians): PostgreSQL {pg_page * 1000:.2f} ms ({pg_page / http_page:.0%}), "
          f"Python + HTTP (server and this client) {(http_page - pg_page) * 1000:.2f} ms "
          f"({(http_page - pg_page) / http_page:.0%}), of which stand-in CPU {page_cpu * 1000:.2f} ms "
          f"({page_cpu / http_page:.0%})")


if __name__ == "__main__":
    main()
