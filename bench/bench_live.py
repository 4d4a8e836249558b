"""Live sync, measured: two devices on the local stand-in in the same run (issue 24's targets).

Run by hand from the repository root: `.venv/bin/python -m bench.bench_live [--samples 40]`. Prints the
figures (kept in bench/results/live-*.txt); asserts nothing. The stand-in runs as its own process with a
kept data dir (so it can be restarted with the same keys); device B is a real `mirari sync --watch --json`
process (the poll at 60 s while its socket is up: pokes move it); device A is an engine in this process that
writes a message and pushes it, as a window's cycle would.

- latency: commit on the server (the row's own `updated_at` stamp, taken by the server on this same host)
  → the row in B's SQLite file (polled every 2 ms); p50 / p95 / max over `--samples` single messages, one
  every 0.6-1.4 s;
- idle: the stand-in's HTTP requests and heartbeats over 30 s while B's socket is healthy and nothing changes;
- burst: 200 new messages written on A in ~1 s (A's scheduler as in the window, 0.5 s debounce), then 200
  edits of them (200 PATCH requests: 200 server transactions, 200 pokes): how many cycles B runs for each;
- restart: the stand-in stopped and started again; from the moment it serves, how long until a message A
  pushes then is in B's database (B's socket has to notice, reconnect and run its full cycle).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-123"


# -- the stand-in -------------------------------------------------------------------------------------------
class StandIn:
    def __init__(self, data_dir: Path):
        self.data_dir, self.port, self.proc, self.info = data_dir, None, None, None

    def start(self) -> float:
        args = [sys.executable, "-m", "standin", "--data-dir", str(self.data_dir)]
        if self.port:
            args += ["--port", str(self.port)]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the stand-in did not start (exit code {self.proc.wait()})")
        self.info = json.loads(line)
        self.port = int(self.info["url"].rsplit(":", 1)[1])
        return time.monotonic()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)

    def stats(self) -> dict:
        r = httpx.get(f"{self.info['url']}/standin/v1/stats", headers={"apikey": self.info["service_role_key"]},
                      timeout=30)
        r.raise_for_status()
        return r.json()


# -- device B: `mirari sync --watch --json` ----------------------------------------------------------------
def cli_env(info: dict) -> dict:
    # No OS keychain on a bench machine: the session in the data dir's session.json, by explicit opt-in.
    return {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "MIRARI_ALLOW_PLAINTEXT_SESSION": "1", "MIRARI_SUPABASE_URL": info["url"],
            "MIRARI_SUPABASE_ANON_KEY": info["anon_key"], "MIRARI_PASSWORD": PASSWORD, "PYTHONPATH": str(ROOT)}


class Watcher:
    def __init__(self, data_dir: Path, info: dict):
        self.data_dir = data_dir
        self.cycles: list[tuple[float, dict]] = []  # (monotonic receipt, the JSON object)
        self.live_lines: list[tuple[float, str]] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "mirari", "--data-dir", str(data_dir), "sync",
                                      "--watch", "--json"], cwd=ROOT, env=cli_env(info), text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True).start()

    def _read(self, stream, cycles: bool) -> None:
        for line in stream:
            (self.cycles if cycles else self.live_lines).append(
                (time.monotonic(), json.loads(line) if cycles else line.strip()))

    def live(self) -> bool:
        return bool(self.live_lines) and "live: connected" in self.live_lines[-1][1]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def cycles_since(self, t: float) -> list[dict]:
        return [c for at, c in self.cycles if at >= t]


class Seen:
    """Polls B's database file for one row id at a time; records the wall time it appears."""

    def __init__(self, db_path: Path):
        self.db_path, self.targets, self.found = db_path, queue.Queue(), {}
        threading.Thread(target=self._run, daemon=True).start()

    def watch(self, table: str, row_id: str) -> None:
        self.targets.put((table, row_id))

    def _run(self) -> None:
        conn = None
        while True:
            table, row_id = self.targets.get()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if conn is None:
                        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=1)
                    if conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)).fetchone():
                        self.found[row_id] = time.time()
                        break
                except sqlite3.Error:
                    conn = None
                time.sleep(0.002)

    def wait(self, row_id: str, timeout: float = 30) -> float | None:
        deadline = time.monotonic() + timeout
        while row_id not in self.found and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.found.get(row_id)


# -- device A: an engine in this process -----------------------------------------------------------------------
def device_a(info: dict, email: str, data_dir: Path):
    import keyring

    from standin.keyrings import MemoryKeyring
    from sync import config
    from sync.engine import SyncEngine

    keyring.set_keyring(MemoryKeyring())
    config.set_value(data_dir, "supabase.url", info["url"])
    config.set_value(data_dir, "supabase.anon_key", info["anon_key"])
    engine = SyncEngine(data_dir)
    engine.sign_in(email, PASSWORD)
    return engine


