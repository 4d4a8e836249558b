"""Soak: two real windows (each with its sync controller) on two data dirs, one account, for N minutes of
random edits, deletes and chat turns, with faults injected into the stand-in; then both databases are
compared with the server row for row.

Run by hand from the repository root (about 11 minutes with the default 10):

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.soak_sync [--minutes 10] [--seed 1]

The stand-in runs as a child process (as a real server would: it does not share this process's CPU
or GIL) and takes fault commands on its stdin: lost responses after commit, 5xx answers, delays, and
every live (Realtime) connection cut. The
fake OpenAI endpoint is a second child. Writes happen on worker threads, as the app's background work
does; the UI thread only runs the windows (their pages refresh from what sync applied), and a 10 ms
heartbeat on it measures the longest stall. Sync runs by itself (debounced local changes, the server's
pokes over each window's live connection, the 60 s / 15 s timer); nothing here calls a cycle, until the end: faults off, then cycles until both devices are
quiet. Prints the figures and keeps them in bench/results/soak-*.txt; exits 1 if anything differs.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.soak_parts import PASSWORD, StandIn, Workload, compare, inject_fault, standin_child  # noqa: E402


class Monitor:
    """A 10 ms heartbeat on the UI thread: the longest gap beyond it, overall and while a cycle runs."""

    def __init__(self, windows):
        from PySide6.QtCore import Qt, QTimer

        self.windows = windows
        self.worst = self.worst_in_sync = 0.0
        self.worst_cpu = self.worst_in_sync_cpu = 0.0  # UI-thread CPU used inside that gap
        self.worst_process_cpu = 0.0  # this process's CPU (all threads) inside the worst gap
        self.over_50 = 0
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self._last_process = time.process_time()
        self._syncing_before = False
        self.timer = QTimer(interval=10, timerType=Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def syncing(self) -> bool:
        return any(w.ctx.sync.status.running for w in self.windows.values())

    def tick(self) -> None:
        now, cpu, process = time.perf_counter(), time.thread_time(), time.process_time()
        stall, used = max(0.0, now - self._last - 0.010), cpu - self._last_cpu
        process_used = process - self._last_process
        self._last, self._last_cpu, self._last_process = now, cpu, process
        syncing = self.syncing()
        if stall > self.worst:
            self.worst, self.worst_cpu, self.worst_process_cpu = stall, used, process_used
        if (syncing or self._syncing_before) and stall > self.worst_in_sync:
            self.worst_in_sync, self.worst_in_sync_cpu = stall, used
        self.over_50 += stall > 0.050
        self._syncing_before = syncing


def pump(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)


def open_device(app, data_dir: Path, info: dict, email: str):
    import keyring

    from desktop.app import build_window
    from sync import config
    from sync.engine import SyncEngine
    from sync.secrets import SecretStore

    data_dir.mkdir(parents=True)
    config.set_value(data_dir, "supabase.url", info["url"])
    config.set_value(data_dir, "supabase.anon_key", info["anon_key"])
    engine = SyncEngine(data_dir)
    engine.sign_in(email, PASSWORD)
    engine.close()
    window = build_window(data_dir, secrets=SecretStore(data_dir, backend=keyring.get_keyring()))
    window.resize(1100, 720)
    window.show()
    deadline = time.monotonic() + 30
    while not window.pages and time.monotonic() < deadline:
        pump(app, 0.05)
    return window


def converge(app, windows, timeout: float = 300.0) -> float:
    """Cycles (Sync now) until two rounds in a row push and pull nothing on both devices."""
    started, quiet = time.monotonic(), 0
    while time.monotonic() - started < timeout:
        before = {n: w.ctx.sync.cycles for n, w in windows.items()}
        for w in windows.values():
            w.ctx.sync.request_sync()
        while any(w.ctx.sync.cycles <= before[n] for n, w in windows.items()):
            pump(app, 0.05)
            if time.monotonic() - started > timeout:
                break
        results = [w.ctx.sync.status for w in windows.values()]
        calm = all(s.state == "idle" and s.waiting == 0 and s.last_result is not None
                   and s.last_result.pushed == 0 and s.last_result.pulled == 0 for s in results)
        quiet = quiet + 1 if calm else 0
        if quiet >= 2:
            return time.monotonic() - started
    raise SystemExit(f"the devices did not converge within {timeout:.0f} s")


def run(args) -> int:
    import httpx
    import keyring

    from desktop.app import ensure_app
    from standin.keyrings import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())  # no OS keychain on a bench machine
    rng = random.Random(args.seed)
    standin = StandIn()
    info = standin.info
    llm = subprocess.Popen([sys.executable, "-m", "standin.model", "--token-delay", "0.002", "--text",
                            "A fake reply, streamed in a few dozen tokens: " + "lorem ipsum " * 20],
                           cwd=ROOT, stdout=subprocess.PIPE, text=True)
    llm_url = llm.stdout.readline().strip()
    email = f"soak-{rng.getrandbits(40):x}@example.test"
    r = httpx.post(f"{info['url']}/auth/v1/signup", json={"email": email, "password": PASSWORD},
                   headers={"apikey": info["anon_key"]}, timeout=30)
    r.raise_for_status()
    user_id = r.json()["user"]["id"]
    app = ensure_app()
    tmp = Path(tempfile.mkdtemp(prefix="mirari-soak-"))
    windows = {name: open_device(app, tmp / name, info, email) for name in ("A", "B")}
    loads = {name: Workload(name, w, llm_url, random.Random(rng.random())) for name, w in windows.items()}
    from standin.demo.seed import add_connection

    connection = add_connection(windows["A"].ctx.db, "Fake", llm_url, "fake-model", status="online")
    for load in loads.values():
        load.connection_id = connection
    totals = {n: {"pushed": 0, "pulled": 0, "states": {}} for n in windows}
    for name, w in windows.items():
        def count(result, name=name):
            t = totals[name]
            t["pushed"] += result.pushed
            t["pulled"] += result.pulled
            t["states"][result.state] = t["states"].get(result.state, 0) + 1
        w.ctx.sync.cycle_finished.connect(count)

    monitor = Monitor(windows)
    writers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="soak-writer")
    faults_log: list[str] = []
    end = time.monotonic() + args.minutes * 60
    next_write, next_fault, next_look = time.monotonic(), time.monotonic() + 5, time.monotonic() + 10
    pending = []
    print(f"soak: {args.minutes} min, seed {args.seed}, data in {tmp}", flush=True)
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_write:
            load = loads[rng.choice(list(loads))]
            pending = [f for f in pending if not f.done()]
            if len(pending) < 4:  # a chat turn may be slow; keep at most a few writes in flight
                pending.append(writers.submit(load.step))
            next_write = now + rng.uniform(0.2, 0.8)
        if now >= next_fault:
            inject_fault(standin, rng, faults_log)
            next_fault = now + rng.uniform(0.5, 1.5) * args.fault_every
        if now >= next_look:  # a person looks at the newest thread: its transcript gets merged into
            for w in windows.values():
                console = w.pages.get("console")
                if console is not None and console.threads.rows():
                    console.open_thread(console.threads.rows()[0].id)
            next_look = now + 20
        pump(app, 0.02)
    writers.shutdown(wait=True)
    fired = standin.hits()  # before clear: the rules count their own hits
    standin.send(cmd="clear")
    settle_s = converge(app, windows)
    problems, sizes = compare(info["db_url"], user_id, windows)
    lines = report(args, windows, loads, totals, faults_log, fired, monitor, settle_s, problems, sizes)
    for w in windows.values():
        w.close()
        pump(app, 0.2)
        w.ctx.close_data()
    standin.close()
    llm.terminate()
    out = ROOT / "bench" / "results" / time.strftime("soak-%Y%m%d-%H%M.txt")
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"(kept in {out.relative_to(ROOT)})")
    return 1 if problems else 0


def report(args, windows, loads, totals, faults_log, fired, monitor, settle_s, problems, sizes) -> list[str]:
    from sync.parked import counts

    lines = [f"soak_sync: {args.minutes} min, seed {args.seed}, two windows on two data dirs, one account; "
             "stand-in and fake endpoint in child processes"]
    from sync.parked import list_parked

    for name, w in windows.items():
        t, load = totals[name], loads[name]
        waiting, refused = counts(w.ctx.db)
        reasons: dict[str, int] = {}
        for change in list_parked(w.ctx.db):
            reasons[change.message or "?"] = reasons.get(change.message or "?", 0) + 1
        states = ", ".join(f"{k} {v}" for k, v in sorted(t["states"].items()))
        changes = ", ".join(f"{k} {v}" for k, v in sorted(load.counts.items()))
        lines += [f"  window {name}: {w.ctx.sync.cycles} cycles ({states}); rows pushed {t['pushed']:,}, "
                  f"pulled {t['pulled']:,}; refused at the end {refused} "
                  f"({', '.join(f'{k}: {v}' for k, v in reasons.items()) or 'none'}), waiting {waiting}",
                  f"    changes made ({sum(load.counts.values()):,}): {changes}; "
                  f"writes that lost a race: {len(load.errors)}"]
    kinds: dict[str, int] = {}
    for entry in faults_log:
        key = entry.split(":")[0].split(" ")[0]
        kinds[key] = kinds.get(key, 0) + 1
    lines.append(f"  faults injected: {len(faults_log)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}); "
                 f"fired on requests: lost responses {fired['drop']}, 5xx {fired['fail']}, delays {fired['delay']}")
    lines.append(f"  longest UI stall: {monitor.worst * 1000:.0f} ms overall (UI thread busy {monitor.worst_cpu * 1000:.0f} "
                 f"ms of it, all threads of this process {monitor.worst_process_cpu * 1000:.0f} ms), "
                 f"{monitor.worst_in_sync * 1000:.0f} ms while a cycle ran (busy "
                 f"{monitor.worst_in_sync_cpu * 1000:.0f} ms); heartbeats later than 50 ms: {monitor.over_50}; "
                 f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    lines.append(f"  after the faults stopped, quiet (two idle rounds on both) in {settle_s:.1f} s")
    lines.append(f"  server live rows: {', '.join(f'{t} {n}' for t, n in sizes.items() if n)}")
    lines.append("  both databases equal the server row for row: " + ("YES" if not problems else
                                                                      f"NO ({len(problems)} differences)"))
    lines += [f"    {p}" for p in problems[:30]]
    for line in lines:
        print(line, flush=True)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-every", type=float, default=8.0, help="seconds between injected faults (±50 %%)")
    parser.add_argument("--standin", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.standin:
        return standin_child()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
