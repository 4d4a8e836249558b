"""The long-job runner: work that takes seconds or minutes (skill tests, Mirror reviews, dreams).

    job = runner.submit("Testing skill 'Summarise'", lambda ctx: run_skill_tests(db, ..., ctx))
    job.finished.connect(on_done); job.failed.connect(on_error)     # Qt signals, or:
    job.success(on_done).failure(on_error).stopped(on_cancelled)    # callbacks, as on an Op

Jobs are queued and run one at a time on a thread of their own (they mostly wait on an LLM, and
running two at once would only split the endpoint between them); each reports progress and can be
cancelled, queued or running. Everything a job emits arrives on the UI thread. When a job ends — done,
failed or cancelled — the tables its writes committed are broadcast once on the change bus (initiator:
the one given to `submit`, else None); `announce_progress=True` also announces, at each progress
report, what it has committed since the last one (a number instead of True: at most once every that
many seconds, for a job that reports progress several times a second). Short work (a query, a save) keeps using `desktop.ops.Op`;
streams of the Console are not jobs. The thread hops are desktop/background.py's.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from agent.jobs import JobCancelled, JobContext
from desktop.background import JOB, Outcome, Work, alive, post, run_guarded
from local_schema import changes
from local_schema.changes import ChangedTables

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
_ids = itertools.count(1)


class Job(QObject, Work):
    """One submitted job. Lives on the UI thread; its signals and callbacks fire there."""

    progressed = Signal(int, int, str)  # done, total (0 = unknown), text
    finished = Signal(object)  # the job function's result
    failed = Signal(object)  # the exception
    cancelled = Signal()
    state_changed = Signal(str)

    kind = JOB
    _log = log

    def __init__(self, label: str, fn: Callable[[JobContext], Any], parent: QObject | None = None,
                 initiator: object = None, announce_progress: bool | float = False):
        QObject.__init__(self, parent)
        self._init_work(None, label, initiator)
        self.announce_progress = announce_progress
        # seconds between announcements at progress reports (True: every report)
        self._announce_every = 0.0 if announce_progress is True else float(announce_progress or 0)
        self._announced_at = time.monotonic()
        self.id = next(_ids)
        self.fn = fn
        self.state = QUEUED
        self.result: Any = None
        self.error: BaseException | None = None
        self.progress_value = (0, 0, "")
        self.context = JobContext(on_progress=self._progress_from_worker)
        self._runner: JobRunner | None = None

    def _progress_from_worker(self, done: int, total: int, text: str) -> None:  # the job's thread
        collector = changes.current() if self.announce_progress else None
        fresh = None
        if collector is not None and time.monotonic() - self._announced_at >= self._announce_every:
            self._announced_at = time.monotonic()
            fresh = collector.take_fresh()
        post(lambda: self._on_progress(done, total, text, fresh))

    def _on_progress(self, done: int, total: int, text: str, fresh: ChangedTables | None = None) -> None:
        if fresh:
            self.announce(fresh)  # what the job has committed so far (announce_progress)
        if alive(self) and self.state == RUNNING:
            self.progress_value = (done, total, text)
            self.progressed.emit(done, total, text)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    # -- Work ------------------------------------------------------------------------------------------
    @property
    def parent_alive(self) -> bool:
        return alive(self)

    def _stopped_by(self, outcome: Outcome) -> bool:
        return isinstance(outcome.error, JobCancelled) or self.context.cancelled

    def _ending(self, outcome: Outcome, stopped: bool) -> None:
        if not alive(self):  # the window (and its runner) went away while the job ran
            return
        if stopped:
            self._set_state(CANCELLED)
        elif outcome.error is None:
            self.result = outcome.result
            self._set_state(DONE)
        else:
            self.error = outcome.error
            self._set_state(FAILED)

    def _report(self, outcome: Outcome, stopped: bool, handled: bool) -> None:
        runner = self._runner
        if alive(self) and runner is not None and alive(runner):
            runner._ended(self)

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.label!r}, {self.state})"


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

    def submit(self, label: str, fn: Callable[[JobContext], Any], initiator: object = None,
               announce_progress: bool | float = False) -> Job:
        """Queue `fn(ctx)`. What it writes is broadcast (with `initiator`) once when it ends; with
        `announce_progress`, also what it committed so far at each progress report (a dream's report
        shows while it runs), and the rest when it ends."""
        job = Job(label, fn, self, initiator, announce_progress)
        job._runner = self
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
            job._end(Outcome(error=JobCancelled()))
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
        job._begin()
        self.job_started.emit(job)
        fn, context, end = job.fn, job.context, job._end
        self._pool.start(lambda: run_guarded(lambda: fn(context), end))

    def _ended(self, job: Job) -> None:
        """After the job's broadcast, state and callbacks: its signals, then the next job."""
        if job is self._running:
            self._running = None
        if job.state == CANCELLED:
            job.cancelled.emit()
        elif job.state == DONE:
            job.finished.emit(job.result)
        else:
            job.failed.emit(job.error)
        self.job_ended.emit(job)
        self.active_changed.emit(self.active_count())
        self._start_next()
