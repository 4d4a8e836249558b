"""Automatic sync in the window: one controller owns the engine and the scheduler for the open database.

A cycle runs (on the scheduler's own thread "mirari-sync", never on the UI thread, one at a time):
- about a second after local changes settle (the controller listens to the open database itself:
  every committed local write of a synced table, chat turns included; the scheduler debounces them),
- every `interval` seconds while signed in,
- when the network comes back (Qt's reachability) and after the computer wakes (the wall clock jumped
  ahead of the monotonic one, which stops while suspended),
- on demand: `request_sync()` (the Sync now button, F5),
- about 0.15 s after the server pokes (sync.live: one Realtime socket per signed-in account; the poll
  then backs off to every `live_interval` seconds while the socket is up, and `status.live` says so).

The controller owns the window's one SyncEngine (`engine`), for its whole life: cycles, sign-in and
sign-out, the Templates catalogue, the Sync panel's actions all use it, so there is one session, one
REST client and one set of rules. It syncs the window's own open database (`engine.attach`: no second
handle, no second integrity check). What a cycle applied reaches the pages through the database's change
listeners (desktop.bus). The engine's callbacks (worker thread) reach the UI thread through
desktop.background.post and become `status_changed(SyncStatus)` there.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, QTimer, Signal

from desktop.background import alive, post
from desktop.bus import bus
from desktop.ops import Op

log = logging.getLogger(__name__)

INTERVAL = 15.0  # seconds between cycles while signed in (read when a controller is made; tests shorten it)
LIVE_INTERVAL = 60.0  # … while the live connection is up (pokes start cycles; the poll is a backstop)
DEBOUNCE = 0.5  # seconds of quiet after local changes before their cycle (a streamed reply is one push)
SLOW_CYCLE_MS = 400  # "Syncing…" only for a cycle that takes longer: an idle 20 ms cycle must not flicker
WAKE_CHECK_MS = 5000
WAKE_JUMP_S = 20.0  # wall time that ran ahead of monotonic time by this much = the machine slept


@dataclass(frozen=True)
class SyncStatus:
    configured: bool = False  # project URL and anon key are known
    signed_in: bool = False
    email: str | None = None
    url: str | None = None
    state: str = "signed out"  # the engine's: idle, syncing, offline, sign-in needed, signed out, …
    detail: str | None = None  # the reason for offline/error, from the last cycle
    running: bool = False  # a cycle is in flight (state keeps saying how the last one ended)
    syncing: bool = False  # … and has been running for more than SLOW_CYCLE_MS: say "Syncing…"
    waiting: int = 0  # rows with changes not pushed yet
    refused: int = 0  # rows with a change the server refused (parked)
    last_synced: float | None = None  # wall time of the last cycle that completed
    last_result: object = None  # sync.engine.CycleResult of the last cycle
    live: bool = False  # the Realtime socket is up: the server's pokes arrive (chip: "Live")
    live_detail: str | None = None  # why it is not, while signed in


class _ReportingEngine:
    """What the scheduler runs: the engine's cycle, then the counts the chip shows, reported together."""

    def __init__(self, engine, report):
        self._engine, self._report = engine, report

    def run_cycle(self):
        result = self._engine.run_cycle()  # never raises for sync trouble
        try:
            from sync.parked import counts

            waiting, refused = counts(self._engine.database())
        except Exception:  # noqa: BLE001 - a count is decoration; the cycle's result still matters
            log.debug("could not count waiting changes", exc_info=True)
            waiting = refused = None
        self._report("cycle", (result, waiting, refused))
        return result

    def __getattr__(self, name):
        return getattr(self._engine, name)


