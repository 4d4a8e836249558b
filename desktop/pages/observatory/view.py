"""The Observatory's widgets and nothing else: the tiles, the 14-day chart, the sync card and the
connections table. Every widget is a public attribute; no database, no behaviour, no handlers.

`ObservatoryPage` (page.py) is the controller: it subclasses this view, wires it to the change bus and
the sync controller, and fills the widgets from one background count.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.safe_text import Label
from desktop.widgets.day_chart import DayChart

TILE_COLUMNS = 6


class Tile(QFrame):
    def __init__(self, key: str, label: str):
        super().__init__(objectName="Card")
        self.key = key
        box = QVBoxLayout(self)
        box.setContentsMargins(14, 10, 14, 10)
        box.setSpacing(0)
        self.value = Label("–", objectName="TileValue")
        self.value.setStyleSheet("font-size: 24px; font-weight: 600;")
        self.caption = Label(label, objectName="Muted")
        box.addWidget(self.value)
        box.addWidget(self.caption)
        self.setAccessibleName(label)

    def set_value(self, value: int) -> None:
        self.value.setText(f"{value:,}")
        self.setAccessibleDescription(f"{self.caption.text()}: {value:,}")


class ObservatoryView(QWidget):
    def __init__(self):
        super().__init__()
        scroll = QScrollArea(self, objectName="PageScroll")  # a frame only to show keyboard focus (theme)
        scroll.setWidgetResizable(True)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        body = QWidget()
        scroll.setWidget(body)
        page = QVBoxLayout(body)
        page.setContentsMargins(18, 14, 18, 14)
        page.setSpacing(12)
        page.addLayout(self._head())
        page.addLayout(self._tile_grid())
        middle = QHBoxLayout()
        middle.setSpacing(12)
        middle.addWidget(self._chart_card(), 3)
        middle.addWidget(self._sync_card(), 2)
        page.addLayout(middle)
        page.addWidget(Label("Connections", objectName="SectionTitle"))
        page.addWidget(self._connections_table())
        self.no_connections = Label("No connections yet: bind one in I · Bind.", objectName="Muted")
        page.addWidget(self.no_connections)
        page.addStretch(1)
        for label in body.findChildren(QLabel, "SectionTitle"):
            label.setStyleSheet("font-weight: 600;")

    def _head(self) -> QHBoxLayout:
        head = QHBoxLayout()
        head.addWidget(Label("Observatory", objectName="PageTitle"))
        head.addStretch(1)
        self.updated = Label("", objectName="Muted")
        head.addWidget(self.updated)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Count again (the page also refreshes by itself after every change)")
        head.addWidget(self.refresh_button)
        return head

    def _tile_grid(self) -> QGridLayout:
        from agent.observatory.stats import TILES

        grid = QGridLayout()
        grid.setSpacing(10)
        self.tiles: dict[str, Tile] = {}
        for i, (key, label) in enumerate(TILES):
            tile = Tile(key, label)
            self.tiles[key] = tile
            grid.addWidget(tile, i // TILE_COLUMNS, i % TILE_COLUMNS)
        return grid

    def _chart_card(self) -> QFrame:
        chart_card = QFrame(objectName="Card")
        chart_box = QVBoxLayout(chart_card)
        chart_box.setContentsMargins(14, 10, 14, 10)
        chart_box.addWidget(Label("Last 14 days", objectName="SectionTitle"))
        self.chart = DayChart()
        self.chart.setMinimumHeight(200)
        chart_box.addWidget(self.chart, 1)
        return chart_card

    def _sync_card(self) -> QFrame:
        card = QFrame(objectName="Card")
        box = QVBoxLayout(card)
        box.setContentsMargins(14, 10, 14, 10)
        box.addWidget(Label("Sync", objectName="SectionTitle"))
        self.sync_state = Label("–")
        self.sync_state.setStyleSheet("font-size: 16px; font-weight: 600;")
        box.addWidget(self.sync_state)
        self.sync_fields: dict[str, QLabel] = {}
        form = QGridLayout()
        form.setHorizontalSpacing(12)
        for row, (key, label) in enumerate((("account", "Signed in as"), ("last_sync", "Last sync"),
                                            ("pending", "Waiting"), ("parked", "Refused"))):
            form.addWidget(Label(label, objectName="Muted"), row, 0)
            value = Label("–")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addWidget(value, row, 1)
            self.sync_fields[key] = value
        box.addLayout(form)
        self.sync_error = Label("", objectName="Error")
        self.sync_error.setWordWrap(True)
        self.sync_error.hide()
        box.addWidget(self.sync_error)
        box.addStretch(1)
        return card

    def _connections_table(self) -> QTableWidget:
        self.connections = QTableWidget(0, 5)
        self.connections.setHorizontalHeaderLabels(["Connection", "Model", "Status", "Last check", "Last error"])
        self.connections.verticalHeader().hide()
        self.connections.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.connections.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.connections.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.connections.setShowGrid(False)  # rows are separated by the theme's item border
        header = self.connections.horizontalHeader()
        for column in range(4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.connections.setMinimumHeight(120)
        return self.connections
