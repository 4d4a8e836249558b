"""One column of the Tasks board: a list whose items are tasks, draggable to another column.

A drag carries only task ids (its own MIME type), and the list never moves items itself: a drop
asks the page to change the task's status, and the board is redrawn from the database. Keyboard:
Ctrl+Left / Ctrl+Right ask to move the current task one column over, Enter/F2 to edit, Delete to delete.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QFont, QFontMetrics, QPen
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QStyle, QStyledItemDelegate

from desktop.safe_text import tip
from desktop.theme import colors

MIME_TYPE = "application/x-mirari-task"
TASK_ROLE = Qt.ItemDataRole.UserRole + 1
DETAIL_ROLE = Qt.ItemDataRole.UserRole + 2  # the muted line under the title: scope and description
_PAD, _GAP = 10, 6


class TaskDelegate(QStyledItemDelegate):
    """Each task as a small card: the title (wrapped), then its connection and description, muted."""

    def __init__(self, view: QListWidget):
        super().__init__(view)
        self.view = view

    def _layout(self, option, index, width: int) -> tuple[QRect, QRect, QFont]:
        title = index.data(Qt.ItemDataRole.DisplayRole) or ""
        detail = index.data(DETAIL_ROLE) or ""
        bold = QFont(option.font)
        bold.setWeight(QFont.Weight.DemiBold)
        inner = max(40, width - 2 * _PAD - 4)
        flags = int(Qt.TextFlag.TextWordWrap)
        title_rect = QFontMetrics(bold).boundingRect(QRect(0, 0, inner, 10_000), flags, title)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.88))
        detail_rect = QRect(0, 0, inner, QFontMetrics(small).height() if detail else 0)
        return title_rect, detail_rect, bold

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 - Qt API
        width = self.view.viewport().width() - 2 * self.view.spacing()
        title, detail, _bold = self._layout(option, index, width)
        height = _PAD * 2 + title.height() + (detail.height() + 2 if detail.height() else 0)
        return QSize(width, height + _GAP)

    def paint(self, painter, option, index) -> None:
        c = colors()
        painter.save()
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        card = option.rect.adjusted(2, _GAP // 2, -2, -_GAP // 2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(QPen(QColor(c.accent if selected else c.border), 1))
        painter.setBrush(QColor(c.selection if selected else c.window))
        painter.drawRoundedRect(card, 7, 7)
        title_rect, detail_rect, bold = self._layout(option, index, option.rect.width())
        painter.setFont(bold)
        painter.setPen(QColor(c.text))
        top = card.top() + _PAD - _GAP // 2 + 2
        painter.drawText(QRect(card.left() + _PAD, top, title_rect.width(), title_rect.height()),
                         int(Qt.TextFlag.TextWordWrap), index.data(Qt.ItemDataRole.DisplayRole) or "")
        detail = index.data(DETAIL_ROLE) or ""
        if detail:
            small = QFont(option.font)
            small.setPointSizeF(max(7.0, small.pointSizeF() * 0.88))
            painter.setFont(small)
            painter.setPen(QColor(c.muted))
            width = card.width() - 2 * _PAD
            painter.drawText(QRect(card.left() + _PAD, top + title_rect.height() + 2, width, detail_rect.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             QFontMetrics(small).elidedText(detail, Qt.TextElideMode.ElideRight, width))
        painter.restore()


def ids_from(mime: QMimeData) -> list[str]:
    if not mime.hasFormat(MIME_TYPE):
        return []
    return [i for i in bytes(mime.data(MIME_TYPE).data()).decode("ascii", "ignore").split("\n") if i]


class TaskList(QListWidget):
    dropped = Signal(str, str)  # task id, the status of this column
    step = Signal(str, int)  # task id, -1 (left) / +1 (right)
    edit_requested = Signal(str)
    delete_requested = Signal(str)

    def __init__(self, status: str, parent=None):
        super().__init__(parent)
        self.status = status
        self.setObjectName("TaskList")
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSpacing(2)
        self.setItemDelegate(TaskDelegate(self))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)  # re-measure the wrapped titles on resize
        self.itemDoubleClicked.connect(lambda item: self.edit_requested.emit(item.data(TASK_ROLE)))

    def current_task_id(self) -> str | None:
        item = self.currentItem()
        return item.data(TASK_ROLE) if item is not None else None

    def select_task(self, task_id: str) -> bool:
        for row in range(self.count()):
            if self.item(row).data(TASK_ROLE) == task_id:
                self.setCurrentRow(row)
                return True
        return False

    def add_task_item(self, task) -> QListWidgetItem:
        item = QListWidgetItem(task.title)
        item.setData(TASK_ROLE, task.id)
        scope = f"↳ {task.connection_name or 'a deleted connection'}" if task.connection_id else ""
        first_line = (task.description or "").strip().splitlines()[0] if task.description else ""
        item.setData(DETAIL_ROLE, " · ".join(part for part in (scope, first_line) if part))
        item.setToolTip(tip(task.title + (f"\n\n{task.description}" if task.description else "")))
        self.addItem(item)
        return item

    # --- drag and drop ------------------------------------------------------------------------------
    def mimeTypes(self) -> list[str]:  # noqa: N802 - Qt API
        return [MIME_TYPE]

    def mimeData(self, items) -> QMimeData:  # noqa: N802 - Qt API
        mime = QMimeData()
        mime.setData(MIME_TYPE, "\n".join(i.data(TASK_ROLE) for i in items).encode("ascii"))
        return mime

    def startDrag(self, _actions) -> None:  # noqa: N802 - Qt API
        items = self.selectedItems()
        if not items:
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData(items))
        drag.exec(Qt.DropAction.MoveAction)  # the list removes nothing itself: the board is redrawn

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if ids_from(event.mimeData()) and event.source() is not self:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        ids = ids_from(event.mimeData())
        if not ids or event.source() is self:
            event.ignore()
            return
        event.acceptProposedAction()
        for task_id in ids:
            self.dropped.emit(task_id, self.status)

    # --- keyboard -----------------------------------------------------------------------------------
    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        task_id = self.current_task_id()
        key, mods = event.key(), event.modifiers()
        if task_id and mods & Qt.KeyboardModifier.ControlModifier and key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.step.emit(task_id, -1 if key == Qt.Key.Key_Left else 1)
            return
        if task_id and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_F2):
            self.edit_requested.emit(task_id)
            return
        if task_id and key == Qt.Key.Key_Delete:
            self.delete_requested.emit(task_id)
            return
        super().keyPressEvent(event)