class SyncController(QObject):
    status_changed = Signal(object)  # SyncStatus
    cycle_finished = Signal(object)  # sync.engine.CycleResult
    alert = Signal(str)

    def __init__(self, ctx, parent=None, *, interval: float | None = None, debounce: float | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.interval = INTERVAL if interval is None else interval
        self.debounce = DEBOUNCE if debounce is None else debounce
        self._engine = None
        self._engine_lock = threading.Lock()
        self.live_interval = LIVE_INTERVAL
        self.scheduler = None
        self.live = None  # sync.live.LiveSync while signed in
        self.status = SyncStatus()
        self.cycles = 0
        self._listened = None  # the database whose change listener is ours (between start and stop)
        bus.keys_changed.connect(self._keys_changed)
        self._slow = QTimer(self, singleShot=True, interval=SLOW_CYCLE_MS)
        self._slow.timeout.connect(self._still_syncing)
        self._recount = QTimer(self, singleShot=True, interval=300)
        self._recount.timeout.connect(self.refresh_counts)
        self._clock = (time.time(), time.monotonic())
        self._wake = QTimer(self, interval=WAKE_CHECK_MS)
        self._wake.timeout.connect(self._check_wake)
        self._wake.start()
        self._watch_network()

    # -- life cycle ----------------------------------------------------------------------------------
    @property
    def engine(self):
        """The window's one sync engine (made on first use, after the secret store exists; any thread)."""
        with self._engine_lock:
            if self._engine is None:
                from sync.engine import SyncEngine

                self._engine = SyncEngine(self.ctx.data_dir, secrets=self.ctx.secrets,
                                          on_state=lambda s, d: self._tell_ui("state", (s, d)),
                                          on_alert=lambda m: self._tell_ui("alert", m))
            return self._engine

    def start(self) -> None:
        """Begin syncing the open database if an account is signed in (call when the database opens)."""
        from sync import accounts, config
        from sync.engine import SIGNED_OUT
        from sync.scheduler import SyncScheduler

        self.stop()
        data_dir = self.ctx.data_dir
        try:
            state = accounts.load_state(data_dir)
            url = config.get_value(data_dir, "supabase.url")
            key = config.get_value(data_dir, "supabase.anon_key")
        except Exception as exc:  # noqa: BLE001 - an unreadable account.json/config.json: say so, stay local
            self._set(state="error", detail=str(exc), signed_in=False)
            return
        self._set(configured=bool(url and key), signed_in=state.signed_in, url=url,
                  email=state.email if state.signed_in else None,
                  state=SIGNED_OUT if not state.signed_in else "idle", detail=None, syncing=False, running=False)
        self.refresh_counts()
        if self.ctx.db is None:
            return
        self._listened = self.ctx.db
        self._listened.add_change_listener(self._on_written)
        engine = self.engine
        engine.attach(self.ctx.db)
        if url and key:
            try:
                engine.reconfigure()  # the sign-in dialog may have saved another project or key
            except Exception as exc:  # noqa: BLE001 - said by the cycle too; here only logged
                log.debug("sync configuration unreadable: %s", exc)
        if not state.signed_in:
            return
        self.scheduler = SyncScheduler(_ReportingEngine(engine, self._tell_ui),
                                       interval=self.interval, debounce=self.debounce)
        self.scheduler.start()  # its first cycle runs at once
        self._start_live()

    def _start_live(self) -> None:
        from sync.live import LiveSync

        self.live = LiveSync(self.engine, self.scheduler, poll_live=self.live_interval, poll_offline=self.interval,
                             on_state=lambda up, detail: self._tell_ui("live", (up, detail)))
        self.live.start()

    def stop(self) -> None:
        """Stop the scheduler; a cycle in flight is cut short (its HTTP client closed) and waited for.
        Blocks: call it off the UI thread (the account switch does) or when the window closes."""
        scheduler, engine, live, listened = self.scheduler, self._engine, self.live, self._listened
        self.scheduler = self.live = self._listened = None
        if listened is not None:
            listened.remove_change_listener(self._on_written)
        if live is not None:
            live.stop()
            self._tell_ui("live", (False, None))  # (stop may run off the UI thread)
        if scheduler is not None:
            if engine is not None and engine._rest_client is not None:
                engine._rest_client.close()  # a request in flight fails now instead of after its timeout
            scheduler.stop()
        if engine is not None:
            engine.attach(None)  # the window's database may close now; the engine stays for the next start
            engine.close()  # its own resources only (a handle it opened itself, its HTTP client)

    @property
    def running(self) -> bool:
        return self.scheduler is not None

    # -- triggers --------------------------------------------------------------------------------------
    def request_sync(self) -> None:
        """Sync now (the button, F5). Also after a network or wake event."""
        if self.scheduler is not None:
            self.scheduler.request_sync()

    def _on_written(self, tables, origin: str) -> None:
        """The open database's change listener, on the writing thread, at each commit (a dream's
        checkpoint minutes before its job ends included): local writes of synced tables start a cycle
        once they settle, and every local write recounts what waits."""
        if origin != "local":  # what sync itself applied
            return
        from local_schema.models import SYNCED_TABLES

        scheduler = self.scheduler
        if scheduler is not None and not tables.isdisjoint(SYNCED_TABLES):
            scheduler.notify_local_change()  # thread-safe (the scheduler's lock)
        post(self._recount_soon)

    def _recount_soon(self) -> None:
        if alive(self):
            self._recount.start()

    def _keys_changed(self, _mode: str) -> None:
        from sync.engine import LOCKED

        if self.status.state == LOCKED:  # the key store was unlocked (Settings, the prompt): go on
            self.request_sync()

    def _online(self) -> None:
        if self.scheduler is not None:
            self.scheduler.notify_online()
        if self.live is not None:
            self.live.reconnect()  # a socket from before the sleep or the outage may be dead without knowing

    def _watch_network(self) -> None:
        try:
            from PySide6.QtNetwork import QNetworkInformation

            if not QNetworkInformation.loadDefaultBackend():
                return
            info = QNetworkInformation.instance()
        except Exception:  # noqa: BLE001 - no reachability backend here: the 15 s timer still runs
            log.debug("no network information backend", exc_info=True)
            return
        online = QNetworkInformation.Reachability.Online

        def changed(reachability) -> None:
            if reachability == online:
                log.info("network is back: syncing")
                self._online()

        info.reachabilityChanged.connect(changed)
        self._network_info = info

    def _check_wake(self) -> None:
        wall, mono = time.time(), time.monotonic()
        last_wall, last_mono = self._clock
        self._clock = (wall, mono)
        if (wall - last_wall) - (mono - last_mono) > WAKE_JUMP_S:
            log.info("the computer woke up: syncing")
            self._online()

    # -- from the sync thread ------------------------------------------------------------------------
    def _tell_ui(self, kind: str, payload) -> None:
        """Any thread: hand the engine's word to the UI thread (dropped once this controller is gone)."""
        post(lambda: alive(self) and self._on_worker(kind, payload))

    def _on_worker(self, kind: str, payload) -> None:
        from sync.engine import SYNCING

        if kind == "state":
            state, detail = payload
            if state == SYNCING:  # "Offline" stays until the retry succeeds; "Syncing…" only if it is slow
                self._slow.start()
                self._set(running=True)
            else:
                self._set(state=state, detail=detail)
        elif kind == "alert":
            self.alert.emit(payload)
        elif kind == "live":
            up, detail = payload
            if self.live is None:  # stopped: a late word from the old link says nothing
                up, detail = False, None
            self._set(live=up, live_detail=None if up else detail)
        elif kind == "cycle":
            result, waiting, refused = payload
            self._slow.stop()
            self.cycles += 1
            changes = {"state": result.state, "detail": result.error, "syncing": False, "running": False,
                       "last_result": result}
            if result.state in ("idle", "update required"):
                changes["last_synced"] = time.time()
            if waiting is not None:
                changes.update(waiting=waiting, refused=refused)
            self._set(**changes)
            self.cycle_finished.emit(result)

    def _still_syncing(self) -> None:
        from sync.engine import OFFLINE

        # A retry while offline keeps saying "Offline · N waiting": a hung server would otherwise leave
        # the chip on "Syncing…" for as long as each attempt takes to reach its deadline.
        if self.status.running and self.status.state != OFFLINE:
            self._set(syncing=True)

    # -- counts ----------------------------------------------------------------------------------------
    def refresh_counts(self) -> None:
        db = self.ctx.db
        if db is None:
            return
        from sync.parked import counts

        Op(self, lambda: counts(db), "Counting changes waiting to sync").success(
            lambda c: self._set(waiting=c[0], refused=c[1])).failure(
            lambda exc: log.debug("count failed: %s", exc)).run()

    def _set(self, **changes) -> None:
        status = replace(self.status, **changes)
        if status != self.status:
            self.status = status
            self.status_changed.emit(status)
