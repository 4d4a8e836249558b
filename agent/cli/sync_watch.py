"""`mirari sync --watch [--json]`: stay running, sync on the server's pokes and on the backstop poll.

One line per cycle on stdout — with `--json` one object: `trigger` (start, poke, poll, reconnect, retry),
`state`, `pushed`, `pulled`, `requests`, `duration` (seconds), `error`, `live`, `at` (UTC). Whether the live
connection is up goes to stderr when it changes. Ends cleanly on Ctrl+C or SIGTERM (exit 0: the socket
closed, a running cycle cut short and its work kept for next time); exits 2 when sync cannot go on without
the user (signed out, or the session ended: sign in again).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from datetime import UTC, datetime

from agent.cli.common import fail
from sync.errors import SyncError

DEBOUNCE = 1.0


class _Reporting:
    """What the scheduler runs: the engine's cycle, then one line about it."""

    def __init__(self, engine, report):
        self._engine, self._report = engine, report

    def run_cycle(self):
        result = self._engine.run_cycle()  # never raises for sync trouble
        self._report(result)
        return result

    def __getattr__(self, name):
        return getattr(self._engine, name)


def _line(result, trigger: str | None, live: bool, as_json: bool) -> str:
    if as_json:
        return json.dumps({"trigger": trigger, "state": result.state, "pushed": result.pushed,
                           "pulled": result.pulled, "requests": result.requests,
                           "duration": round(result.duration_s + result.upkeep_s, 4), "error": result.error,
                           "live": live, "at": datetime.now(UTC).isoformat(timespec="milliseconds")},
                          sort_keys=True)
    error = f" — {result.error}" if result.error else ""
    return (f"{time.strftime('%H:%M:%S')} {trigger or 'cycle'}: {result.state}, pushed {result.pushed}, "
            f"pulled {result.pulled} in {result.duration_s + result.upkeep_s:.2f} s, "
            f"{result.requests} request(s){error}")


def _warm_up() -> None:
    import local_schema.database  # noqa: F401
    import sync.pull  # noqa: F401
    import sync.push  # noqa: F401


def watch(engine, as_json: bool = False) -> int:
    """Sync `engine`'s data dir on pokes and the backstop poll until Ctrl+C / SIGTERM (agent.cli.sync builds
    the engine on the data dir's one secret store, as for every command)."""
    from sync import accounts
    from sync.engine import SIGN_IN_NEEDED, SIGNED_OUT
    from sync.live import POLL_OFFLINE, LiveSync
    from sync.scheduler import SyncScheduler

    state = accounts.load_state(engine.data_dir)
    if not state.signed_in:
        raise SyncError("signed out: run `mirari account login` to turn sync on")
    stop, fatal = threading.Event(), []
    scheduler = None
    out_lock = threading.Lock()

    def say(text: str, stream=sys.stdout) -> None:
        with out_lock:
            print(text, file=stream, flush=True)

    def report(result) -> None:
        say(_line(result, scheduler.trigger, live.live, as_json))
        if result.state in (SIGN_IN_NEEDED, SIGNED_OUT):
            fatal.append(result.error or result.state)
            stop.set()

    def live_state(up: bool, detail: str | None) -> None:
        if detail != "stopped":
            say("live: connected, polling every 60 s" if up else
                f"live: not connected ({detail}); polling every {POLL_OFFLINE:.0f} s", sys.stderr)

    scheduler = SyncScheduler(_Reporting(engine, report), interval=POLL_OFFLINE, debounce=DEBOUNCE)
    live = LiveSync(engine, scheduler, on_state=live_state)

    def on_signal(signum, frame) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        scheduler.start()
        live.start()
        # The first pull would import SQLAlchemy and the pull path (~1-2 s cold): done now, while idle, so
        # the first poke is answered as fast as the next ones.
        threading.Thread(target=_warm_up, name="mirari-warm-up", daemon=True).start()
        while not stop.wait(0.5):
            pass
    finally:
        live.stop()
        engine.interrupt()  # a request in flight fails now, quietly; its work is kept for next time
        scheduler.stop()
        engine.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if fatal:
        return fail(fatal[0], 2)
    return 0
