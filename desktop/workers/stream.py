"""Runs one streaming chat turn off the UI thread and hands the text over in coalesced batches.

The worker thread only appends deltas to a locked buffer; a 40 ms timer on the UI thread drains
it, so 2,000 tokens arriving at full speed become ~25 repaints a second instead of 2,000 signals
and 2,000 re-layouts (the Electrum `rate_limited` habit). Stop cancels the HTTP stream through
the agent's CancelToken; what arrived so far is kept by the turn logic in agent/ (a stopped turn
ends as a success whose result says so).

It is a `desktop.background.Work`: counted with the ops until its turn is stored, `.success()` /
`.failure()` callbacks besides the `finished`/`failed` signals, and what the turn wrote (the
messages, the thread, reinforced memory) is broadcast once on the change bus when it ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from desktop import ops
from desktop.background import _PARENT, STREAM, Outcome, Work, alive, run_guarded

FLUSH_MS = 40


class StreamRunner(QObject, Work):
    """`job(on_delta, cancel)` runs on a pool thread; `text_changed` carries the whole text so far."""

    text_changed = Signal(str)
    finished = Signal(object)  # job result
    failed = Signal(object)  # the exception the job raised

    kind = STREAM
    _log = ops.log

    def __init__(self, job: Callable[[Callable[[str], None], Any], Any], cancel, parent=None,
                 interval_ms: int = FLUSH_MS, initiator: object = _PARENT):
        QObject.__init__(self, parent)
        self._init_work(parent, "Streaming a reply", initiator)
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

    def _on_delta(self, delta: str) -> None:  # worker thread
        with self._lock:
            self._pending.append(delta)
        # Hand the GIL over: at full speed this thread is CPU-bound Python (SSE parsing) and would
        # otherwise keep the UI thread waiting in 5 ms slices, turn after turn.
        time.sleep(0)

    def start(self) -> None:
        self.running = True
        self._timer.start()
        self._begin()  # counted with the other background work until the turn is stored
        job, on_delta, cancel, end = self._job, self._on_delta, self.cancel_token, self._end
        ops.pool().start(lambda: run_guarded(lambda: job(on_delta, cancel), end))

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

    # -- Work ------------------------------------------------------------------------------------------
    def _ending(self, outcome: Outcome, stopped: bool) -> None:
        if alive(self):  # the window closed mid-reply: agent/ stored the text, nobody is left to show it
            self._timer.stop()
            self._flush()
        self.running = False

    def _report(self, outcome: Outcome, stopped: bool, handled: bool) -> None:
        if not alive(self):
            return
        if outcome.error is None:
            self.finished.emit(outcome.result)
        else:
            self.failed.emit(outcome.error)
