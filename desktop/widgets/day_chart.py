"""Messages and new skills per day, painted with QPainter (QtCharts is not in the Qt we ship).

Messages are bars on the left scale; new skills are a line with dots on their own scale (right), so a
day with 2,000 messages does not flatten a handful of skills to nothing. Hovering a day highlights
its column and shows both values in a tooltip; the same text is the column's accessible description.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QToolTip, QWidget

from desktop.safe_text import tip
from desktop.theme import colors

_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 34, 26, 26


def nice_max(value: int) -> int:
    """A round top for an axis with four grid steps: 4, 8, 20, 40, 80, 200, … at or above `value`."""
    scale = 1
    while True:
        for base in (4, 8, 20):
            if base * scale >= value:
                return base * scale
        scale *= 10


class DayChart(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setMinimumSize(QSize(360, 180))
        self.days: list[tuple[str, int, int]] = []  # (YYYY-MM-DD, messages, skills)
        self.hovered: int | None = None

    def set_days(self, days: list[tuple[str, int, int]]) -> None:
        self.days = list(days)
        self.hovered = None if self.hovered is None or self.hovered >= len(self.days) else self.hovered
        self.update()

    # --- geometry -----------------------------------------------------------------------------------
    def plot_rect(self) -> QRectF:
        return QRectF(_LEFT, _TOP, max(1, self.width() - _LEFT - _RIGHT), max(1, self.height() - _TOP - _BOTTOM))

    def column_rect(self, index: int) -> QRectF:
        plot = self.plot_rect()
        width = plot.width() / max(1, len(self.days))
        return QRectF(plot.left() + index * width, plot.top(), width, plot.height())

    def day_at(self, x: float) -> int | None:
        plot = self.plot_rect()
        if not self.days or not plot.left() <= x < plot.right():
            return None
        return min(len(self.days) - 1, int((x - plot.left()) / (plot.width() / len(self.days))))

    @staticmethod
    def label(day: str, messages: int, skills: int) -> str:
        when = date.fromisoformat(day).strftime("%a %d %b")
        return (f"{when}: {messages:,} message{'s' if messages != 1 else ''}, "
                f"{skills} new skill{'s' if skills != 1 else ''}")

    # --- painting -----------------------------------------------------------------------------------
    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt API
        c = colors()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        plot = self.plot_rect()
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        top_m = nice_max(max((d[1] for d in self.days), default=0))
        top_s = nice_max(max((d[2] for d in self.days), default=0))
        grid = QColor(c.border)
        for i in range(5):  # grid and the messages scale
            y = plot.bottom() - plot.height() * i / 4
            painter.setPen(QPen(grid, 1))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(QColor(c.muted))
            painter.drawText(QRectF(0, y - 8, _LEFT - 6, 16), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             _short(top_m * i / 4))
            painter.drawText(QRectF(plot.right() + 6, y - 8, _RIGHT - 6, 16),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, _short(top_s * i / 4))
        accent, skill_color = QColor(c.accent), QColor(c.online)
        if self.hovered is not None:
            painter.fillRect(self.column_rect(self.hovered), QColor(c.selection))
        path, dots = QPainterPath(), []
        for i, (day, messages, skills) in enumerate(self.days):
            column = self.column_rect(i)
            bar_w = max(2.0, column.width() * 0.55)
            height = plot.height() * messages / top_m
            bar = QRectF(column.center().x() - bar_w / 2, plot.bottom() - height, bar_w, height)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(accent)
            painter.drawRoundedRect(bar, 2, 2)
            point = QPointF(column.center().x(), plot.bottom() - plot.height() * skills / top_s)
            path.moveTo(point) if i == 0 else path.lineTo(point)
            dots.append(point)
            if (len(self.days) - 1 - i) % 2 == 0:  # today, and every other day before it
                painter.setPen(QColor(c.muted))
                painter.drawText(QRectF(column.left() - 10, plot.bottom() + 4, column.width() + 20, 16),
                                 Qt.AlignmentFlag.AlignHCenter, date.fromisoformat(day).strftime("%d %b"))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(skill_color, 2))
        painter.drawPath(path)
        painter.setBrush(skill_color)
        for point in dots:
            painter.drawEllipse(point, 3, 3)
        self._legend(painter, accent, skill_color, c)
        if self.hovered is not None:  # the values, written above the hovered column
            day, messages, skills = self.days[self.hovered]
            painter.setPen(QColor(c.text))
            painter.drawText(QRectF(plot.left(), 2, plot.width(), 18), Qt.AlignmentFlag.AlignRight,
                             self.label(day, messages, skills))
        painter.end()

    def _legend(self, painter: QPainter, accent: QColor, skill_color: QColor, c) -> None:
        x = _LEFT
        for color, text in ((accent, "messages"), (skill_color, "new skills")):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRoundedRect(QRectF(x, 7, 10, 10), 2, 2)
            painter.setPen(QColor(c.muted))
            painter.drawText(QRectF(x + 14, 2, 90, 20), Qt.AlignmentFlag.AlignVCenter, text)
            x += 100

    # --- hover --------------------------------------------------------------------------------------
    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        index = self.day_at(event.position().x())
        if index != self.hovered:
            self.hovered = index
            self.update()
        if index is None:
            QToolTip.hideText()
            return
        day, messages, skills = self.days[index]
        QToolTip.showText(event.globalPosition().toPoint(), tip(self.label(day, messages, skills)), self)

    def leaveEvent(self, _event) -> None:  # noqa: N802 - Qt API
        self.hovered = None
        QToolTip.hideText()
        self.update()


def _short(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
