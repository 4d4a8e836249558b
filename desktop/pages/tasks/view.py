"""The Tasks board's widgets and nothing else: the title with the connection filter, the "new task"
line, the error line, and one card per status with its TaskList. Every widget is a public
attribute; no database, no behaviour, no handlers.

`TasksPage` (page.py) is the controller: it subclasses this view and wires the widgets to what
they do.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.safe_text import Label
from desktop.widgets.task_list import TaskList

ALL, UNSCOPED = "__all__", "__none__"


class TasksView(QWidget):
    def __init__(self):
        super().__init__()
        page = QVBoxLayout(self)
        page.setContentsMargins(18, 14, 18, 14)
        page.setSpacing(10)
        head = QHBoxLayout()
        head.addWidget(Label("Tasks", objectName="PageTitle"))
        head.addStretch(1)
        head.addWidget(Label("Connection", objectName="Muted"))
        self.filter_combo = QComboBox()
        self.filter_combo.setMinimumWidth(200)
        self.filter_combo.addItem("All connections", ALL)
        head.addWidget(self.filter_combo)
        page.addLayout(head)

        add_row = QHBoxLayout()
        self.new_title = QLineEdit()
        self.new_title.setPlaceholderText("New task — Enter adds it to Pending")
        self.add_button = QPushButton("Add task")
        self.add_button.setProperty("primary", True)
        add_row.addWidget(self.new_title, 1)
        add_row.addWidget(self.add_button)
        page.addLayout(add_row)
        self.error = Label("", objectName="Error")
        self.error.hide()
        page.addWidget(self.error)
        page.addLayout(self._board(), 1)
        hint = Label("Drag a task to another column, or select it and press Ctrl+← / Ctrl+→. "
                     "Enter edits, Delete deletes. Tasks never run by themselves.", objectName="Muted")
        hint.setWordWrap(True)
        page.addWidget(hint)

    def _board(self) -> QHBoxLayout:
        from agent.tasks.board import STATUS_LABELS, STATUSES

        board = QHBoxLayout()
        board.setSpacing(12)
        self.lists: dict[str, TaskList] = {}
        self.headers: dict[str, QLabel] = {}
        for status in STATUSES:
            card = QFrame(objectName="Card")
            column = QVBoxLayout(card)
            column.setContentsMargins(10, 10, 10, 10)
            header = Label(STATUS_LABELS[status])
            header.setStyleSheet("font-weight: 600;")
            column.addWidget(header)
            task_list = TaskList(status)
            task_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            column.addWidget(task_list, 1)
            self.lists[status], self.headers[status] = task_list, header
            board.addWidget(card, 1)
        return board
