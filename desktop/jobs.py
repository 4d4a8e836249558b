"""The long-job runner: work that takes seconds or minutes (skill tests, Mirror reviews, dreams).

    job = runner.submit("Testing skill 'Summarise'", lambda ctx: run_skill_tests(db, ..., ctx))
    job.finished.connect(on_done); job.failed.connect(on_error)

Jobs are queued and run one at a time on a thread of their own (they mostly wait on an LLM, and
running two at once would only split the endpoint between them); each reports progress and can be
cancelled, queued or running. Everything a job emits arrives on the UI thread. Short work (a query,
a save) keeps using `desktop.ops.Op`; streams of the Console are not jobs.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from agent.jobs import JobCancelled, JobContext

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
_ids = itertools.count(1)


class Job(QObject):
    """One submitted job. Lives on the UI thread; its signals fire there."""

    progressed = Signal(int, int, str)  # done, total (0 = unknown), text
    finished = Signal(object)  # the job function's result
    failed = Signal(object)  # the exception
    cancelled = Signal()
    state_changed = Signal(str)

    # Emitted from the worker thread; queued onto the UI thread by Qt (the Job lives there).
    _progress_from_worker = Signal(int, int, str)
    _result_from_worker = Signal(object, object)  # (result, exception or None)

    def __init__(self, label: str, fn: Callable[[JobContext], Any], parent: QObject | None = None):
        super().__init__(parent)
        self.id = next(_ids)
        self.label = label
        self.fn = fn
        self.state = QUEUED
        self.result: Any = None
        self.error: BaseException | None = None
        self.progress_value = (0, 0, "")
        self.context = JobContext(on_progress=self._progress_from_worker.emit)
        self._progress_from_worker.connect(self._on_progress)

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, text: str) -> None:
        if self.state == RUNNING:
            self.progress_value = (done, total, text)
            self.progressed.emit(done, total, text)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.label!r}, {self.state})"


class _Worker(QRunnable):
    def __init__(self, job: Job):
        super().__init__()
        self.setAutoDelete(True)
        self._job = job

    def run(self) -> None:
        job = self._job
        try:
            result = job.fn(job.context)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the UI, never vanish
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            outcome: tuple[Any, BaseException | None] = (None, exc)
        else:
            outcome = (result, None)
        with contextlib.suppress(RuntimeError):  # the application is shutting down
            job._result_from_worker.emit(*outcome)


class JobRunner(QObject):
    """A queue of long jobs, run one at a time. `jobs` lists every job of this session, newest last."""

    job_added = Signal(object)
    job_started = Signal(object)
    job_ended = Signal(object)  # done, failed or cancelled: look at job.state
    active_changed = Signal(int)  # queued + running

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.jobs: list[Job] = []
        self._queue: list[Job] = []
        self._running: Job | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)

    def submit(self, label: str, fn: Callable[[JobContext], Any]) -> Job:
        job = Job(label, fn, self)
        job._result_from_worker.connect(lambda result, exc, job=job: self._on_result(job, result, exc))
        self.jobs.append(job)
        self._queue.append(job)
        self.job_added.emit(job)
        self._start_next()
        self.active_changed.emit(self.active_count())
        return job

    def cancel(self, job: Job) -> None:
        """A queued job is dropped; a running one is told to stop (it ends as cancelled)."""
        if job in self._queue:
            self._queue.remove(job)
            self._end(job, CANCELLED)
        elif job is self._running:
            job.context.cancel.cancel()
            job.context.resume()  # a paused job must wake up to notice

    def cancel_all(self) -> None:
        for job in list(self._queue):
            self.cancel(job)
        if self._running is not None:
            self.cancel(self._running)

    def active_count(self) -> int:
        return len(self._queue) + (1 if self._running is not None else 0)

    @property
    def running(self) -> Job | None:
        return self._running

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """For tests and shutdown: wait until no job is queued or running."""
        from PySide6.QtCore import QCoreApplication, QDeadlineTimer

        deadline = QDeadlineTimer(timeout_ms)
        while self.active_count() and not deadline.hasExpired():
            self._pool.waitForDone(20)
            QCoreApplication.processEvents()
        return self.active_count() == 0

    # -- internals -------------------------------------------------------------------------------
    def _start_next(self) -> None:
        if self._running is not None or not self._queue:
            return
        job = self._queue.pop(0)
        self._running = job
        job._set_state(RUNNING)
        self.job_started.emit(job)
        self._pool.start(_Worker(job))

    def _on_result(self, job: Job, result: Any, exc: BaseException | None) -> None:
        if job is self._running:
            self._running = None
        if exc is None and not job.context.cancelled:
            job.result = result
            self._end(job, DONE)
        elif isinstance(exc, JobCancelled) or job.context.cancelled:
            self._end(job, CANCELLED)
        else:
            job.error = exc
            log.warning("job %r failed: %s", job.label, getattr(exc, "__traceback_text__", exc))
            self._end(job, FAILED)
        self._start_next()

    def _end(self, job: Job, state: str) -> None:
        job._set_state(state)
        if state == DONE:
            job.finished.emit(job.result)
        elif state == FAILED:
            job.failed.emit(job.error)
        else:
            job.cancelled.emit()
        self.job_ended.emit(job)
        self.active_changed.emit(self.active_count())
