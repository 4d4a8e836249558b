"""Connections for the Bind list: name, model, status glyph and the last check."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate

from desktop.models.record_list_model import RECORD_ROLE, RecordListModel
from desktop.theme import colors

CONNECTION_ROLE = RECORD_ROLE
GLYPHS = {"online": "●", "offline": "○", "error": "✕"}


@dataclass
class ConnectionInfo:
    id: str
    name: str
    provider: str
    base_url: str
    model: str
    status: str
    system_prompt: str | None
    checked_at: str | None = None
    check_error: str | None = None
    accepts_images: bool = False  # its model takes images (attachments go as image parts)


def status_color(status: str) -> str:
    c = colors()
    return {"online": c.online, "error": c.error}.get(status, c.offline)


def status_icon(status: str, size: int = 12) -> QIcon:
    """A coloured dot (online), hollow ring (offline) or red cross (error), drawn in the theme colours."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = QColor(status_color(status))
    if status == "online":
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawEllipse(2, 2, size - 4, size - 4)
    elif status == "error":
        painter.setPen(QPen(color, 2))
        painter.drawLine(3, 3, size - 3, size - 3)
        painter.drawLine(size - 3, 3, 3, size - 3)
    else:
        painter.setPen(QPen(color, 1.5))
        painter.drawEllipse(2, 2, size - 4, size - 4)
    painter.end()
    return QIcon(pixmap)


class ConnectionListModel(RecordListModel):
    def display(self, c: ConnectionInfo) -> str:
        return f"{GLYPHS.get(c.status, '○')} {c.name}"

    def tooltip(self, c: ConnectionInfo) -> str:
        return f"{c.base_url}\n{c.status}" + (f": {c.check_error}" if c.check_error else "")


class ConnectionDelegate(QStyledItemDelegate):
    def sizeHint(self, option, index) -> QSize:
        return QSize(220, QFontMetrics(option.font).height() * 2 + 18)

    def paint(self, painter, option, index) -> None:
        conn: ConnectionInfo = index.data(CONNECTION_ROLE)
        c = colors()
        painter.save()
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(6, 2, -6, -2)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(c.selection))
            painter.drawRoundedRect(rect, 7, 7)
        fm = QFontMetrics(option.font)
        inner = rect.adjusted(10, 7, -10, -7)
        painter.setPen(QColor(status_color(conn.status)))
        glyph_w = fm.horizontalAdvance("●") + 8
        painter.drawText(QRect(inner.left(), inner.top(), glyph_w, fm.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, GLYPHS.get(conn.status, "○"))
        bold = QFont(option.font)
        bold.setWeight(QFont.Weight.DemiBold)
        painter.setFont(bold)
        painter.setPen(QColor(c.text))
        text_w = inner.width() - glyph_w
        painter.drawText(QRect(inner.left() + glyph_w, inner.top(), text_w, fm.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         QFontMetrics(bold).elidedText(conn.name, Qt.TextElideMode.ElideRight, text_w))
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.88))
        painter.setFont(small)
        painter.setPen(QColor(c.muted))
        meta = f"{conn.status if conn.checked_at else 'not tested'} · {conn.model}"  # status first: models elide
        painter.drawText(QRect(inner.left() + glyph_w, inner.top() + fm.height() + 2, text_w, fm.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         QFontMetrics(small).elidedText(meta, Qt.TextElideMode.ElideRight, text_w))
        painter.restore()
