"""The task editor: title, description, connection and column. Validation is agent.tasks.board' (on save)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
)

from desktop.safe_text import Label


class TaskDialog(QDialog):
    def __init__(self, parent, task, connections: list[tuple[str, str]]):
        """`task`: agent.tasks.board.TaskInfo; `connections`: (id, name) of the live connections."""
        super().__init__(parent)
        from agent.tasks.board import STATUS_LABELS

        self.setWindowTitle("Edit task")
        self.setMinimumWidth(460)
        box = QVBoxLayout(self)
        form = QFormLayout()
        self.title_edit = QLineEdit(task.title)
        self.description_edit = QPlainTextEdit(task.description or "")
        self.description_edit.setFixedHeight(110)
        self.connection_combo = QComboBox()
        self.connection_combo.addItem("No connection", None)
        for cid, name in connections:
            self.connection_combo.addItem(name, cid)
        if task.connection_id and self.connection_combo.findData(task.connection_id) < 0:
            self.connection_combo.addItem(task.connection_name or "a deleted connection", task.connection_id)
        self.connection_combo.setCurrentIndex(max(0, self.connection_combo.findData(task.connection_id)))
        self.status_combo = QComboBox()
        for status, label in STATUS_LABELS.items():
            self.status_combo.addItem(label, status)
        self.status_combo.setCurrentIndex(self.status_combo.findData(task.status))
        form.addRow("Title", self.title_edit)
        form.addRow("Description", self.description_edit)
        form.addRow("Connection", self.connection_combo)
        form.addRow("Column", self.status_combo)
        box.addLayout(form)
        note = Label("Tasks never run by themselves: this only changes the board.", objectName="Muted")
        box.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box.addWidget(buttons)

    def changes(self) -> dict:
        return {"title": self.title_edit.text(), "description": self.description_edit.toPlainText(),
                "connection_id": self.connection_combo.currentData(), "status": self.status_combo.currentData()}
