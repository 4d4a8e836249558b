"""One way for the GUI to run work off the UI thread (the Anki `CollectionOp`/`QueryOp` habit).

    Op(parent, lambda: slow_thing()).success(on_ok).failure(on_err).changes("messages").run()

`fn` runs on a QThreadPool thread and must not touch widgets. Its result (or exception) comes back
as a queued signal, so `success`/`failure` always run on the UI thread. An op that declares the
tables it changed broadcasts them on the change bus after success, so every view can decide for
itself whether to refresh (no view calls another view). Failures without a handler go to the bus's
`error` signal, which the main window shows; nothing is swallowed silently.

Work that is not an `Op` but runs in the same pool — a streaming chat turn — is counted with the ops
(`track`/`untrack`): `running_count()`, the busy signal and `wait_idle()` cover all background work, so
"is anything still writing?" has one answer (the account switch and closing the window rely on it).
Minutes-long work goes to the long-job runner instead (`desktop/jobs.py`, `ctx.jobs`).
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

from desktop.bus import bus

log = logging.getLogger(__name__)

_pool: QThreadPool | None = None
_in_flight: set[object] = set()  # Ops and tracked work (streams)
# Finished ops stay referenced until the event loop is idle again: dropping the last reference to a
# relay while its own slot is still running makes shiboken free it mid-call (a hard crash).
_retired: list[Op] = []


def pool() -> QThreadPool:
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        # SQLite serialises writers anyway; a few threads keep a slow network call from blocking a query.
        _pool.setMaxThreadCount(4)
    return _pool


def running_count() -> int:
    return len(_in_flight)


def track(work: object) -> None:
    """Count `work` (e.g. a streaming turn) as background work until `untrack(work)`."""
    if work not in _in_flight:
        _in_flight.add(work)
        bus.busy_changed.emit(len(_in_flight))


def untrack(work: object) -> None:
    if work in _in_flight:
        _in_flight.discard(work)
        bus.busy_changed.emit(len(_in_flight))


class _Relay(QObject):
    """Lives on the UI thread; signals emitted from the pool thread are queued onto its slots."""

    finished = Signal(object)
    crashed = Signal(object)

    def __init__(self, op: Op):
        super().__init__()
        self._op = op
        self.finished.connect(self._on_finished)
        self.crashed.connect(self._on_crashed)

    @Slot(object)
    def _on_finished(self, result: object) -> None:
        self._op._finish(result)

    @Slot(object)
    def _on_crashed(self, exc: object) -> None:
        self._op._crash(exc)  # type: ignore[arg-type]


class _Runnable(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay):
        super().__init__()
        self.setAutoDelete(True)
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._fn()
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the UI, never vanish in a thread
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self._deliver(self._relay.crashed, exc)
        else:
            self._deliver(self._relay.finished, result)

    @staticmethod
    def _deliver(signal, value) -> None:
        # RuntimeError: the application is shutting down and the relay is gone; nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            signal.emit(value)


class Op:
    """A background operation with UI-thread callbacks. Build it, then `.run()` it."""

    def __init__(self, parent: QObject | None, fn: Callable[[], Any], label: str = ""):
        self._parent = parent
        self._fn = fn
        self.label = label or getattr(fn, "__name__", "operation")
        self._on_success: Callable[[Any], None] | None = None
        self._on_failure: Callable[[BaseException], None] | None = None
        self._changed: tuple[str, ...] = ()
        self._relay: _Relay | None = None

    def success(self, cb: Callable[[Any], None]) -> Op:
        self._on_success = cb
        return self

    def failure(self, cb: Callable[[BaseException], None]) -> Op:
        self._on_failure = cb
        return self

    def changes(self, *tables: str) -> Op:
        """Tables this op writes; broadcast on the bus after success."""
        self._changed = tables
        return self

    def run(self) -> Op:
        self._relay = _Relay(self)
        _in_flight.add(self)
        bus.busy_changed.emit(len(_in_flight))
        pool().start(_Runnable(self._fn, self._relay))
        return self

    def _parent_alive(self) -> bool:
        return self._parent is None or shiboken6.isValid(self._parent)

    def _done(self) -> None:
        _in_flight.discard(self)
        if not _retired:
            QTimer.singleShot(0, _retired.clear)
        _retired.append(self)
        bus.busy_changed.emit(len(_in_flight))

    def _finish(self, result: Any) -> None:
        self._done()
        if self._changed:
            bus.changed.emit(frozenset(self._changed), self._parent)
        if self._on_success is not None and self._parent_alive():
            self._on_success(result)

    def _crash(self, exc: BaseException) -> None:
        self._done()
        log.warning("%s failed: %s", self.label, getattr(exc, "__traceback_text__", exc))
        if self._on_failure is not None and self._parent_alive():
            self._on_failure(exc)
        else:
            bus.error.emit(f"{self.label}: {exc}")


def wait_idle(timeout_ms: int = 10_000) -> bool:
    """For tests and benchmarks: wait for the pool, then deliver the queued results."""
    from PySide6.QtCore import QCoreApplication, QDeadlineTimer

    deadline = QDeadlineTimer(timeout_ms)
    while _in_flight and not deadline.hasExpired():
        pool().waitForDone(20)
        QCoreApplication.processEvents()
    return not _in_flight
