"""The one background mechanism of the window: every thread hop goes through here.

- `post(fn)`: run `fn` on the UI thread, later, in the order posted (from any thread). One long-lived
  mailbox object carries every call; after the application is gone a post is dropped silently.
- `run_guarded(fn, then)`: on a worker thread, run `fn()` inside a change collector
  (`local_schema.changes.collect`), catch whatever it raises (nothing vanishes in a thread), and post
  `then(Outcome)` — the result or the error, and the tables its writes committed.
- `Work`: the base of the three kinds of background work — `Op` (desktop/ops.py: short work on a small
  pool), `Job` (desktop/jobs.py: long, queued, one at a time, progress and cancel) and `StreamRunner`
  (desktop/workers/stream.py: one streaming chat turn). Each takes `.success(cb)`, `.failure(cb)` and
  `.stopped(cb)` callbacks, run on the UI thread and skipped once the parent widget is gone, and when it
  ends — done, failed or stopped — broadcasts what it wrote ONCE on `bus.changed(tables, initiator)`
  (the initiator is its parent unless given): a failure that committed a first write announces it too.
- The registry: ops and streams in flight (`running_count`, `bus.busy_changed`) — what the account
  switch and closing the window wait for. Jobs are counted by their runner (`JobRunner.active_count`).
- `settle_heap()`: once start-up is over, keep Python's garbage collector from pausing the UI thread.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal, Slot

from desktop.bus import bus
from local_schema import changes
from local_schema.changes import ChangedTables

log = logging.getLogger(__name__)

OP, JOB, STREAM = "op", "job", "stream"


# -- post: any thread -> the UI thread -------------------------------------------------------------------
class _Mailbox(QObject):
    """Made when this module is imported (on the UI thread), so its slot runs there."""

    arrived = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.arrived.connect(self._run, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _run(self, fn: Callable[[], None]) -> None:
        fn()


_mailbox = _Mailbox()


def post(fn: Callable[[], None]) -> None:
    """Run `fn()` on the UI thread once the event loop gets to it (also when called on the UI thread)."""
    # RuntimeError: the interpreter is tearing the mailbox down (application exit); nobody is left to tell.
    with contextlib.suppress(RuntimeError):
        _mailbox.arrived.emit(fn)


def alive(obj: QObject | None) -> bool:
    """False once a QObject (a page, a dialog) has been deleted; None counts as alive."""
    return obj is None or shiboken6.isValid(obj)


# -- run_guarded: the worker side ------------------------------------------------------------------------
T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """How a piece of background work ended, and what it wrote (`changes`: all of it; `unannounced`: the
    part not announced yet — the same, unless the work announced some as it went)."""

    result: T | None = None
    error: BaseException | None = None
    changes: ChangedTables = field(default_factory=ChangedTables)
    unannounced: ChangedTables = field(default_factory=ChangedTables)


def run_guarded(fn: Callable[[], T], then: Callable[[Outcome[T]], None]) -> None:
    """Call on a worker thread: run `fn()`, collecting what it writes; post `then(outcome)` to the UI thread."""
    with changes.collect() as collected:
        try:
            outcome = Outcome(result=fn())
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the UI, never vanish in a thread
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            outcome = Outcome(error=exc)
    ended = Outcome(outcome.result, outcome.error, collected.changes(), collected.take_fresh())
    post(lambda: then(ended))


# -- the registry of work in flight ----------------------------------------------------------------------
_running: dict[str, set[object]] = {OP: set(), JOB: set(), STREAM: set()}


def running_count(*kinds: str) -> int:
    """Work in flight of these kinds (default: ops and streams, what `bus.busy_changed` counts)."""
    return sum(len(_running[kind]) for kind in (kinds or (OP, STREAM)))


def track(work: object, kind: str) -> None:
    if work not in _running[kind]:
        _running[kind].add(work)
        if kind != JOB:
            bus.busy_changed.emit(running_count())


def untrack(work: object, kind: str) -> None:
    if work in _running[kind]:
        _running[kind].discard(work)
        if kind != JOB:
            bus.busy_changed.emit(running_count())


# -- Work: what Op, Job and StreamRunner share -----------------------------------------------------------
_PARENT = object()  # "the initiator is the parent"


class Work:
    """Background work with UI-thread callbacks and one broadcast of its writes when it ends.

    Subclasses start the work (`_begin()`, then `run_guarded(fn, self._end)` on some thread) and may
    override `_stopped_by(outcome)` (did it end because it was cancelled?), `_ending(outcome, stopped)`
    (their own state, before the callbacks) and `_report(outcome, stopped, handled)` (their own Qt
    signals, after the callbacks).
    """

    kind = OP
    _log = log  # each kind logs its failures under its own module's name

    def __init__(self, parent: QObject | None = None, label: str = "", initiator: object = _PARENT):
        # (A QObject subclass: QObject.__init__ calls this without arguments, then the subclass calls
        # `_init_work` with the real ones.)
        self._init_work(parent, label, initiator)

    def _init_work(self, parent: QObject | None, label: str, initiator: object = _PARENT) -> None:
        self._parent = parent
        self.label = label
        self.initiator = parent if initiator is _PARENT else initiator
        self.outcome: Outcome | None = None
        self._on_success: Callable[[Any], None] | None = None
        self._on_failure: Callable[[BaseException], None] | None = None
        self._on_stopped: Callable[[], None] | None = None

    def success(self, cb: Callable[[Any], None]):
        self._on_success = cb
        return self

    def failure(self, cb: Callable[[BaseException], None]):
        self._on_failure = cb
        return self

    def stopped(self, cb: Callable[[], None]):
        self._on_stopped = cb
        return self

    @property
    def parent_alive(self) -> bool:
        return alive(self._parent)

    def announce(self, tables: ChangedTables) -> None:
        """Broadcast what this work wrote (UI thread)."""
        if tables:
            bus.changed.emit(tables, self.initiator)

    def _begin(self) -> None:
        track(self, self.kind)

    def _end(self, outcome: Outcome) -> None:
        """On the UI thread, once: stop counting it, announce what it wrote, then tell whoever waits."""
        self.outcome = outcome
        untrack(self, self.kind)
        self.announce(outcome.unannounced)
        stopped = self._stopped_by(outcome)
        if not stopped and outcome.error is not None:
            self._log.warning("%s failed: %s", self.label, getattr(outcome.error, "__traceback_text__", outcome.error))
        self._ending(outcome, stopped)
        handled = False
        if self.parent_alive:
            if stopped:
                handled = self._call(self._on_stopped)
            elif outcome.error is None:
                handled = self._call(self._on_success, outcome.result)
            else:
                handled = self._call(self._on_failure, outcome.error)
        self._report(outcome, stopped, handled)

    @staticmethod
    def _call(cb: Callable | None, *args) -> bool:
        if cb is None:
            return False
        cb(*args)
        return True

    def _stopped_by(self, outcome: Outcome) -> bool:
        return False

    def _ending(self, outcome: Outcome, stopped: bool) -> None:
        """Before the callbacks (a Job sets its state here)."""

    def _report(self, outcome: Outcome, stopped: bool, handled: bool) -> None:
        """After the callbacks. The default (an Op): a failure nobody handled goes to the status line."""
        if outcome.error is not None and not stopped and not handled:
            bus.error.emit(f"{self.label}: {outcome.error}")


# -- the garbage collector -------------------------------------------------------------------------------
_heap_settled = False


def settle_heap() -> None:
    """Once per process, when the window is ready: move the objects that exist now — modules, classes,
    the window, mostly alive until exit — to the collector's permanent generation.

    A full collection walks every tracked object while holding the GIL, on whichever thread happens to
    allocate; after start-up that is ~120,000 objects and 35–155 ms (measured with bench_desktop's
    stream, 2 cores): a stall in the middle of a streaming reply. Frozen, a full collection walks only
    what was made since. The few start-up cycles that were already garbage stay allocated (bounded,
    once); everything made later is collected as usual.
    """
    global _heap_settled
    if not _heap_settled:
        _heap_settled = True
        gc.freeze()
