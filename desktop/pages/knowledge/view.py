"""The Knowledge page's widgets and nothing else: the add-a-folder row, the table of sets, the reindex
row with its progress, and the passage search. Every widget is a public attribute; no database, no
behaviour, no handlers.

`KnowledgePage` (page.py) is the controller: it subclasses this view and wires the widgets to what
they do.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.safe_text import Label

COLUMNS = ("Name", "Folder", "Files", "Passages", "Skipped", "Last index")


class KnowledgeView(QWidget):
    def __init__(self):
        super().__init__()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(22, 14, 22, 14)
        outer.addWidget(Label("Knowledge", objectName="PageTitle"))
        intro = Label("Folders of text, Markdown, code and PDF files, indexed on this device (never synced). "
                       "A turn with a set chosen carries its best passages, with their file and line.",
                       objectName="Muted")
        intro.setWordWrap(True)
        outer.addWidget(intro)
        outer.addLayout(self._add_row())
        outer.addWidget(self._sets_table())
        self.empty = Label("No knowledge sets yet: add a folder above.", objectName="Muted")
        outer.addWidget(self.empty)
        outer.addLayout(self._actions_row())
        self.status = Label("", objectName="Muted")
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        outer.addLayout(self._search_row())
        self.results = QListWidget(objectName="Passages")
        self.results.setWordWrap(True)
        self.results.setAlternatingRowColors(True)
        outer.addWidget(self.results, 1)

    def _add_row(self) -> QHBoxLayout:
        add = QHBoxLayout()
        self.name_edit = QLineEdit(placeholderText="Name, e.g. Notes")
        self.folder_edit = QLineEdit(placeholderText="Folder")
        self.choose_button = QPushButton("Choose…")
        self.add_button = QPushButton("Add folder", objectName="Primary")
        add.addWidget(self.name_edit, 1)
        add.addWidget(self.folder_edit, 3)
        add.addWidget(self.choose_button)
        add.addWidget(self.add_button)
        return add

    def _sets_table(self) -> QTableWidget:
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (0, 2, 3, 4, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMaximumHeight(190)
        return self.table

    def _actions_row(self) -> QHBoxLayout:
        actions = QHBoxLayout()
        self.reindex_button = QPushButton("Reindex")
        self.remove_button = QPushButton("Remove")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(260)
        self.progress_label = Label("", objectName="Muted")
        self.cancel_button = QPushButton("Cancel")
        for widget in (self.reindex_button, self.remove_button, self.progress, self.cancel_button):
            actions.addWidget(widget)
        actions.addWidget(self.progress_label, 1)
        return actions

    def _search_row(self) -> QHBoxLayout:
        search = QHBoxLayout()
        self.search_set = QComboBox()
        self.search_set.setMinimumWidth(160)
        self.search_edit = QLineEdit(placeholderText="Search passages…")
        self.search_button = QPushButton("Search")
        search.addWidget(self.search_set)
        search.addWidget(self.search_edit, 1)
        search.addWidget(self.search_button)
        return search
