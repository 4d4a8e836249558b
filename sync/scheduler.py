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

With a live connection (sync.live):
- `notify_poke(tables)` (the server says the user's rows changed): a cycle ~0.15 s later, so pokes arriving
  meanwhile join it; a stream of pokes starts one at most 1 s after its first. Never earlier than a
  backoff, a Retry-After or a pending local change's debounce.
- `notify_reconnected()` (the socket joined again): a full cycle at once, as `notify_online`.
- `set_interval(seconds)`: the backstop poll (60 s while the socket is healthy, 15 s otherwise).
`trigger` says why the running (or last) cycle started: start, poll, local, user, online, retry, poke,
reconnect.
"""

from __future__ import annotations

import logging
import threading
import time

from sync.engine import ERROR, IDLE, OFFLINE, UPDATE_REQUIRED, CycleResult, SyncEngine
from sync.errors import backoff_delay

log = logging.getLogger(__name__)


POKE_GATHER = 0.15  # seconds after a poke before its cycle: pokes arriving meanwhile join it
POKE_MAX_WAIT = 1.0  # a stream of pokes still starts a cycle this long after its first


class SyncScheduler:
    def __init__(self, engine: SyncEngine, *, interval: float = 60.0, debounce: float = 2.0,
                 poke_gather: float = POKE_GATHER, poke_max_wait: float = POKE_MAX_WAIT):
        self.engine, self.interval, self.debounce = engine, interval, debounce
        self.poke_gather, self.poke_max_wait = poke_gather, poke_max_wait
        self._wake = threading.Condition()
        self._stop = False
        self._due: float | None = time.monotonic()  # sync once at start
        self._reason = "start"  # why the due cycle will run (see `trigger`)
        self.trigger: str | None = None  # why the running (or last) cycle started
        self._poked_since: float | None = None  # the first poke no cycle has started after yet
        self._local_until = 0.0  # monotonic: a local change's debounce, which a poke does not cut short
        self._last_end: float | None = None  # monotonic end of the last cycle (the poll counts from it)
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
    def _schedule_at(self, due: float, reason: str | None = None) -> None:  # caller holds self._wake
        if self._due is None or due < self._due:
            self._due = due
            if reason is not None:
                self._reason = reason
        self._wake.notify_all()

    def request_sync(self) -> None:
        with self._wake:
            self._forced = True
            self._schedule_at(time.monotonic(), "user")

    def notify_local_change(self) -> None:
        """Debounced: a burst of edits (typing, a streamed reply) becomes one cycle after it settles."""
        with self._wake:
            if self._forced:
                return  # the user's Sync now is already due
            self._due = max(time.monotonic() + self.debounce, self.held_until)
            self._reason, self._local_until = "local", self._due
            self._wake.notify_all()

    def notify_online(self) -> None:
        with self._wake:
            self._failures, self._backoff_until = 0, 0.0
            self._schedule_at(max(time.monotonic(), self._server_until), "online")

    def notify_reconnected(self) -> None:
        """The live connection (re)joined: pokes may have been missed meanwhile, so a full cycle now."""
        with self._wake:
            self._failures, self._backoff_until = 0, 0.0
            self._schedule_at(max(time.monotonic(), self._server_until), "reconnect")

    def notify_poke(self, tables=None) -> None:
        """The server says the user's rows changed (in `tables`; None: unknown). Gathered, see the module."""
        with self._wake:
            now = time.monotonic()
            if self._poked_since is None:
                self._poked_since = now
            if self._forced:
                return
            due = min(now + self.poke_gather, self._poked_since + self.poke_max_wait)
            due = max(due, self.held_until, self._local_until if self._local_until > now else 0.0)
            if self._due is None or due < self._due or (self._reason == "poke" and due > self._due):
                self._due, self._reason = due, "poke"  # a later poke moves its own gathering on (to the cap)
                self._wake.notify_all()

    def set_interval(self, seconds: float) -> None:
        """The backstop poll's period; a poll already due is moved to the last cycle's end + `seconds`."""
        with self._wake:
            self.interval = seconds
            if self._reason == "poll" and self._due is not None and self._last_end is not None:
                self._due = self._last_end + seconds
                self._wake.notify_all()

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
                self.trigger, self._reason, self._poked_since = self._reason, "poll", None
            result = self._one_cycle()
            with self._wake:
                self.last_result, self.cycles = result, self.cycles + 1
                self._last_end = time.monotonic()
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
            self._reason = "user" if self._forced else "retry"
            self._wake.notify_all()
            return
        self._failures, self._backoff_until, self._server_until = 0, 0.0, 0.0
        if result.state in (IDLE, UPDATE_REQUIRED):  # sign-in needed waits for a sign-in
            self._schedule_at(now + self.interval, "poll")
        if result.retry_in is not None:  # a change on its own backoff: come back when it is due
            self._schedule_at(now + result.retry_in + 0.05, "retry")