def write_message(engine, conversation: str, text: str) -> str:
    from local_schema.models import Message

    with engine.database().write() as s:
        m = Message(conversation_id=conversation, role="user", content=text)
        s.add(m)
        s.flush()
        return m.id


def server_stamp_epoch(engine, row_id: str) -> float:
    with engine.database().engine.connect() as conn:
        stamp = conn.exec_driver_sql("SELECT updated_at FROM messages WHERE id = ?", (row_id,)).scalar()
    return datetime.fromisoformat(str(stamp)).timestamp()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# -- the scenarios ---------------------------------------------------------------------------------------------
def measure(args, work: Path) -> dict:
    standin = StandIn(work / "standin")
    standin.start()
    info = standin.info
    email = f"live-{uuid.uuid4().hex[:10]}@example.test"
    httpx.post(f"{info['url']}/auth/v1/signup", json={"email": email, "password": PASSWORD},
               headers={"apikey": info["anon_key"]}, timeout=30).raise_for_status()
    a = device_a(info, email, work / "a")
    from local_schema.models import Conversation

    with a.database().write() as s:
        conversation = Conversation(title="live bench")
        s.add(conversation)
        s.flush()
        conv_id = conversation.id
    assert a.run_cycle().state == "idle"
    b_dir = work / "b"
    mirari = [sys.executable, "-m", "mirari", "--data-dir", str(b_dir)]
    subprocess.run([*mirari, "account", "login", "--email", email], env=cli_env(info), check=True,
                   capture_output=True, cwd=ROOT)
    watcher = Watcher(b_dir, info)
    out: dict = {}
    try:
        deadline = time.monotonic() + 30
        while not (watcher.live() and watcher.cycles):
            assert time.monotonic() < deadline, "B did not go live"
            time.sleep(0.05)
        b_db = next((b_dir / "accounts").glob("*.sqlite3"))
        seen = Seen(b_db)
        time.sleep(3)  # B's start and join cycles, its warm-up imports

        # 1. latency
        latencies, cycles_before = [], len(watcher.cycles)
        for i in range(args.samples):
            time.sleep(random.uniform(0.6, 1.4))
            row_id = write_message(a, conv_id, f"ping {i}")
            seen.watch("messages", row_id)
            result = a.run_cycle()
            assert result.pushed == 1, result
            found = seen.wait(row_id)
            assert found is not None, f"ping {i} never reached B"
            latencies.append(found - server_stamp_epoch(a, row_id))
        time.sleep(1.0)  # B prints its last cycle's line after the cycle's upkeep
        out["latency"] = {"n": len(latencies), "p50": pct(latencies, 50), "p95": pct(latencies, 95),
                          "max": max(latencies), "min": min(latencies), "mean": statistics.fmean(latencies),
                          "b_cycles": [c["trigger"] for _, c in watcher.cycles[cycles_before:]]}

        # 2. idle: nothing changes for 30 s
        time.sleep(1.5)
        before, t0 = standin.stats(), time.monotonic()
        time.sleep(30)
        after = standin.stats()
        idle_http = after["http_requests"] - before["http_requests"]  # (the stats calls are not counted)
        out["idle"] = {"seconds": round(time.monotonic() - t0, 1), "http_requests": idle_http,
                       "heartbeats": after["realtime"].get("heartbeats", 0) - before["realtime"].get("heartbeats", 0),
                       "b_cycles": len(watcher.cycles_since(t0))}

        # 3. bursts of 200 on A (A's scheduler as the window runs it)
        from sync.scheduler import SyncScheduler

        scheduler = SyncScheduler(a, interval=3600, debounce=0.5)
        ids = []
        t0 = time.monotonic()
        scheduler.start()
        for i in range(200):
            ids.append(write_message(a, conv_id, f"burst {i}"))
            scheduler.notify_local_change()
            time.sleep(0.005)
        seen.watch("messages", ids[-1])
        assert seen.wait(ids[-1]) is not None
        time.sleep(2.5)
        out["burst_new"] = {"a_cycles": scheduler.cycles, "b_cycles": len(watcher.cycles_since(t0)),
                            "b_triggers": [c["trigger"] for c in watcher.cycles_since(t0)],
                            "b_pulled": sum(c["pulled"] for c in watcher.cycles_since(t0))}
        from local_schema.models import Message

        t0, a_cycles = time.monotonic(), scheduler.cycles
        for i, row_id in enumerate(ids):  # 200 edits of 200 rows: 200 PATCH requests, 200 transactions
            with a.database().write() as s:
                s.get(Message, row_id).content = f"edited {i}"
            scheduler.notify_local_change()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with sqlite3.connect(f"file:{b_db}?mode=ro", uri=True) as conn:
                if conn.execute("SELECT count(*) FROM messages WHERE content LIKE 'edited %'").fetchone()[0] == 200:
                    break
            time.sleep(0.01)
        time.sleep(2.5)
        out["burst_edits"] = {"a_cycles": scheduler.cycles - a_cycles, "b_cycles": len(watcher.cycles_since(t0)),
                              "b_triggers": [c["trigger"] for c in watcher.cycles_since(t0)],
                              "b_pulled": sum(c["pulled"] for c in watcher.cycles_since(t0)),
                              "seconds_to_all_edits_in_b": round(time.monotonic() - t0 - 2.5, 2)}
        scheduler.stop()

        # 4. the server restarts
        time.sleep(1)
        t_down = time.monotonic()
        standin.stop()
        standin.start()
        t_up, wall_up = time.monotonic(), time.time()
        row_id = write_message(a, conv_id, "after the restart")
        seen.watch("messages", row_id)
        for _ in range(20):  # A's own connection notices the restart too
            if a.run_cycle().pushed == 1:
                break
            time.sleep(0.2)
        found = seen.wait(row_id, timeout=60)
        time.sleep(1.0)
        rejoined = [at for at, line in watcher.live_lines if at > t_up and "live: connected" in line]
        out["restart"] = {"down_s": round(t_up - t_down, 2),
                          "catch_up_s": round(found - wall_up, 2) if found else None,
                          "b_rejoined_after_s": round(rejoined[0] - t_up, 2) if rejoined else None,
                          "b_triggers": [c["trigger"] for c in watcher.cycles_since(t_up)]}
    finally:
        code = watcher.stop()
        out["watcher_exit"] = code
        a.close()
        standin.stop()
    return out


