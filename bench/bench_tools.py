#!/usr/bin/env python3
"""Tool benchmarks (run by hand; figures go in the closing note and docs/tools.md, never into asserts).

    .venv/bin/python bench/bench_tools.py [--calls 300]

1. one stdio tool round trip through ToolHost (the suite's fixture MCP server, `echo`), after warm-up:
   median / p95 / max of the call as a caller sees it (thread -> event loop -> server -> back);
2. what one tool call adds to a turn: a ToolLoop turn with one call (two requests to the fake endpoint,
   the call, both messages stored in a real thread) minus a turn without tools (one request, one message);
                                                                                  target <= 50 ms
3. the longest UI event-loop stall while the Tools page's tester runs 50 calls one after another and one
   slow call (a 2 ms timer measures the gaps between its ticks, offscreen Qt);      target <= 20 ms
Results are printed and saved as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def spec():
    from agent.tools.host import ServerSpec

    return ServerSpec("fx", "stdio", command=sys.executable, args=("-m", "standin.mcp_fixture_server"),
                      env={"PYTHONPATH": str(ROOT)})


def round_trips(host, n: int) -> dict:
    for _ in range(20):
        host.call("fx", "echo", {"text": "warm"})
    times = []
    for i in range(n):
        started = time.perf_counter()
        host.call("fx", "echo", {"text": f"call {i}"})
        times.append(time.perf_counter() - started)
    times.sort()
    return {"calls": n, "median_ms": ms(statistics.median(times)), "p95_ms": ms(times[int(n * 0.95) - 1]),
            "max_ms": ms(times[-1])}


def turn_cost(host, turns: int) -> dict:
    from agent.chat.threads import new_thread
    from agent.llm.client import LLMClient
    from agent.tools.config import add_stdio_server, get_server, record_tools
    from agent.tools.loop import ALLOW_ONCE, ToolLoop, host_runner
    from agent.tools.store import ThreadStorage
    from agent.tools.toolset import build_toolset
    from local_schema.database import open_database
    from standin.model import FakeLLM, Reply

    folder = Path(tempfile.mkdtemp(prefix="mirari-bench-tools-"))
    db = open_database(folder / "local.sqlite3")
    s = spec()
    add_stdio_server(db, "fx", s.command, s.args, s.env)
    record_tools(db, "fx", host.tools("fx"))
    toolset = build_toolset([get_server(db, "fx")])
    thread = new_thread(db).id
    prompt = [{"role": "user", "content": "Echo something."}]
    with FakeLLM() as fake:
        client = LLMClient(fake.base_url, "fake-model")

        def one(with_tool: bool) -> float:
            if with_tool:
                fake.enqueue(Reply(text="", tool_calls=[{"id": "c1", "name": "fx__echo", "arguments": '{"text": "hi"}'}]),
                             Reply(text="Done."))
            else:
                fake.enqueue(Reply(text="Done."))
            loop = ToolLoop(client, toolset if with_tool else build_toolset([]), run_tool=host_runner(host),
                            approve=lambda call: ALLOW_ONCE, storage=ThreadStorage(db, thread))
            started = time.perf_counter()
            loop.run(prompt)
            return time.perf_counter() - started

        for _ in range(5):
            one(True), one(False)
        plain = sorted(one(False) for _ in range(turns))
        tooled = sorted(one(True) for _ in range(turns))
        client.close()
    db.close()
    return {"turns": turns, "plain_turn_median_ms": ms(statistics.median(plain)),
            "turn_with_one_call_median_ms": ms(statistics.median(tooled)),
            "added_by_one_call_ms": ms(statistics.median(tooled) - statistics.median(plain))}


def ui_stall(host) -> dict:
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from agent.tools.config import ToolState
    from desktop.ops import wait_idle
    from desktop.pages.tools.tester import ToolTester

    app = QApplication.instance() or QApplication([])
    tester = ToolTester(lambda server, tool, arguments, cancel: host.call(server, tool, arguments, cancel=cancel))
    tester.set_tools("fx", [ToolState("echo", "", {"type": "object"}), ToolState("slow", "", {"type": "object"})])
    tester.show()
    gaps: list[int] = []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(2)
    timer.timeout.connect(lambda: gaps.append(clock.restart()))
    clock.start()
    timer.start()
    runs = 0

    def run(tool: str, arguments: str) -> None:
        nonlocal runs
        tester.tool.setCurrentText(tool)
        tester.arguments.setPlainText(arguments)
        done = []
        tester.ran.connect(lambda _r: done.append(1))
        tester.run()
        while not done:
            app.processEvents()
            time.sleep(0.0005)
        tester.ran.disconnect()
        runs += 1

    for i in range(50):
        run("echo", json.dumps({"text": f"t{i}"}))
    run("slow", '{"seconds": 1}')
    timer.stop()
    wait_idle()
    gaps = gaps[5:]
    return {"tester_runs": runs, "ticks": len(gaps), "longest_stall_ms": max(gaps) if gaps else None,
            "p99_gap_ms": sorted(gaps)[int(len(gaps) * 0.99)] if gaps else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--turns", type=int, default=30)
    args = parser.parse_args()
    from agent.tools.host import ToolHost

    host = ToolHost(start_timeout=120)
    started = time.perf_counter()
    host.connect(spec())
    results = {"server_start_ms": ms(time.perf_counter() - started)}
    try:
        results["round_trip"] = round_trips(host, args.calls)
        results["turn"] = turn_cost(host, args.turns)
        results["ui"] = ui_stall(host)
    finally:
        host.close()
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"tools-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
