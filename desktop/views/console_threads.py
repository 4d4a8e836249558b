"""The Console's left column: "+ New thread", the search box, and the thread list that the search
results replace while a query is active. Built here to keep console_page.py about behaviour."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.models.thread_model import ThreadDelegate, ThreadListModel
from desktop.widgets.search_panel import SearchBox, SearchResults


def build_thread_column(page) -> QWidget:
    """Creates the column and sets page.new_button, search_box, left_stack, threads, thread_view,
    search_results; wires them to the page's handlers."""
    left = QWidget()
    left.setMinimumWidth(230)  # gives way to the conversation in a small window
    left.setMaximumWidth(260)
    lcol = QVBoxLayout(left)
    lcol.setContentsMargins(12, 14, 6, 10)
    head = QHBoxLayout()
    head.addWidget(QLabel("Threads", objectName="PageTitle"))
    head.addStretch(1)
    page.new_button = QPushButton("+ New thread")
    page.new_button.clicked.connect(page.new_thread)
    head.addWidget(page.new_button)
    lcol.addLayout(head)
    page.search_box = SearchBox()
    lcol.addWidget(page.search_box)
    page.left_stack = QStackedWidget()
    page.threads = ThreadListModel(page)
    page.thread_view = QListView(objectName="Threads")
    page.thread_view.setModel(page.threads)
    page.thread_view.setItemDelegate(ThreadDelegate(page.thread_view))
    page.thread_view.setMouseTracking(True)
    page.thread_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # titles elide
    page.thread_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    page.thread_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    page.thread_view.customContextMenuRequested.connect(page._thread_menu)
    page.thread_view.selectionModel().currentChanged.connect(page._on_thread_selected)
    page.search_results = SearchResults(page.ctx, page._title_of, speaker_of=page._speaker_of)
    page.left_stack.addWidget(page.thread_view)
    page.left_stack.addWidget(page.search_results)
    lcol.addWidget(page.left_stack, 1)
    page.search_box.textChanged.connect(page._on_search_text)
    page.search_results.picked.connect(page.jump_to_message)
    return left
