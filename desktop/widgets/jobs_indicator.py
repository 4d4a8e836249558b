"""The long jobs in the status line: a small button ("1 job · Testing skill… 40 %") that opens a panel
listing the jobs of this session with their progress and a Cancel button each.

Screens submit work to the one runner on the context (`ctx.jobs.submit(label, fn)`); this widget only
shows it. Hidden until a job is submitted, so a session without long work shows nothing; when the last
job ends, its outcome ("Dream: stress: done") stays as long as a status-bar notice would (6 s, a
failure 12 s), then the indicator hides again instead of saying "done" for the rest of the session.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.jobs import CANCELLED, DONE, FAILED, Job, JobRunner
from desktop.safe_text import Label

SHOWN = 8  # jobs listed in the panel (the newest; older ones are only in the log)
_STATE_TEXT = {DONE: "Done", FAILED: "Failed", CANCELLED: "Cancelled", "queued": "Waiting", "running": "Running"}
LINGER_MS = 6000  # how long an ended job's outcome stays, like MainWindow's notices
LINGER_FAILED_MS = 12000  # like its error lines


def _percent(job: Job) -> str:
    done, total, _text = job.progress_value
    return f" {min(100, round(100 * done / total))} %" if total else ""


class JobRow(QWidget):
    """One job: label, state or progress text, a bar while it runs, Cancel while it is active."""

    def __init__(self, job: Job, runner: JobRunner):
        super().__init__()
        self.job = job
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 2, 0, 2)
        head = QHBoxLayout()
        self.label = Label(job.label)
        self.label.setWordWrap(True)
        head.addWidget(self.label, 1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda: runner.cancel(job))
        head.addWidget(self.cancel_button)
        col.addLayout(head)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        col.addWidget(self.bar)
        self.detail = Label("", objectName="Muted")
        self.detail.setWordWrap(True)
        col.addWidget(self.detail)
        job.progressed.connect(self.update_view)
        job.state_changed.connect(self.update_view)
        self.update_view()

    def update_view(self, *_args) -> None:
        job = self.job
        done, total, text = job.progress_value
        self.bar.setVisible(job.active)
        self.bar.setRange(0, total if total else 0)  # 0..0 = a busy bar when the total is unknown
        if total:
            self.bar.setValue(min(done, total))
        self.cancel_button.setVisible(job.active)
        state = _STATE_TEXT.get(job.state, job.state)
        if job.state == FAILED and job.error is not None:
            state = f"Failed: {job.error}"
        elif job.state == "running" and text:
            state = text + _percent(job)
        self.detail.setText(state)


class JobsPanel(QFrame):
    """The popup under the indicator."""

    def __init__(self, runner: JobRunner, parent=None):
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("JobsPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(340)
        self.runner = runner
        self._col = QVBoxLayout(self)
        self._col.setContentsMargins(12, 10, 12, 10)
        self.rows: list[JobRow] = []
        self.rebuild()

    def rebuild(self) -> None:
        for row in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = [JobRow(job, self.runner) for job in reversed(self.runner.jobs[-SHOWN:])]
        for row in self.rows:
            self._col.addWidget(row)
        self.adjustSize()


class JobsIndicator(QToolButton):
    def __init__(self, runner: JobRunner, parent=None):
        super().__init__(parent)
        self.setObjectName("JobsIndicator")
        self.setAutoRaise(True)
        self.runner = runner
        self.panel: JobsPanel | None = None
        runner.job_added.connect(self._on_job_added)
        runner.job_ended.connect(self._refresh)
        runner.job_started.connect(self._refresh)
        self.clicked.connect(self.open_panel)
        self.setToolTip("Long jobs: progress and Cancel")
        self.linger_ms, self.linger_failed_ms = LINGER_MS, LINGER_FAILED_MS
        self._linger = QTimer(self, singleShot=True)
        self._linger.timeout.connect(self._quiet)
        self.hide()

    def _on_job_added(self, job: Job) -> None:
        job.progressed.connect(self._refresh)
        self.show()
        self._refresh()
        if self.panel is not None and self.panel.isVisible():
            self.panel.rebuild()

    def _refresh(self, *_args) -> None:
        active = self.runner.active_count()
        running = self.runner.running
        if running is not None or active:
            self._linger.stop()
            self.show()
        if running is not None:
            more = f" (+{active - 1} waiting)" if active > 1 else ""
            self.setText(f"⟳ {running.label}{_percent(running)}{more}")
        elif self.runner.jobs:
            last = self.runner.jobs[-1]
            self.setText(f"{last.label}: {_STATE_TEXT.get(last.state, last.state).lower()}")
            if not active:
                self._linger.start(self.linger_failed_ms if last.state == FAILED else self.linger_ms)

    def _quiet(self) -> None:
        """The last outcome has been shown long enough: hide until the next job (not while the panel
        is open: the user is reading it)."""
        if self.runner.active_count():
            return
        if self.panel is not None and self.panel.isVisible():
            self._linger.start(self.linger_ms)
            return
        self.hide()

    def open_panel(self) -> None:
        if self.panel is None:
            self.panel = JobsPanel(self.runner, self)
        else:
            self.panel.rebuild()
        corner = self.mapToGlobal(self.rect().topRight())
        self.panel.adjustSize()
        self.panel.move(corner.x() - self.panel.width(), corner.y() - self.panel.height() - 4)
        self.panel.show()
