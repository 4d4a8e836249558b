#!/usr/bin/env python3
"""Conversations as trees at scale (run by hand; figures go in the closing note, never into asserts).

    .venv/bin/python bench/bench_tree.py          # the queries (no Qt)
    .venv/bin/python bench/bench_tree.py --gui    # also the window: click to first paint of the transcript

1. Opening a thread of 10,000 messages with 1,000 branches (a 9,000-message active path, 1,000 sibling
   replies along it): the Console's first page of the active path (desktop.queries.tail_window, what
   the transcript's open Op runs), the whole active path's ids, every message with its siblings
   (`mirari threads show --all`).                                                       target <= 100 ms
2. A 10,000-deep path: the prompt for its next turn (agent.prompt.assemble_prompt: the last 40 of the
   path, memory, skills, settings) and the walk of the whole path.                      target <= 20 ms
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")

SEQ0 = 1_700_000_000_000_000


def build_thread(db, path_length: int, branches: int, title: str) -> tuple[str, str]:
    """A thread whose active path holds `path_length` messages, with one sibling reply off every
    (path_length // branches)-th reply of it. Returns (thread id, leaf id)."""
    thread = str(uuid.uuid4())
    rows, parent, seq = [], None, SEQ0
    every = max(1, path_length // branches) if branches else 0
    made = 0
    for i in range(path_length):
        role = "user" if i % 2 == 0 else "assistant"
        message = str(uuid.uuid4())
        seq += 1000
        rows.append((message, thread, role, f"[{i}] " + "lorem ipsum dolor sit amet " * 8, seq, parent))
        if branches and role == "assistant" and made < branches and i % every in (0, 1):
            seq += 1000
            rows.append((str(uuid.uuid4()), thread, "assistant", f"[{i}] another answer", seq, parent))
            made += 1
        parent = message
    with db.write() as session:
        conn = session.connection()
        conn.exec_driver_sql("INSERT INTO conversations (id, title, active_leaf_id) VALUES (?, ?, ?)",
                             (thread, title, parent))
        conn.exec_driver_sql("INSERT INTO messages (id, conversation_id, role, content, seq, parent_id) "
                             "VALUES (?, ?, ?, ?, ?, ?)", rows)
    return thread, parent


def timed(fn, runs: int = 30) -> dict:
    first = time.perf_counter()
    fn()
    cold = (time.perf_counter() - first) * 1000
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return {"cold_ms": cold, "median_ms": statistics.median(samples), "worst_ms": max(samples)}


def show(name: str, t: dict, target: float | None = None) -> None:
    aim = f"   [target <= {target:g} ms]" if target else ""
    print(f"  {name}: {t['median_ms']:.2f} ms median, worst {t['worst_ms']:.2f} ms, first {t['cold_ms']:.2f} ms{aim}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gui", action="store_true", help="also measure opening the thread in the window")
    args = parser.parse_args()
    from agent.chat import tree
    from agent.chat.threads import count_messages_in
    from agent.prompt import assemble_prompt_in, history_in
    from desktop import queries
    from desktop.pages.console.transcript import FIRST_PAGE
    from local_schema.database import open_database
    from local_schema.models import AgentConnection, Conversation, Message

    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "bench.sqlite3")
        branched, _ = build_thread(db, 9_000, 1_000, "Ten thousand, a thousand branches")
        deep, deep_leaf = build_thread(db, 10_000, 0, "Ten thousand deep")
        for i in range(20):  # other threads around it, as in a used database
            build_thread(db, 500, 50, f"other {i}")
        with db.session() as s:
            total = count_messages_in(s, branched)
        with db.write() as w:
            connection = AgentConnection(name="bench", provider="custom", base_url="http://127.0.0.1:9/v1",
                                         model="m", system_prompt="You are a benchmark.")
            w.add(connection)
        print(f"MIRARI tree benchmarks — {os.cpu_count()} CPUs, SQLite file in {tmp}")
        print(f"1. a thread of {total:,} messages with 1,000 branches (active path 9,000)")
        first_page = timed(lambda: queries.tail_window(db, branched, FIRST_PAGE))
        show(f"first page of the active path ({FIRST_PAGE} messages, desktop.queries.tail_window)", first_page, 100)

        def whole_path():
            with db.session() as s:
                return tree.path_ids_in(s, branched, tree.active_leaf_in(s, s.get(Conversation, branched)))
        show(f"the whole active path's ids ({len(whole_path()):,})", timed(whole_path, 10))

        def every_message():
            with db.session() as s:
                return tree.tree_rows_in(s, branched)
        show("every message with its siblings (threads show --all)", timed(every_message, 5))

        print("2. a 10,000-deep path")

        def prompt():
            with db.session() as s:
                leaf = s.get(Message, deep_leaf)
                return assemble_prompt_in(s, s.get(AgentConnection, connection.id), deep, leaf)
        assert len(prompt().messages) == 42  # system + 40 + the new message
        show("the prompt for its next turn (assemble_prompt_in)", timed(prompt), 20)

        def history_only():
            with db.session() as s:
                return history_in(s, deep, s.get(Message, deep_leaf))
        show("  of which the history (the last 40 of the path, agent.prompt.history)", timed(history_only))

        def deep_walk():
            with db.session() as s:
                return tree.path_ids_in(s, deep, deep_leaf)
        assert len(deep_walk()) == 10_000
        show("the walk of the whole path (10,000 parents)", timed(deep_walk, 10))
        if args.gui:
            db.close()
            print(f"3. the window: click to the transcript's first paint: {gui_open(Path(tmp), branched):.0f} ms median")
        else:
            db.close()
    return 0


def gui_open(data_dir: Path, thread: str) -> float:
    """Median click-to-paint of the branched thread in a real window (bench_desktop's method)."""
    import shutil

    from PySide6.QtCore import QEvent, QObject

    from bench.bench_desktop import _close, _pump, _window

    home = data_dir / "gui"
    home.mkdir()
    shutil.copy(data_dir / "bench.sqlite3", home / "local.sqlite3")
    app, window = _window(home)
    console = window.show_page("console")
    console.refresh_threads()
    _pump(app, 0.5)

    class PaintWatch(QObject):
        painted_at = None

        def eventFilter(self, obj, event):  # noqa: N802
            if event.type() == QEvent.Type.Paint and self.painted_at is None and console.transcript.rowCount():
                self.painted_at = time.perf_counter()
            return False

    watch = PaintWatch()
    console.view.viewport().installEventFilter(watch)
    samples = []
    other = next(t.id for t in console.threads.rows() if t.id != thread)
    for i in range(8):
        target = thread if i % 2 == 0 else other
        console.transcript.reset_window(None, [])
        _pump(app, 0.1)
        watch.painted_at = None
        start = time.perf_counter()
        console.thread_view.setCurrentIndex(console.threads.index(console.threads.row_of(target)))
        while watch.painted_at is None and time.perf_counter() - start < 5:
            app.processEvents()
        if target == thread:
            samples.append((watch.painted_at - start) * 1000)
    _close(app, window)
    return statistics.median(samples)


if __name__ == "__main__":
    sys.exit(main())
