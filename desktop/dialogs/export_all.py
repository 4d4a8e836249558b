"""File → Export all…: choose JSON lines (every table, the attachments' files) or Markdown (every thread)
and a new folder; the export runs as a long job (BackupController.export_all)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from desktop.safe_text import Label

FORMATS = (("json", "JSON lines: every table, and the attachments' files"),
           ("markdown", "Markdown: every thread, one file each"))


class ExportAllDialog(QDialog):
    def __init__(self, ctx, controller, parent=None):
        super().__init__(parent)
        self.ctx, self.controller = ctx, controller
        self.job = None
        self.setWindowTitle("Export all your data")
        col = QVBoxLayout(self)
        intro = Label("Everything you keep in MIRARI, in a shape any tool reads. API keys are never exported.")
        intro.setWordWrap(True)
        col.addWidget(intro)
        form = QFormLayout()
        self.format = QComboBox()
        for key, label in FORMATS:
            self.format.addItem(label, key)
        form.addRow("Format", self.format)
        row = QHBoxLayout()
        start = Path(ctx.settings.export_dir or Path.home())
        self.folder = QLineEdit(str(start / "MIRARI export"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("Into a new folder", row)
        col.addLayout(form)
        self.error = Label("", objectName="Error")
        self.error.setWordWrap(True)
        self.error.hide()
        col.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.export)
        buttons.rejected.connect(self.reject)
        col.addWidget(buttons)
        self.resize(560, 0)

    def _browse(self) -> None:
        parent = QFileDialog.getExistingDirectory(self, "Export into", str(Path(self.folder.text()).parent))
        if parent:
            self.folder.setText(str(Path(parent) / "MIRARI export"))

    def export(self):
        target = Path(self.folder.text().strip()).expanduser()
        if not self.folder.text().strip():
            self._problem("Choose a folder to export into.")
            return None
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            self._problem(f"{target} is not empty: choose a new or empty folder.")
            return None
        self.ctx.settings.export_dir = str(target.parent)
        self.job = self.controller.export_all(self.format.currentData(), target)
        self.accept()
        return self.job

    def _problem(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
