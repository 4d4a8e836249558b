"""Mirror Mode's widgets and nothing else: the title with "+ New review", the reports list on the
left, and on the right a stack of the "New review" form (form.py) and the open report
(report_view.py). Every widget is a public attribute; no database, no behaviour, no handlers.

`MirrorPage` (page.py) is the controller: it subclasses this view, gives the list its model and
wires the widgets to what they do.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListView,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.pages.mirror.form import ReviewForm
from desktop.pages.mirror.report_view import ReportView
from desktop.safe_text import Label


class MirrorView(QWidget):
    def __init__(self):
        super().__init__()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(22, 14, 22, 14)
        head = QHBoxLayout()
        head.addWidget(Label("Mirror Mode", objectName="PageTitle"))
        head.addStretch(1)
        self.new_button = QPushButton("+ New review")
        head.addWidget(self.new_button)
        outer.addLayout(head)
        intro = Label("A review of how a connection behaved, grounded in its logs: every claim quotes them, "
                      "and “no change needed” is a valid answer. Nothing changes until you click.",
                      objectName="Muted")
        intro.setWordWrap(True)
        outer.addWidget(intro)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._list_column())
        self.stack = QStackedWidget()
        self.form = ReviewForm()
        self.report = ReportView()
        self.stack.addWidget(self.form)
        self.stack.addWidget(self.report)
        split.addWidget(self.stack)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 4)
        split.setSizes([230, 900])
        outer.addWidget(split, 1)

    def _list_column(self) -> QWidget:
        left = QWidget()
        lcol = QVBoxLayout(left)
        lcol.setContentsMargins(0, 6, 8, 0)
        self.list = QListView(objectName="MirrorReports")
        self.list.setMouseTracking(True)
        self.list.setUniformItemSizes(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the delegate elides
        lcol.addWidget(self.list, 1)
        self.empty = Label("No reviews yet.", objectName="Muted")
        lcol.addWidget(self.empty)
        self.delete_button = QPushButton("Delete report")
        lcol.addWidget(self.delete_button, 0, Qt.AlignmentFlag.AlignLeft)
        return left
