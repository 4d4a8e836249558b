"""Runs sync cycles on a worker thread: after local changes (debounced), on a timer, on reconnect, on demand.

The UI thread only calls the `notify_*`/`request_sync` methods, which set a flag and return at once.
A failed cycle is retried on its own timer with exponential backoff and jitter, so a failed upload is
retried even if the user writes nothing more (powersync-native#15).
"""

from __future__ import annotations

import threading
import time

from sync.engine import ERROR, IDLE, OFFLINE, UPDATE_REQUIRED, CycleResult, SyncEngine
from sync.errors import backoff_delay


class SyncScheduler:
    def __init__(self, engine: SyncEngine, *, interval: float = 60.0, debounce: float = 2.0):
        self.engine, self.interval, self.debounce = engine, interval, debounce
        self._wake = threading.Condition()
        self._stop = False
        self._due: float | None = time.monotonic()  # sync once at start
        self._failures = 0
        self._thread: threading.Thread | None = None
        self.last_result: CycleResult | None = None
        self.cycles = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mirari-sync", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # -- triggers (cheap, any thread) ------------------------------------------------------------------
    def _schedule(self, delay: float) -> None:
        with self._wake:
            due = time.monotonic() + delay
            if self._due is None or due < self._due:
                self._due = due
            self._wake.notify_all()

    def request_sync(self) -> None:
        self._schedule(0.0)

    def notify_local_change(self) -> None:
        """Debounced: a burst of edits (typing, a streamed reply) becomes one cycle after it settles."""
        with self._wake:
            self._due = time.monotonic() + self.debounce
            self._wake.notify_all()

    def notify_online(self) -> None:
        self._failures = 0
        self._schedule(0.0)

    # -- worker --------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stop:
                    now = time.monotonic()
                    if self._due is not None and now >= self._due:
                        break
                    self._wake.wait(None if self._due is None else self._due - now)
                if self._stop:
                    return
                self._due = None
            result = self.engine.run_cycle()
            self.last_result, self.cycles = result, self.cycles + 1
            if result.state in (OFFLINE, ERROR):
                self._failures += 1
                self._schedule(max(backoff_delay(self._failures), result.retry_after or 0.0))
            else:
                self._failures = 0
                if result.state in (IDLE, UPDATE_REQUIRED):  # sign-in needed waits for a sign-in
                    self._schedule(self.interval)
