"""`mirari sync --watch [--json]` in a real child process: a start cycle, a poke cycle after another
device writes (well before the poll), one JSON object per cycle, a clean end on SIGTERM and on Ctrl+C, and
a clear refusal when signed out."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


class Watcher:
    def __init__(self, data_dir: Path, *args: str):
        env = {**os.environ, "PYTHON_KEYRING_BACKEND": "standin.keyrings.FileKeyring", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-m", "mirari", "--data-dir", str(data_dir), "sync",
                                      "--watch", *args], cwd=ROOT, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append), daemon=True).start()

    @staticmethod
    def _pump(stream, put) -> None:
        for line in stream:
            put(line.rstrip("\n"))

    def next_line(self, timeout: float = 20.0) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line in {timeout} s; stderr: {self.stderr}") from None

    def stop(self, sig=signal.SIGTERM, timeout: float = 20.0) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@pytest.fixture
def watcher(devices, file_keyring_env):
    started = []

    def start(name: str = "w", *args: str) -> Watcher:
        device = devices(name)
        device.engine.close()  # the child process syncs this data dir
        w = Watcher(device.data_dir, *args)
        started.append(w)
        return w

    yield start
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(10)


def test_watch_json_prints_one_object_per_cycle_syncs_on_a_poke_and_ends_on_sigterm(
        watcher, devices, supabase_stack):
    w = watcher("w", "--json")
    first = json.loads(w.next_line(30))
    assert first["trigger"] == "start" and first["state"] == "idle"
    assert set(first) >= {"trigger", "pushed", "pulled", "requests", "duration"}
    deadline = time.monotonic() + 20
    while not any("live: connected" in line for line in w.stderr):  # the socket joined (its own cycle may follow)
        assert time.monotonic() < deadline, w.stderr
        time.sleep(0.05)
    time.sleep(0.5)
    while not w.lines.empty():
        w.lines.get()
    other = devices("other")
    token = other.engine.sessions.access_token()
    written = time.monotonic()
    response = httpx.post(f"{supabase_stack.url}/rest/v1/tasks", json=[{"id": str(uuid.uuid4()), "title": "x"}],
                          headers={"apikey": supabase_stack.anon_key, "Authorization": f"Bearer {token}"})
    assert response.status_code == 201
    cycle = json.loads(w.next_line(10))
    assert cycle["trigger"] == "poke" and cycle["pulled"] == 1 and cycle["state"] == "idle"
    assert time.monotonic() - written < 3.0 and cycle["live"] is True  # not the 15/60 s poll
    assert w.stop(signal.SIGTERM) == 0


def test_watch_text_ends_cleanly_on_ctrl_c(watcher):
    w = watcher("w")
    line = w.next_line(30)
    assert " start: idle, pushed 0, pulled 0 in " in line
    assert w.stop(signal.SIGINT) == 0
    assert not any("Traceback" in line for line in w.stderr), "\n".join(w.stderr)


def test_watch_when_signed_out_says_so_and_exits(tmp_path, supabase_stack, file_keyring_env):
    from sync import config

    config.set_value(tmp_path, "supabase.url", supabase_stack.url)
    config.set_value(tmp_path, "supabase.anon_key", supabase_stack.anon_key)
    w = Watcher(tmp_path, "--json")
    assert w.proc.wait(30) == 1
    time.sleep(0.1)
    assert any("signed out" in line for line in w.stderr)
