"""The Tools page's widgets and nothing else: the server list on the left; the selected server's
switches, status, tool table and tester on the right. Every widget is a public attribute; no database,
no behaviour, no handlers.

`ToolsPage` (page.py) is the controller: it subclasses this view, gives it the tester (which runs calls
through the page) and wires the widgets to what they do.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QListWidget,
    QPushButton,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.safe_text import Label

ENABLED, NAME, ALWAYS, DESCRIPTION = range(4)  # the tool table's columns


class ToolsView(QWidget):
    """`tester` is the tool tester shown under the tool table (pages/tools/tester.py)."""

    def __init__(self, tester: QWidget):
        super().__init__()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._server_column())
        splitter.addWidget(self._details_column(tester))
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 700])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(splitter)

    def _server_column(self) -> QWidget:
        left = QWidget()
        lcol = QVBoxLayout(left)
        lcol.setContentsMargins(18, 14, 8, 12)
        head = QHBoxLayout()
        head.addWidget(Label("Tools", objectName="PageTitle"))
        head.addStretch(1)
        self.add_button = QPushButton("+ Add server")
        self.add_button.setProperty("primary", True)
        head.addWidget(self.add_button)
        lcol.addLayout(head)
        note = Label("MCP servers on this device (not synced). The agent may call their enabled tools; "
                      "each call asks you first unless the tool is always allowed.", objectName="Muted")
        note.setWordWrap(True)
        lcol.addWidget(note)
        self.list = QListWidget(objectName="ToolServers")
        lcol.addWidget(self.list, 1)
        self.empty = Label("No server yet. “+ Add server”: a command such as\n"
                            "npx -y @modelcontextprotocol/server-filesystem ~/Documents\nor a URL.",
                            objectName="Muted", alignment=Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        lcol.addWidget(self.empty)
        return left

    def _details_column(self, tester: QWidget) -> QWidget:
        right = QWidget()
        rcol = QVBoxLayout(right)
        rcol.setContentsMargins(8, 14, 12, 12)
        top = QHBoxLayout()
        self.title = Label("", objectName="SectionTitle")
        top.addWidget(self.title)
        top.addStretch(1)
        self.enabled = QCheckBox("Enabled")
        self.enabled.setToolTip("A disabled server offers no tool to the agent")
        top.addWidget(self.enabled)
        self.start_button = QPushButton("Start")
        top.addWidget(self.start_button)
        self.remove_button = QPushButton("Remove")
        top.addWidget(self.remove_button)
        rcol.addLayout(top)
        self.where = Label("", objectName="Muted")
        self.where.setWordWrap(True)
        rcol.addWidget(self.where)
        self.state = Label("")
        self.state.setWordWrap(True)
        rcol.addWidget(self.state)
        self.tools = QTableWidget(0, 4, objectName="ToolTable")
        self.tools.setHorizontalHeaderLabels(["On", "Tool", "Always", "Description"])
        self.tools.verticalHeader().hide()
        self.tools.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.tools.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tools.setWordWrap(False)
        header = self.tools.horizontalHeader()
        header.setSectionResizeMode(DESCRIPTION, QHeaderView.ResizeMode.Stretch)
        for column, width in ((ENABLED, 40), (NAME, 170), (ALWAYS, 62)):
            self.tools.setColumnWidth(column, width)
        rcol.addWidget(self.tools, 2)
        self.tester = tester
        rcol.addWidget(self.tester, 3)
        self.details = right  # disabled while no server is selected
        return right
