"""The Memory Atlas's widgets and nothing else: search, "+ Add", the node table and its buttons on the
left; the agent's view (panel.py) beside it, or under it in a narrow window. Every widget is a public
attribute; no database, no behaviour, no handlers.

`MemoryPage` (page.py) is the controller: it subclasses this view, gives the table its model and wires
the widgets to what they do.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.models.memory_model import CATEGORY, GLYPH, LABEL, LAST, SOURCE, STRENGTH
from desktop.pages.memory.panel import AgentViewPanel
from desktop.safe_text import Label

NARROW = 980  # below this page width the panel goes under the table instead of beside it


class _StrengthDelegate(QStyledItemDelegate):
    def createEditor(self, parent, option, index):  # noqa: N802 - Qt API
        spin = QDoubleSpinBox(parent)
        spin.setRange(0.0, 1.0)
        spin.setSingleStep(0.05)
        spin.setDecimals(2)
        return spin


class MemoryView(QWidget):
    def __init__(self):
        super().__init__()
        left = self._table_column()
        self.panel = AgentViewPanel()  # what the agent sees, and the selected fact's use by other apps
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.panel)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setChildrenCollapsible(False)
        self.panel.setMinimumWidth(260)
        self._sized = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 12, 8)
        outer.addWidget(self.splitter)

    def _table_column(self) -> QWidget:
        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(18, 14, 8, 12)
        col.setSpacing(8)
        header = QHBoxLayout()
        header.addWidget(Label("Memory Atlas", objectName="PageTitle"))
        header.addStretch(1)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search memory…")
        self.search.setClearButtonEnabled(True)
        self.search.setMaximumWidth(280)
        header.addWidget(self.search, 1)
        self.add_button = QPushButton("+ Add")
        self.add_button.setProperty("primary", True)
        self.add_button.setToolTip("Add a fact by hand (Ctrl+N)")
        header.addWidget(self.add_button)
        col.addLayout(header)
        self.summary = Label("", objectName="Muted")
        col.addWidget(self.summary)

        self.table = QTableView(objectName="Atlas")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setItemDelegateForColumn(STRENGTH, _StrengthDelegate(self.table))
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        col.addWidget(self.table, 1)
        self.empty = Label("", objectName="Muted", alignment=Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        col.addWidget(self.empty)
        footer = QHBoxLayout()
        hint = Label("Double-click a label, strength or category to edit it · ✶ injected  ◌ 0.4–0.75  · below"
                     "  ‖ paused", objectName="Muted")
        hint.setWordWrap(True)
        footer.addWidget(hint, 1)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("A paused fact is kept, but never injected into a chat turn nor served to "
                                     "other apps; Resume brings it back as it was")
        footer.addWidget(self.pause_button)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected node (Del); it stays deleted on every device")
        footer.addWidget(self.delete_button)
        col.addLayout(footer)
        return left

    def set_table_model(self, model: QAbstractItemModel) -> None:
        """Show `model` (the Atlas columns of desktop/models/memory_model.py) and size its columns, which
        exist only once the table has the model."""
        self.table.setModel(model)
        head = self.table.horizontalHeader()
        head.setHighlightSections(False)
        head.setSectionResizeMode(LABEL, QHeaderView.ResizeMode.Stretch)
        for column, width in ((GLYPH, 30), (STRENGTH, 78), (CATEGORY, 92), (SOURCE, 160), (LAST, 122)):
            head.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(column, width)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        narrow = self.width() < NARROW
        wanted = Qt.Orientation.Vertical if narrow else Qt.Orientation.Horizontal
        if self.splitter.orientation() != wanted or not self._sized:
            self.splitter.setOrientation(wanted)
            # the table gets the room; the panel a reading width (beside) or a third of the height (under)
            total = self.height() if narrow else self.width()
            panel = total // 3 if narrow else min(340, total // 3)
            self.splitter.setSizes([total - panel, panel])
            self._sized = True
        super().resizeEvent(event)
