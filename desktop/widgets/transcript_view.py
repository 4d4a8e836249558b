"""The transcript list: per-pixel scrolling, sticks to the bottom while a reply streams, asks for
older pages near the top and keeps the reader's place when they arrive."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import QAbstractItemView, QApplication, QListView

from desktop.models.transcript_model import ROW_ROLE, TranscriptModel
from desktop.widgets.message_delegate import MessageDelegate

PREFETCH_PX = 600  # ask for older messages this close to the top


class TranscriptView(QListView):
    wants_older = Signal()
    wants_newer = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._stick_bottom = True
        self._anchor: tuple[str, int] | None = None  # (message id, its top) kept across a page change
        self.setObjectName("Transcript")
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Always on: a scrollbar that comes and goes changes the width and re-lays every message.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setMouseTracking(True)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_Hover, True)  # repaint rows as the pointer moves
        self.setUniformItemSizes(False)
        self.verticalScrollBar().setSingleStep(24)
        self.delegate = MessageDelegate(self)
        self.setItemDelegate(self.delegate)
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.verticalScrollBar().rangeChanged.connect(self._on_range)
        self.delegate.copy_code.connect(self._copy)

    def setModel(self, model: TranscriptModel) -> None:  # noqa: N802 - Qt API
        super().setModel(model)
        model.dataChanged.connect(self._on_data_changed)
        model.modelReset.connect(self._on_reset)

    def _on_reset(self) -> None:
        self._stick_bottom = True
        self._anchor = None

    def _on_data_changed(self, top: QModelIndex, bottom: QModelIndex, roles=()) -> None:
        for r in range(top.row(), bottom.row() + 1):
            self.delegate.sizeHintChanged.emit(self.model().index(r, 0))

    def _copy(self, text: str) -> None:
        QApplication.clipboard().setText(text)

    # --- scrolling -----------------------------------------------------------------------------
    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def stick_to_bottom(self) -> None:
        self._stick_bottom = True
        self.scrollToBottom()

    def _on_scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._stick_bottom = value >= bar.maximum() - 4
        model = self.model()
        if model is None or self._anchor is not None:
            return
        if value < PREFETCH_PX and model.has_older():
            self.wants_older.emit()
        elif value > bar.maximum() - PREFETCH_PX and model.has_newer():
            self.wants_newer.emit()

    def _on_range(self, _minimum: int, maximum: int) -> None:
        if self._anchor is None and self._stick_bottom:
            self.verticalScrollBar().setValue(maximum)

    def updateGeometries(self) -> None:  # noqa: N802 - Qt API: runs after every (delayed) layout
        super().updateGeometries()
        if self.model() is None:
            return
        if self._anchor is not None:
            # Restore here, not on rangeChanged: a page swapped for one of equal height changes no range.
            message_id, old_top = self._anchor
            self._anchor = None
            row = self.model().row_of(message_id)
            if row is not None:
                rect = self.visualRect(self.model().index(row, 0))
                self.verticalScrollBar().setValue(self.verticalScrollBar().value() + rect.top() - old_top)
        elif self._stick_bottom:
            self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def remember_anchor(self) -> None:
        """Call before prepending rows: the first visible message stays where the reader sees it."""
        index = self.indexAt(self.viewport().rect().topLeft())
        if index.isValid():
            self._anchor = (index.data(ROW_ROLE).id, self.visualRect(index).top())
            self._stick_bottom = False

    def keep_at(self, message_id: str, top: int) -> None:
        """After the next layout, scroll so that `message_id` starts at `top` (viewport pixels)."""
        self._anchor = (message_id, top)
        self._stick_bottom = False

    def scroll_to_message(self, message_id: str) -> bool:
        row = self.model().row_of(message_id)
        if row is None:
            return False
        self._stick_bottom = False
        index = self.model().index(row, 0)
        # Layout is delayed; scroll once it has run so the row's position is known.
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtTop)
        QTimer.singleShot(0, lambda: self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtTop))
        return True

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        keep_bottom = self._stick_bottom
        super().resizeEvent(event)
        if keep_bottom:
            self._stick_bottom = True
