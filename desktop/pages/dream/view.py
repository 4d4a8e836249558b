"""Dream Mode's widgets and nothing else: the title with "Dream now ▾", the state line, the dreams
list with its settings card on the left, the open report on the right. Every widget is a public
attribute; no database, no behaviour, no handlers.

`DreamPage` (page.py) is the controller: it subclasses this view, gives the list its model and
wires the widgets to what they do.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QListView,
    QMenu,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from agent.dream.kinds import LABELS
from desktop.pages.dream.report_view import ReportView
from desktop.safe_text import Label


class DreamView(QWidget):
    def __init__(self):
        super().__init__()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(22, 14, 22, 14)
        head = QHBoxLayout()
        head.addWidget(Label("Dream Mode", objectName="PageTitle"))
        head.addStretch(1)
        self.dream_now = QToolButton(text="Dream now ▾")
        self.dream_now.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.dream_now)
        self.dream_now_actions = {kind: menu.addAction(label) for kind, label in LABELS.items()}
        self.dream_now.setMenu(menu)
        head.addWidget(self.dream_now)
        outer.addLayout(head)
        self.state_label = Label("", objectName="Muted")
        self.state_label.setWordWrap(True)
        outer.addWidget(self.state_label)
        intro = Label("While you are away, the agent reviews its memory, replays recent turns and stress-tests "
                      "its skills within a budget. A dream only proposes: nothing changes until you accept.",
                      objectName="Muted")
        intro.setWordWrap(True)
        outer.addWidget(intro)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._list_column())
        self.report = ReportView()
        scroll = QScrollArea(objectName="PageScroll")  # a frame only to show keyboard focus (theme)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.report)
        split.addWidget(scroll)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([380, 620])
        outer.addWidget(split, 1)

    def _list_column(self) -> QWidget:
        left = QWidget()
        lcol = QVBoxLayout(left)
        lcol.setContentsMargins(0, 6, 8, 0)
        self.list = QListView(objectName="Dreams")
        self.list.setMouseTracking(True)
        self.list.setUniformItemSizes(True)
        lcol.addWidget(self.list, 1)
        self.empty = Label("No dreams yet. Choose a dreaming connection below, or use Dream now.",
                           objectName="Muted")
        self.empty.setWordWrap(True)
        lcol.addWidget(self.empty)
        self.delete_button = QPushButton("Delete report")
        lcol.addWidget(self.delete_button, 0, Qt.AlignmentFlag.AlignLeft)
        lcol.addWidget(self._settings_card())
        return left

    def _settings_card(self) -> QFrame:
        card = QFrame(objectName="Card")
        form = QFormLayout(card)
        form.setContentsMargins(14, 10, 14, 10)
        heading = Label("Dream settings")
        heading.setStyleSheet("font-weight: 600;")
        form.addRow(heading)
        self.enabled = QCheckBox("Dream while I am away")
        form.addRow(self.enabled)
        self.connection = QComboBox()
        form.addRow("Dreaming connection", self.connection)
        self.idle = self._spin(1, 1440, " min")
        form.addRow("Idle for", self.idle)
        self.new_messages = self._spin(1, 100_000, " new messages")
        form.addRow("Material", self.new_messages)
        self.max_requests = self._spin(1, 1000, " requests")
        form.addRow("Budget", self.max_requests)
        self.max_chars = self._spin(1000, 10_000_000, " characters sent")
        self.max_chars.setSingleStep(10_000)
        form.addRow("", self.max_chars)
        self.replay_turns = self._spin(1, 50, " turns")
        form.addRow("Replay", self.replay_turns)
        return card

    def settings_spins(self) -> tuple[QSpinBox, ...]:
        return self.idle, self.new_messages, self.max_requests, self.max_chars, self.replay_turns

    @staticmethod
    def _spin(low: int, high: int, suffix: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSuffix(suffix)
        return spin
