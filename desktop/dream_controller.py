"""Dreams while you are away: watches for idleness, checks the gates, runs one dream at a time on the
long-job runner, pauses it the moment you touch the window, and says when it ends.

The rules are in `agent.dream` (gates, which kind next and the facts from the database in schedule,
budget, the dreams); this object only adds what the window alone knows (idle time from an event filter,
whether a reply is streaming, the key) and drives the job. Clock, idle source and "is a reply streaming" are injectable so tests can set them.

It is app-wide like sync (`ctx.dream`, made once by the window): `start()` when a database opens (a
dream left running when the app last closed is marked interrupted), `stop()` before it closes. The Dream
page only shows its state and asks it to dream now.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QWindow

from desktop.bus import bus
from desktop.ops import Op

log = logging.getLogger(__name__)

INPUT_EVENTS = frozenset({QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                          QEvent.Type.Wheel, QEvent.Type.TouchBegin, QEvent.Type.InputMethod})
CHECK_INTERVAL_MS = 30_000
ENDED_SHOWN_MS = 6_000  # "Last dream: done" stays as long as a notice, then the gates are read again


class IdleWatch(QObject):
    """Seconds since the last keyboard/mouse input in the main window.

    The filter sits on the window's QWindow, not on the application: input reaches the QWindow before
    any widget, while paints, timers and the rest of the application's traffic never pass through it
    (an application-wide Python filter would run for every event of every widget)."""

    input_seen = Signal()

    def __init__(self, clock: Callable[[], float] = time.monotonic, parent: QObject | None = None):
        super().__init__(parent)  # destroyed with its owner, which also removes the event filter
        self._clock = clock
        self._last = clock()
        self._watched: QWindow | None = None

    def watch(self, window: QWindow | None) -> None:
        if window is None or window is self._watched:
            return
        if self._watched is not None:
            self._watched.removeEventFilter(self)
        window.installEventFilter(self)
        self._watched = window

    def eventFilter(self, _obj, event) -> bool:  # noqa: N802 - Qt API
        if event.type() in INPUT_EVENTS:
            self._last = self._clock()
            self.input_seen.emit()
        return False

    def idle_seconds(self) -> float:
        return max(0.0, self._clock() - self._last)


class DreamController(QObject):
    state_changed = Signal(str)  # a sentence: "Dreaming: consolidate (paused)", "Waiting: …"
    dream_ended = Signal(object)  # the finished Job

    def __init__(self, ctx, *, is_streaming: Callable[[], bool] = lambda: False,
                 input_window: Callable[[], QWindow | None] = lambda: None,
                 idle_seconds: Callable[[], float] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 check_interval_ms: int = CHECK_INTERVAL_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.is_streaming = is_streaming
        self.now = now
        self.watch = IdleWatch(parent=self)
        self.input_window = input_window
        self.idle_seconds = idle_seconds or self.watch.idle_seconds
        self.watch.input_seen.connect(self._on_input)
        self.job = None  # the running dream's Job
        self.state = "Not dreaming."
        self._checking = False
        self._timer = QTimer(self, interval=check_interval_ms)
        self._timer.timeout.connect(self.check)

    def start(self) -> None:
        """The database is open: tidy what the last run left, then check the gates every interval."""
        self._mark_leftovers()
        if self.job is None:
            self._set_state("Not dreaming.")
        self._timer.start()

    # -- public ----------------------------------------------------------------------------------
    def dream_now(self, kind: str, connection_id: str | None = None):
        """On demand: skips the idle and new-material gates, keeps the budget."""
        self.watch.watch(self.input_window())
        from agent.dream.settings import load_settings

        settings = load_settings(self.ctx.data_dir)
        return self._start(kind, connection_id or settings.connection_id, settings, automatic=False)

    def check(self) -> None:
        """Gather the facts off the UI thread, then start a dream if every gate is open."""
        self.watch.watch(self.input_window())  # the window exists by now (not yet when pages are built)
        if self._checking or self.ctx.db is None:
            return
        if self.job is not None:
            self._resume_if_idle()
            return
        self._checking = True
        streaming, idle, now = self.is_streaming(), self.idle_seconds(), self.now()
        Op(self, lambda: self._facts(streaming, idle, now), "Checking whether to dream") \
            .success(self._decide).failure(self._check_failed).run()

    def stop(self) -> None:
        self._timer.stop()
        if self.job is not None and self.ctx.jobs is not None:
            self.ctx.jobs.cancel(self.job)

    # -- gates -----------------------------------------------------------------------------------
    def _facts(self, streaming: bool, idle: float, now: datetime):
        from agent.dream.gates import blocking_reasons
        from agent.dream.schedule import gather_facts, next_kind
        from agent.dream.settings import load_settings

        settings = load_settings(self.ctx.data_dir)
        db = self.ctx.db
        facts = gather_facts(db, settings, now=now, idle_seconds=idle, streaming=streaming,
                             dreaming=self.job is not None, key_available=self._key_available)
        return settings, blocking_reasons(settings, facts), next_kind(db)

    def _key_available(self, connection_id: str) -> bool:
        secrets = self.ctx.secrets
        if secrets is None:
            return True
        from sync.secrets import SecretsUnavailable

        try:
            secrets.get_key(connection_id)  # "" is fine: local runners need no key
            return True
        except SecretsUnavailable:
            return False

    def _decide(self, result) -> None:
        self._checking = False
        settings, reasons, kind = result
        if self.job is not None:
            return
        if reasons:
            self._set_state("Not dreaming: " + reasons[0])
            return
        self._start(kind, settings.connection_id, settings, automatic=True)

    def _check_failed(self, exc: BaseException) -> None:
        self._checking = False
        log.warning("dream gate check failed: %s", exc)
        self._set_state(f"Not dreaming: could not check ({exc}).")

    # -- the job ---------------------------------------------------------------------------------
    def _start(self, kind: str, connection_id: str, settings, *, automatic: bool):
        from agent.dream.run import run_dream

        if self.job is not None:
            raise RuntimeError("A dream is already running; one at a time.")
        if not connection_id:
            raise ValueError("Choose a dreaming connection first (Dream settings).")
        from agent.skills.settings import load_min_score

        db, secrets, data_dir = self.ctx.db, self.ctx.secrets, self.ctx.data_dir

        def work(job_ctx):
            key = secrets.get_key(connection_id) if secrets is not None else ""
            return run_dream(db, kind, connection_id, api_key=key, settings=settings, ctx=job_ctx,
                             min_score=load_min_score(data_dir))

        label = f"Dream: {kind}" + ("" if automatic else " (on demand)")
        # The report shows while the dream runs: what it committed is announced at each progress report.
        self.job = self.ctx.jobs.submit(label, work, initiator=self, announce_progress=True)
        self.job.state_changed.connect(self._job_state)
        self._set_state(f"Dreaming: {kind}…")
        return self.job

    def _job_state(self, state: str) -> None:
        job = self.job
        if job is None or state in ("queued", "running"):
            return
        self.job = None
        if state == "done":
            outcome = job.result
            bus.notice.emit(f"Dream finished ({outcome.status}): {outcome.summary_text[:160]}")
            self._set_state("Last dream: " + outcome.status)
        elif state == "failed":
            bus.notice.emit(f"Dream failed: {job.error}")
            self._set_state(f"Last dream failed: {job.error}")
        else:
            self._set_state("Dream cancelled; what it found is kept.")
        self.dream_ended.emit(job)
        QTimer.singleShot(ENDED_SHOWN_MS, self, self._after_ended)

    def _after_ended(self) -> None:
        """The outcome has been shown: say again why it is (not) dreaming, not "done" until the next check."""
        if self._timer.isActive():
            self.check()

    def _on_input(self) -> None:
        if self.job is not None and self.job.state == "running" and not self.job.context.paused:
            self.job.context.pause()
            self._set_state(f"Dream paused ({self.job.label}): you are back. It resumes when you are away again.")

    def _resume_if_idle(self) -> None:
        from agent.dream.settings import load_settings

        job = self.job
        if job is None or not job.context.paused:
            return
        if self.idle_seconds() >= load_settings(self.ctx.data_dir).idle_minutes * 60 and not self.is_streaming():
            job.context.resume()
            self._set_state(f"Dreaming again: {job.label}…")

    def _mark_leftovers(self) -> None:
        """A dream that was running when the app last closed is marked interrupted (nothing is lost)."""
        db = self.ctx.db
        if db is None:
            return
        from agent.dream.reports import device_id, mark_interrupted

        Op(self, lambda: mark_interrupted(db, device_id(db)), "Tidying dreams").run()

    def _set_state(self, text: str) -> None:
        self.state = text
        self.state_changed.emit(text)
