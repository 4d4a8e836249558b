"""Threads (conversations) for the Console's left column, most recent activity first."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QStyle, QStyledItemDelegate

from desktop.models.record_list_model import RECORD_ROLE, RecordListModel
from desktop.queries import ThreadInfo
from desktop.theme import colors

THREAD_ROLE = RECORD_ROLE


class ThreadListModel(RecordListModel):
    def display(self, t: ThreadInfo) -> str:
        return t.title

    def tooltip(self, t: ThreadInfo) -> str:
        return f"{t.title}\n{t.message_count} messages · last activity {relative_time(t.last_activity)}"


class TwoLineDelegate(QStyledItemDelegate):
    """A record as a bold title with a muted line underneath (threads, dreams): say what each line is."""

    def title(self, record) -> str:
        raise NotImplementedError  # abstract: each list names its records its own way

    def meta(self, record) -> str:
        raise NotImplementedError

    def sizeHint(self, option, index) -> QSize:
        fm = QFontMetrics(option.font)
        return QSize(200, fm.height() * 2 + 16)

    def paint(self, painter, option, index) -> None:
        record = index.data(RECORD_ROLE)
        c = colors()
        painter.save()
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(6, 2, -6, -2)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(c.selection))
            painter.drawRoundedRect(rect, 7, 7)
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(c.border))
            painter.drawRoundedRect(rect, 7, 7)
        fm = QFontMetrics(option.font)
        inner = rect.adjusted(10, 6, -10, -6)
        title_font = QFont(option.font)
        title_font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(title_font)
        painter.setPen(QColor(c.text))
        title_rect = QRect(inner.left(), inner.top(), inner.width(), fm.height())
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         QFontMetrics(title_font).elidedText(self.title(record), Qt.TextElideMode.ElideRight,
                                                             inner.width()))
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.88))
        painter.setFont(small)
        painter.setPen(QColor(c.muted))
        painter.drawText(QRect(inner.left(), title_rect.bottom() + 2, inner.width(), fm.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         QFontMetrics(small).elidedText(self.meta(record), Qt.TextElideMode.ElideRight,
                                                        inner.width()))
        painter.restore()


class ThreadDelegate(TwoLineDelegate):
    """Title on the first line, message count and age underneath."""

    def title(self, t: ThreadInfo) -> str:
        return t.title

    def meta(self, t: ThreadInfo) -> str:
        return f"{t.message_count} message{'s' if t.message_count != 1 else ''} · {relative_time(t.last_activity)}"


def relative_time(iso: str, now: datetime | None = None) -> str:
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return ""
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return ""
