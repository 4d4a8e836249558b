#!/usr/bin/env python3
"""Knowledge folders benchmark (run by hand; figures go in the closing note and docs, never into asserts).

    .venv/bin/python bench/bench_knowledge.py [--files 10000] [--mb 40]

One run measures, on a generated corpus of Markdown notes (words drawn from a Zipf-like vocabulary, so
term statistics look like prose; fixed seed):
1. indexing: `agent.knowledge.index.reindex` of the whole folder into a fresh index — what the window
   and `mirari knowledge add` run: a separate indexing process, started, fed and waited for — megabytes
   of text per second by the wall clock (process start included), and per CPU-second of that process
   (user + system, both its threads; this 2-core machine is shared, so the CPU figure says what the
   work costs, the wall figure what this machine's load left of it); --index-runs times (default 3), each
   into a new set, median and best reported; target >= 20 MB/s;
2. search over the 10,000 files: 200 queries of 2 to 4 words (common and rare), `search()` as the page
   and the command run it — median, p95 and worst; target <= 50 ms;
3. the UI while indexing: the real Knowledge page runs a full reindex of the same folder as a long job
   (desktop.jobs), while a 5 ms timer on the UI thread records the gaps between its ticks; the worst
   gap beyond the timer's own period is the stall; target <= 20 ms.
Results are printed and saved as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")


def make_corpus(root: Path, files: int, megabytes: float, seed: int = 7) -> tuple[int, list[str]]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = list(dict.fromkeys("".join(rng.choice(letters) for _ in range(rng.randint(2, 11)))
                                    for _ in range(60_000)))
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]  # Zipf: a few words everywhere
    per_file = int(megabytes * 1024 * 1024 / files)
    total = 0
    for n in range(files):
        words = rng.choices(vocabulary, weights, k=per_file // 6)
        lines, line = [f"# Note {n}", ""], []
        for word in words:
            line.append(word)
            if len(line) >= rng.randint(8, 16):
                lines.append(" ".join(line))
                line = []
                if rng.random() < 0.1:
                    lines.append("")
        text = "\n".join(lines) + "\n"
        path = root / f"topic{n % 97:02}" / f"note{n:05}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        total += len(text.encode())
    return total, vocabulary


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children: the indexing processes."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_index(db, root: Path, total: int, runs: int) -> dict:
    """`runs` full indexes of the folder, each as a new set (a fresh index): the machine is shared, so one
    run says little; the search then uses the first set."""
    from agent.knowledge.index import add_set, index_files, reindex, set_by_name

    mb = total / 1024 / 1024
    measured = []
    for run in range(runs):
        name = "corpus" if run == 0 else f"corpus{run + 1}"
        add_set(db, name, root)
        cpu, wall = _children_cpu(), time.perf_counter()
        report = reindex(db, name)
        wall, cpu = time.perf_counter() - wall, _children_cpu() - cpu
        measured.append({"wall_s": round(wall, 2), "wall_mb_per_s": round(mb / wall, 1), "cpu_s": round(cpu, 2),
                         "cpu_mb_per_s": round(mb / cpu, 1), "load_average": round(os.getloadavg()[0], 1)})
    walls = sorted(m["wall_mb_per_s"] for m in measured)
    return {"files": report.files, "megabytes": round(mb, 1), "passages": report.passages,
            "shards": len(index_files(db, set_by_name(db, "corpus")[0])),
            "median_wall_mb_per_s": walls[len(walls) // 2], "best_wall_mb_per_s": walls[-1], "runs": measured}


def bench_search(db, vocabulary: list[str], runs: int = 200) -> dict:
    from agent.knowledge.search import search

    rng = random.Random(3)
    queries = [" ".join(rng.choice(vocabulary[:2000] if rng.random() < 0.5 else vocabulary)
                        for _ in range(rng.randint(2, 4))) for _ in range(runs)]
    search(db, "corpus", queries[0])  # warm the page cache, as a second search in the window is
    times, hits = [], 0
    for query in queries:
        started = time.perf_counter()
        hits += bool(search(db, "corpus", query, 10))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"queries": runs, "with_hits": hits, "median_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(runs * 0.95) - 1], 2), "max_ms": round(times[-1], 2)}


def _tick_stalls(app, seconds: float | None, done: threading.Event | None = None) -> tuple[list[float], int]:
    """Stalls (ms beyond the 5 ms period) of a 5 ms timer on the UI thread, for `seconds` or until `done`."""
    from PySide6.QtCore import QTimer

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    started = time.perf_counter()
    while time.perf_counter() - started < (seconds or 600) and not (done is not None and done.is_set()):
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    stalls = sorted(max(0.0, (b - a) * 1000 - 5) for a, b in zip(ticks, ticks[1:], strict=False))
    return stalls, len(ticks)


def _summary(stalls: list[float], ticks: int) -> dict:
    return {"ticks": ticks, "worst_stall_ms": round(stalls[-1], 1),
            "p99_stall_ms": round(stalls[int(len(stalls) * 0.99)], 1), "stalls_over_20ms": sum(s > 20 for s in stalls)}


def bench_ui(db, root: Path) -> dict:
    from types import SimpleNamespace

    from PySide6.QtWidgets import QApplication

    from agent.knowledge.index import add_set
    from desktop.pages.knowledge.page import KnowledgePage

    app = QApplication.instance() or QApplication([])
    from desktop.jobs import JobRunner

    page = KnowledgePage(SimpleNamespace(db=db, jobs=JobRunner()))
    page.resize(1000, 700)
    page.show()
    idle = _summary(*_tick_stalls(app, 5.0))  # the same timer with nothing running: the machine's own noise
    add_set(db, "again", root)  # the same folder as a new set: a full index
    done = threading.Event()
    started = time.perf_counter()
    page.reindex("again")
    page.job.finished.connect(lambda _r: done.set())
    page.job.failed.connect(lambda _e: done.set())
    busy = _summary(*_tick_stalls(app, None, done))
    busy["index_s"] = round(time.perf_counter() - started, 1)
    page.close()
    return {"while_indexing": busy, "idle_baseline": idle}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--mb", type=float, default=40.0, help="megabytes of text in the corpus")
    parser.add_argument("--index-runs", type=int, default=3, help="full indexes of the corpus, each a new set")
    args = parser.parse_args(argv)
    from local_schema.database import open_database

    with tempfile.TemporaryDirectory(prefix="mirari-knowledge-") as tmp:
        root = Path(tmp) / "corpus"
        total, vocabulary = make_corpus(root, args.files, args.mb)
        db = open_database(Path(tmp) / "local.sqlite3")
        try:
            results = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                       "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
                       "index": bench_index(db, root, total, args.index_runs), "search": bench_search(db, vocabulary),
                       "ui_while_indexing": bench_ui(db, root)}
        finally:
            db.close()
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"knowledge-{results['when'][:19].replace(':', '')}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
