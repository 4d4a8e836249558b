"""Measure the local mirror at scale: bulk insert with capture + FTS, search latency, open time.

Run by hand from the repository root: `.venv/bin/python -m bench.bench_local_db [--messages 100000]`. Prints timings; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from local_schema.database import open_database
from local_schema.models import Conversation
from local_schema.search import search_messages
from local_schema.timestamps import utc_now

SYLLABLES = ["ka", "ro", "mi", "ten", "sha", "lo", "vin", "du", "pe", "ar", "zu", "ni", "hel", "om", "tri"]


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    """Synthetic words; drawn with a Zipf-like weight so a few are common and most are rare, like chat."""
    words = {"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=500)
    parser.add_argument("--dir", default=None, help="where to create the database (default: a temp dir)")
    args = parser.parse_args()
    rng = random.Random(7)
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="mirari-bench-"))
    path = workdir / "bench.sqlite3"

    started = time.perf_counter()
    db = open_database(path)
    print(f"create + migrate: {time.perf_counter() - started:.3f}s  ({path})")

    with db.write() as session:
        conversations = [Conversation(title=f"thread {i}") for i in range(args.threads)]
        session.add_all(conversations)
    ids = [c.id for c in conversations]
    words = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    common, rare = words[0], words[len(words) // 2]

    started = time.perf_counter()
    with db.write(tables=["messages"]) as session:
        conn = session.connection()
        rows = [
            (
                rng.choice(ids),
                rng.choice(("user", "assistant")),
                " ".join(rng.choices(words, weights, k=40)),
                utc_now(),
            )
            for _ in range(args.messages)
        ]
        conn.exec_driver_sql(
            "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, ?, ?, ?)", rows
        )
    elapsed = time.perf_counter() - started
    print(
        f"insert {args.messages} messages (capture + FTS triggers): {elapsed:.2f}s "
        f"({args.messages / elapsed:,.0f} rows/s)"
    )

    with db.session() as session:
        print("outbox entries:", session.execute(text("SELECT count(*) FROM sync_outbox")).scalar())
        for query in (common, rare, f"{common} {rare}", rare[:3], "nothing-matches-this"):
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                hits = search_messages(session, query, limit=50)
                times.append(time.perf_counter() - t0)
            print(
                f"search {query!r:26} {len(hits):3d} hits  median {statistics.median(times) * 1000:7.1f} ms"
            )
    db.close()

    started = time.perf_counter()
    open_database(path).close()
    print(f"re-open (integrity_check included): {time.perf_counter() - started:.3f}s")
    print(f"file size: {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
