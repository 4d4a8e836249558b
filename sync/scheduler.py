"""Runs sync cycles on a worker thread: after local changes (debounced), on a timer, on reconnect, on demand.

The UI thread only calls the `notify_*`/`request_sync` methods, which set a flag and return at once.
A failed cycle is retried on its own timer with exponential backoff and jitter, so a failed upload is
retried even if the user writes nothing more (powersync-native#15).

What may start a cycle early, and what may not:
- `request_sync()` (the user's "Sync now"): always, at once, even during a backoff or a Retry-After.
- `notify_online()` (reconnect, wake): ends the backoff (the network was the trouble), but not a
  server's Retry-After (the server said when).
- `notify_local_change()` (an edit): debounced, and never earlier than a backoff or a Retry-After ends;
  otherwise a user typing would hammer a server that is down.
A change that failed with a 5xx waits on its own backoff (the engine's `next_attempt_at`): the cycle
still counts as a success, and the scheduler comes back when that change is due.
The loop survives anything a cycle throws (logged, state "error", next attempt scheduled).
"""

from __future__ import annotations

import logging
import threading
import time

from sync.engine import ERROR, IDLE, OFFLINE, UPDATE_REQUIRED, CycleResult, SyncEngine
from sync.errors import backoff_delay

log = logging.getLogger(__name__)


class SyncScheduler:
    def __init__(self, engine: SyncEngine, *, interval: float = 60.0, debounce: float = 2.0):
        self.engine, self.interval, self.debounce = engine, interval, debounce
        self._wake = threading.Condition()
        self._stop = False
        self._due: float | None = time.monotonic()  # sync once at start
        self._backoff_until = 0.0  # monotonic: after a failed cycle, until the backoff ends
        self._server_until = 0.0  # monotonic: the server's Retry-After
        self._forced = False  # the user asked (request_sync) since the running cycle started
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

    @property
    def held_until(self) -> float:
        """Monotonic time before which nothing but the user starts a cycle (0: not held)."""
        return max(self._backoff_until, self._server_until)

    # -- triggers (cheap, any thread) ------------------------------------------------------------------
    def _schedule_at(self, due: float) -> None:  # caller holds self._wake
        if self._due is None or due < self._due:
            self._due = due
        self._wake.notify_all()

    def request_sync(self) -> None:
        with self._wake:
            self._forced = True
            self._schedule_at(time.monotonic())

    def notify_local_change(self) -> None:
        """Debounced: a burst of edits (typing, a streamed reply) becomes one cycle after it settles."""
        with self._wake:
            if self._forced:
                return  # the user's Sync now is already due
            self._due = max(time.monotonic() + self.debounce, self.held_until)
            self._wake.notify_all()

    def notify_online(self) -> None:
        with self._wake:
            self._failures, self._backoff_until = 0, 0.0
            self._schedule_at(max(time.monotonic(), self._server_until))

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
                self._due, self._forced = None, False
            result = self._one_cycle()
            with self._wake:
                self.last_result, self.cycles = result, self.cycles + 1
                self._after(result)

    def _one_cycle(self) -> CycleResult:
        try:
            return self.engine.run_cycle()
        except Exception as exc:  # run_cycle should never raise; if it does, the loop must not die
            log.exception("sync cycle raised")
            result = CycleResult(state=ERROR, error=f"{type(exc).__name__}: {exc}")
            try:
                self.engine._set_state(ERROR, result.error)
            except Exception:  # noqa: BLE001 - nothing more to tell anyone
                log.debug("could not report the failed cycle", exc_info=True)
            return result

    def _after(self, result: CycleResult) -> None:  # caller holds self._wake
        now = time.monotonic()
        if result.state in (OFFLINE, ERROR):
            self._failures += 1
            wait = backoff_delay(self._failures)
            self._server_until = now + result.retry_after if result.retry_after else 0.0
            self._backoff_until = now + max(wait, result.retry_after or 0.0)
            # A local edit during the cycle asked for one soon: the backoff wins. The user's Sync now wins.
            self._due = now if self._forced else self._backoff_until
            self._wake.notify_all()
            return
        self._failures, self._backoff_until, self._server_until = 0, 0.0, 0.0
        if result.state in (IDLE, UPDATE_REQUIRED):  # sign-in needed waits for a sign-in
            self._schedule_at(now + self.interval)
        if result.retry_in is not None:  # a change on its own backoff: come back when it is due
            self._schedule_at(now + result.retry_in + 0.05)
