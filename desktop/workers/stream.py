"""Runs one streaming chat turn off the UI thread and hands the text over in coalesced batches.

The worker thread only appends deltas to a locked buffer; a 40 ms timer on the UI thread drains
it, so 2,000 tokens arriving at full speed become ~25 repaints a second instead of 2,000 signals
and 2,000 re-layouts (the Electrum `rate_limited` habit). Stop cancels the HTTP stream through
the agent's CancelToken; what arrived so far is kept by the turn logic in agent/.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QTimer, Signal, Slot

from desktop import ops

FLUSH_MS = 40


class _Done(QObject):
    finished = Signal(object)
    crashed = Signal(object)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], done: _Done):
        super().__init__()
        self._fn = fn
        self._done = done

    def run(self) -> None:
        try:
            result = self._fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the UI, never lost in the thread
            signal, value = self._done.crashed, exc
        else:
            signal, value = self._done.finished, result
        # RuntimeError: the window was destroyed while the turn ran (app exit); agent/ stored the text.
        with contextlib.suppress(RuntimeError):
            signal.emit(value)


class StreamRunner(QObject):
    """`job(on_delta, cancel)` runs on a pool thread; `text_changed` carries the whole text so far."""

    text_changed = Signal(str)
    finished = Signal(object)  # job result
    failed = Signal(object)  # the exception the job raised

    def __init__(self, job: Callable[[Callable[[str], None], Any], Any], cancel, parent=None,
                 interval_ms: int = FLUSH_MS):
        super().__init__(parent)
        self._job = job
        self.cancel_token = cancel
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self.text = ""
        self.flushes = 0
        self.running = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._flush)
        self._done = _Done()
        self._done.finished.connect(self._on_finished)
        self._done.crashed.connect(self._on_crashed)

    def _on_delta(self, delta: str) -> None:  # worker thread
        with self._lock:
            self._pending.append(delta)
        # Hand the GIL over: at full speed this thread is CPU-bound Python (SSE parsing) and would
        # otherwise keep the UI thread waiting in 5 ms slices, turn after turn.
        time.sleep(0)

    def start(self) -> None:
        self.running = True
        self._timer.start()
        ops.track(self)  # counted with the other background work until the turn is stored
        ops.pool().start(_Job(lambda: self._job(self._on_delta, self.cancel_token), self._done))

    def stop(self) -> None:
        if self.running:
            self.cancel_token.cancel()

    @Slot()
    def _flush(self) -> None:
        with self._lock:
            if not self._pending:
                return
            chunk = "".join(self._pending)
            self._pending.clear()
        self.text += chunk
        self.flushes += 1
        self.text_changed.emit(self.text)

    def _end(self) -> None:
        self._timer.stop()
        self._flush()
        self.running = False
        ops.untrack(self)

    @Slot(object)
    def _on_finished(self, result: object) -> None:
        self._end()
        self.finished.emit(result)

    @Slot(object)
    def _on_crashed(self, exc: object) -> None:
        self._end()
        self.failed.emit(exc)