def report(out: dict) -> list[str]:
    lat, idle = out["latency"], out["idle"]
    b_cycles = ", ".join(f"{t} {lat['b_cycles'].count(t)}" for t in sorted(set(lat["b_cycles"])))
    lines = [f"live sync against the local stand-in ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
             f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})",
             f"commit on the server -> row in the other device's database, {lat['n']} messages: p50 {lat['p50']:.3f} s, "
             f"p95 {lat['p95']:.3f} s, max {lat['max']:.3f} s (min {lat['min']:.3f}, mean {lat['mean']:.3f}); "
             f"B's cycles: {b_cycles}",
             f"idle {idle['seconds']} s with the socket healthy: {idle['http_requests']} HTTP requests, "
             f"{idle['heartbeats']} heartbeat(s), {idle['b_cycles']} cycle(s) on B"]
    for name, what in (("burst_new", "200 new messages written on A in ~1 s"),
                       ("burst_edits", "200 edits on A (200 PATCH transactions, 200 pokes)")):
        burst = out[name]
        lines.append(f"{what}: A ran {burst['a_cycles']} cycle(s); B ran {burst['b_cycles']} "
                     f"({', '.join(burst['b_triggers'])}), pulled {burst['b_pulled']}"
                     + (f"; all edits in B after {burst['seconds_to_all_edits_in_b']} s"
                        if "seconds_to_all_edits_in_b" in burst else ""))
    r = out["restart"]
    lines.append(f"server restart (down {r['down_s']} s): B rejoined {r['b_rejoined_after_s']} s after the stand-in "
                 f"served again; a message A pushed then was in B's database after {r['catch_up_s']} s; B's cycles "
                 f"since: {', '.join(r['b_triggers'])}; the watcher ended with exit code {out['watcher_exit']}")
    lines.append(f"targets: p50 <= 0.5 s -> {lat['p50']:.3f}; p95 <= 1.0 s -> {lat['p95']:.3f}; idle 0 HTTP requests "
                 f"-> {idle['http_requests']}; a burst of 200 -> a handful of cycles on B: "
                 f"{out['burst_new']['b_cycles']} / {out['burst_edits']['b_cycles']}; restart catch-up <= 10 s -> "
                 f"{r['catch_up_s']}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mirari-live-"))
    work.chmod(0o755)  # PostgreSQL runs as the postgres user when this runs as root
    try:
        lines = report(measure(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for line in lines:
        print(line)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    path = results / time.strftime("live-%Y%m%d-%H%M%S.txt", time.gmtime())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"(kept in {path.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
