"""Short background work for the GUI (the Anki `CollectionOp`/`QueryOp` habit), on desktop/background.py.

    Op(parent, lambda: slow_thing(), "Saving").success(on_ok).failure(on_err).run()

`fn` runs on a QThreadPool thread and must not touch widgets; `success`/`failure` run on the UI thread
(skipped once `parent` is gone). When the op ends — also when it failed after a first write committed —
the tables its writes committed are broadcast once on the change bus with `parent` as initiator, so
every view can decide for itself whether to refresh (no view calls another view). A failure without a
handler goes to the bus's `error` signal, which the main window shows; nothing is swallowed silently.

Ops and streaming turns are counted together (`running_count()`, the busy signal, `wait_idle()`), so
"is anything still writing?" has one answer (the account switch and closing the window rely on it).
Minutes-long work goes to the long-job runner instead (`desktop/jobs.py`, `ctx.jobs`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool

from desktop import background
from desktop.background import OP, STREAM, Work, run_guarded

log = logging.getLogger(__name__)

_pool: QThreadPool | None = None


def pool() -> QThreadPool:
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        # SQLite serialises writers anyway; a few threads keep a slow network call from blocking a query.
        _pool.setMaxThreadCount(4)
    return _pool


def running_count() -> int:
    """Ops and streams in flight."""
    return background.running_count(OP, STREAM)


def track(work: object) -> None:
    """Count `work` (e.g. a streaming turn) as background work until `untrack(work)`."""
    background.track(work, STREAM)


def untrack(work: object) -> None:
    background.untrack(work, STREAM)


class Op(Work):
    """A background operation with UI-thread callbacks. Build it, then `.run()` it."""

    kind = OP
    _log = log  # failures are logged as "desktop.ops"

    def __init__(self, parent: QObject | None, fn: Callable[[], Any], label: str = ""):
        super().__init__(parent, label or getattr(fn, "__name__", "operation"))
        self._fn = fn

    def run(self) -> Op:
        self._begin()
        fn, end = self._fn, self._end
        pool().start(lambda: run_guarded(fn, end))
        return self


def wait_idle(timeout_ms: int = 10_000) -> bool:
    """For tests and benchmarks: wait for the pool, then deliver the queued results."""
    from PySide6.QtCore import QCoreApplication, QDeadlineTimer

    deadline = QDeadlineTimer(timeout_ms)
    while running_count() and not deadline.hasExpired():
        pool().waitForDone(20)
        QCoreApplication.processEvents()
    return not running_count()
