"""Measure the local mirror at scale: bulk insert with capture + FTS, search latency, open time, and
what write tracking (which tables a write() wrote, local_schema/write_tracking.py) costs.

Run by hand from the repository root: `.venv/bin/python -m bench.bench_local_db [--messages 100000]`
(`--write-path` for the write-tracking part alone). Prints timings; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, text

from local_schema import write_tracking
from local_schema.database import open_database
from local_schema.models import Conversation, MemoryNode
from local_schema.search import search_messages
from local_schema.timestamps import utc_now

SYLLABLES = ["ka", "ro", "mi", "ten", "sha", "lo", "vin", "du", "pe", "ar", "zu", "ni", "hel", "om", "tri"]


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    """Synthetic words; drawn with a Zipf-like weight so a few are common and most are rare, like chat."""
    words = {"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def _untracked(db):
    """`db` without write tracking: no statement hooks, no authorizer (what write() cost before it)."""
    event.remove(db.engine, "before_cursor_execute", write_tracking.before_cursor_execute)
    event.remove(db.engine, "after_cursor_execute", write_tracking.after_cursor_execute)
    event.listen(db.engine, "connect", lambda dbapi_conn, _record: dbapi_conn.set_authorizer(None))
    db.engine.dispose()
    return db


def write_path(workdir: Path, reps: int = 20) -> None:
    """1,000-row writes with and without write tracking, interleaved in one process (the machine's load
    drifts; alternating A and B cancels it). CPU time of this thread, median of `reps`."""
    tracked = open_database(workdir / "tracked.sqlite3")
    untracked = _untracked(open_database(workdir / "untracked.sqlite3"))

    def scenarios(db):
        with db.write() as session:
            conversation = Conversation(title="bench")
            session.add(conversation)
        cid = conversation.id

        def orm_rows():
            with db.write() as session:
                session.add_all([MemoryNode(label=f"n{i}", category="fact", strength=0.5, source="manual")
                                 for i in range(1000)])

        def raw_rows():
            with db.write() as session:
                session.connection().exec_driver_sql(
                    "INSERT INTO messages (conversation_id, role, content) VALUES (?, ?, ?)",
                    [(cid, "user", f"hello {i}") for i in range(1000)])

        def small_writes():
            for i in range(200):
                with db.write() as session:
                    session.execute(text("UPDATE conversations SET title = :t WHERE id = :id"), {"t": str(i), "id": cid})

        def reads():
            for _ in range(200):
                with db.session() as session:
                    session.execute(text("SELECT title FROM conversations WHERE id = :id"), {"id": cid}).scalar()

        return {"ORM: 1,000 rows in one write()": orm_rows, "raw executemany: 1,000 rows in one write()": raw_rows,
                "200 write() blocks of one UPDATE": small_writes, "200 read sessions of one SELECT": reads}

    runs = {"tracked": scenarios(tracked), "untracked": scenarios(untracked)}
    times: dict[tuple[str, str], list[float]] = {}
    for rep in range(reps):
        for name in runs["tracked"]:
            for kind in (("untracked", "tracked") if rep % 2 else ("tracked", "untracked")):
                started = time.thread_time()
                runs[kind][name]()
                times.setdefault((kind, name), []).append(time.thread_time() - started)
    print(f"write tracking, CPU ms (median of {reps}, interleaved):")
    for name in runs["tracked"]:
        before = statistics.median(times[("untracked", name)]) * 1000
        after = statistics.median(times[("tracked", name)]) * 1000
        print(f"  {name:44s} untracked {before:7.1f}  tracked {after:7.1f}  ({(after / before - 1) * 100:+.0f} %)")
    tracked.close()
    untracked.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=500)
    parser.add_argument("--dir", default=None, help="where to create the database (default: a temp dir)")
    parser.add_argument("--write-path", action="store_true", help="only the write-tracking measurement")
    args = parser.parse_args()
    rng = random.Random(7)
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="mirari-bench-"))
    if args.write_path:
        write_path(workdir)
        return
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
    with db.write() as session:
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
    write_path(workdir)


if __name__ == "__main__":
    main()
