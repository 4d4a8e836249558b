#!/usr/bin/env python3
"""Observatory benchmark (run by hand; figures go in the closing note, never into asserts).

    .venv/bin/python bench/bench_observatory.py             # offscreen
    xvfb-run -a .venv/bin/python bench/bench_observatory.py   # a real X server

A database with 100,000 messages (500 threads over the last 60 days, ~1 % deleted, every insert still
waiting in the sync outbox as after a long offline stretch), 400 skills, 600 memory nodes, 3
connections, 60 tasks and 12 templates. Measured:
1. agent.observatory.stats.collect() alone — the tiles, the 14 days and the connections, on a pool thread's
   connection (what the page's background op runs);
2. the whole page, as the window builds it (with its sync controller, not signed in):
   ObservatoryPage.refresh() until its `loaded` signal — the counting off the UI thread (an Op), the
   last-sync record, and every widget filled — median and worst of 20; target <= 100 ms;
   beside it, what the sync controller's own count of waiting/refused changes costs (its own op,
   shown on the page when it ends): with all 100,000+ changes waiting, and with none (after a sync);
3. what counting the messages row by row would cost instead of summing `message_counts` (local
   migration v7): the same total and 14 day counts straight from `messages` and its created_at index.
Results are printed and saved as JSON under bench/results/.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")

MESSAGES, THREADS, RUNS = 100_000, 500, 20


def build(db) -> None:
    from sqlalchemy import text

    from local_schema.timestamps import format_timestamp
    from standin.demo.seed import add_connection, add_thread, long_messages

    rng = random.Random(13)
    now = datetime.now(UTC)
    connections = [add_connection(db, name, "http://127.0.0.1:9/v1", "hermes3", status=status)
                   for name, status in (("Hermes · Local", "online"), ("OpenRouter", "offline"), ("Work", "error"))]
    per_thread = MESSAGES // THREADS
    for i in range(THREADS):
        start = now - timedelta(days=rng.uniform(0, 60))
        add_thread(db, f"Thread {i}", long_messages(per_thread), rng.choice(connections), start=start)
    with db.write() as s:
        s.execute(text("UPDATE messages SET deleted_at = :t WHERE rowid % 97 = 0"), {"t": format_timestamp(now)})
        s.execute(text("INSERT INTO skills (id, name, status, template_prompt, created_at, updated_at) "
                       "VALUES (:id, :n, :s, 'p', :t, :t)"),
                  [{"id": str(uuid.uuid4()), "n": f"skill {i}", "s": rng.choice(["suggested", "promoted"]),
                    "t": format_timestamp(now - timedelta(days=rng.uniform(0, 30)))} for i in range(400)])
        s.execute(text("INSERT INTO memory_nodes (id, label, strength) VALUES (:id, :l, 0.5)"),
                  [{"id": str(uuid.uuid4()), "l": f"fact {i}"} for i in range(600)])
        s.execute(text("INSERT INTO tasks (id, title, status) VALUES (:id, :t, :s)"),
                  [{"id": str(uuid.uuid4()), "t": f"task {i}", "s": rng.choice(["pending", "in_progress", "done"])}
                   for i in range(60)])
        s.execute(text("INSERT INTO templates (id, name, payload) VALUES (:id, :n, :p)"),
                  [{"id": str(uuid.uuid4()), "n": f"template {i}", "p": '{"skills":[],"seed_memory":[]}'}
                   for i in range(12)])


def collect_times(db, runs: int = RUNS) -> dict:
    from agent.observatory.stats import collect

    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        numbers = collect(db)
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(samples), "worst_ms": max(samples), "first_ms": samples[0],
            "messages": numbers.tiles["messages"], "in_chart": sum(d.messages for d in numbers.days)}


def direct_times(db, runs: int = RUNS) -> dict:
    from agent.observatory.stats import _utc_text, day_bounds

    samples = []
    with db.engine.connect() as conn:
        for _ in range(runs):
            started = time.perf_counter()
            conn.exec_driver_sql("SELECT count(*) FROM messages WHERE deleted_at IS NULL").scalar()
            for _day, start, end in day_bounds(datetime.now(UTC)):
                conn.exec_driver_sql("SELECT count(*) FROM messages WHERE deleted_at IS NULL AND created_at >= ? "
                                     "AND created_at < ?", (_utc_text(start), _utc_text(end))).scalar()
            samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(samples), "worst_ms": max(samples)}


def waiting_times(db, runs: int = RUNS) -> dict:
    from sync.parked import counts

    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        counts(db)
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(samples), "worst_ms": max(samples)}


def page_times(data_dir: Path, db, runs: int = RUNS) -> dict:
    from desktop.app import ensure_app
    from desktop.context import AppContext
    from desktop.ops import wait_idle
    from desktop.pages.observatory.page import ObservatoryPage
    from desktop.settings_store import AppSettings
    from desktop.sync_controller import SyncController

    app = ensure_app()
    ctx = AppContext(data_dir=data_dir, settings=AppSettings(data_dir), db=db)
    ctx.sync = SyncController(ctx)  # as in the window; not started: nobody is signed in
    samples: list[float] = []
    page = ObservatoryPage(ctx)  # its first refresh starts here (cold: imports on the pool thread)
    page.loaded.connect(lambda seconds: samples.append(seconds * 1000))
    page.resize(1180, 760)
    page.show()
    while not samples:
        app.processEvents()
        wait_idle(5)
    first = samples.pop()
    for _ in range(runs):
        count = len(samples)
        page.refresh()
        while len(samples) == count:
            app.processEvents()
            wait_idle(1)
    page.close()
    return {"median_ms": statistics.median(samples), "worst_ms": max(samples), "first_ms": first,
            "samples_ms": [round(s, 2) for s in samples], "tiles": {k: t.value.text() for k, t in page.tiles.items()}}


def main() -> int:
    from local_schema.database import open_database
    from local_schema.paths import database_path

    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="mirari-obs-bench-") as tmp:
        data_dir = Path(tmp)
        db = open_database(database_path(data_dir))
        started = time.perf_counter()
        build(db)
        results["build_s"] = round(time.perf_counter() - started, 1)
        with db.engine.connect() as conn:
            results["outbox_pending"] = conn.exec_driver_sql(
                "SELECT count(*) FROM sync_outbox WHERE state = 'pending'").scalar()
        results["collect"] = collect_times(db)
        results["page"] = page_times(data_dir, db)
        results["waiting_count"] = waiting_times(db)
        with db.write() as s:
            s.exec(__import__("sqlalchemy").text("DELETE FROM sync_outbox"))
        results["waiting_count_after_sync"] = waiting_times(db)
        results["direct_count"] = direct_times(db)
        db.close()
    c, p, w = results["collect"], results["page"], results["direct_count"]
    print(f"database: {c['messages']:,} live messages ({c['in_chart']:,} in the last 14 days), "
          f"{results['outbox_pending']:,} changes waiting to sync; built in {results['build_s']} s")
    print(f"1. stats.collect(): median {c['median_ms']:.1f} ms, worst {c['worst_ms']:.1f} ms, "
          f"first {c['first_ms']:.1f} ms")
    print(f"2. whole page (refresh -> loaded, counted off the UI thread): median {p['median_ms']:.1f} ms, "
          f"worst {p['worst_ms']:.1f} ms of {len(p['samples_ms'])}; first show {p['first_ms']:.1f} ms "
          f"[target <= 100 ms]")
    q, r = results["waiting_count"], results["waiting_count_after_sync"]
    print(f"   the sync controller's waiting/refused count, its own op: {q['median_ms']:.1f} ms median "
          f"(worst {q['worst_ms']:.1f}) with {results['outbox_pending']:,} changes waiting; "
          f"{r['median_ms']:.1f} ms (worst {r['worst_ms']:.1f}) after a sync")
    print(f"3. the messages counted row by row instead (total + 14 days): median {w['median_ms']:.1f} ms, "
          f"worst {w['worst_ms']:.1f} ms")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"observatory-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"saved {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
