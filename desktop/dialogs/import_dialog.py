"""File → Import…: choose a ChatGPT or Claude export, import it as a long job, say what it did.

    start_import(window)      # the file dialog; then the format is detected (or asked) and the job runs

The file's format is read from its first conversation off the UI thread; when it tells neither, the
person chooses. The import runs on the window's job runner (`ctx.jobs`), so it is also listed with
Cancel in the status line; `ImportDialog` shows its progress, a Cancel button, then the summary as
plain text. The Console's thread list refreshes when it ends, whatever the outcome (the conversations
stored before an error or a Cancel stay).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from desktop.bus import bus
from desktop.ops import Op
from desktop.safe_text import Label, message_box

FILTER = "ChatGPT or Claude export (*.zip *.json);;All files (*)"
SOURCES = {"ChatGPT": "chatgpt", "Claude": "claude"}
LIST_EVERY = 5.0  # seconds between refreshes of the Console's thread list during an import


def start_import(window) -> None:
    """Ask for the export (a non-native dialog kept on `window.import_file_dialog`, as tests drive it)."""
    ctx = window.ctx
    if ctx.db is None:
        return
    dialog = QFileDialog(window, "Import conversations", ctx.settings.export_dir or str(Path.home()), FILTER)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
    dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.fileSelected.connect(lambda path: choose_source(window, Path(path)))
    window.import_file_dialog = dialog
    dialog.open()


def choose_source(window, path: Path) -> None:
    """Read the format from the file's first conversation (off the UI thread), then import."""
    from agent.imports.source import detect_source

    def detected(source) -> None:
        if source is None:
            ask_source(window, path)
        else:
            run_import(window, path, source)

    Op(window, lambda: detect_source(path), "Reading the export").success(detected).failure(
        lambda exc: refuse(window, exc)).run()


def refuse(window, exc: BaseException) -> None:
    """The file is not an export (or cannot be read): say why, as plain text (it quotes the file)."""
    box = message_box(QMessageBox.Icon.Warning, "Import conversations",
                      f"Nothing was imported: {' '.join(str(exc).split()) or type(exc).__name__}", window)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.import_error_box = box
    box.open()


class SourceChoice(QDialog):
    """Which app made the file: the file's name in a plain-text label, the apps in a list."""

    def __init__(self, parent, path: Path) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import conversations")
        col = QVBoxLayout(self)
        question = Label(f"Which app exported {path.name}?")
        question.setWordWrap(True)
        col.addWidget(question)
        self.choice = QComboBox()
        self.choice.addItems(list(SOURCES))
        col.addWidget(self.choice)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        col.addWidget(buttons)


def ask_source(window, path: Path) -> None:
    """The file does not say which app made it: ask (kept on `window.import_source_dialog`)."""
    dialog = SourceChoice(window, path)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.accepted.connect(lambda: run_import(window, path, SOURCES[dialog.choice.currentText()]))
    window.import_source_dialog = dialog
    dialog.open()


def run_import(window, path: Path, source: str) -> ImportDialog:
    from agent.imports.run import ImportSummary, import_export
    from sync.accounts import load_state

    ctx = window.ctx
    db, data_dir, summary = ctx.db, ctx.data_dir, ImportSummary(source, path.name)

    def work(job_ctx):
        account = load_state(data_dir).active_account  # whose database is open (sync.accounts)
        return import_export(db, path, source, job_ctx, account_id=account, summary=summary)

    # The Console's thread list grows while a long import runs: what it committed is announced every
    # LIST_EVERY seconds, and the rest when it ends (also after an error or Cancel).
    job = ctx.jobs.submit(f"Importing {path.name}", work, announce_progress=LIST_EVERY)
    dialog = ImportDialog(window, job, summary, lambda: ctx.jobs.cancel(job))
    window.import_dialog = dialog
    dialog.show()
    return dialog


class ImportDialog(QDialog):
    """The running import: progress and Cancel, then what was imported (plain text) and Close."""

    def __init__(self, parent, job, summary, cancel) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import conversations")
        self.setMinimumWidth(460)
        self.job, self.summary = job, summary
        col = QVBoxLayout(self)
        self.heading = Label(f"Importing {summary.file}")  # the file name is the user's, never markup
        self.heading.setWordWrap(True)
        col.addWidget(self.heading)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        col.addWidget(self.bar)
        self.status = Label("Waiting for the job queue…", objectName="Muted")
        self.status.setWordWrap(True)
        col.addWidget(self.status)
        self.buttons = QDialogButtonBox()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(cancel)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.clicked.connect(self.accept)
        self.close_button.hide()
        col.addWidget(self.buttons)
        job.progressed.connect(self._progress)
        job.finished.connect(self._finished)
        job.failed.connect(self._failed)
        job.cancelled.connect(self._cancelled)

    def _progress(self, done: int, total: int, text: str) -> None:
        self.bar.setRange(0, 1000 if total else 0)
        if total:
            self.bar.setValue(min(1000, round(1000 * done / total)))
        self.status.setText(text)

    def _end(self, text: str, error: bool = False) -> None:
        self.bar.hide()
        self.cancel_button.hide()
        self.close_button.show()
        self.status.setObjectName("Error" if error else "")
        self.status.style().polish(self.status)
        self.status.setText(text)

    def _finished(self, summary) -> None:
        self.heading.setText(f"Imported {summary.file}")
        self._end(summary.summary())
        bus.notice.emit(f"Import done: {summary.threads_added:,} new threads, "
                        f"{summary.messages_added:,} messages")

    def _failed(self, exc) -> None:
        self.heading.setText(f"Could not import all of {self.summary.file}")
        self._end(" ".join(str(exc).split()) or type(exc).__name__, error=True)

    def _cancelled(self) -> None:
        self.heading.setText(f"Import of {self.summary.file} cancelled")
        done = self.summary.conversations_read
        self._end(f"Cancelled after {done:,} conversation{'' if done == 1 else 's'}: those stay imported "
                  f"({self.summary.threads_added:,} new threads, {self.summary.messages_added:,} messages); "
                  "importing the file again adds only the rest.")
