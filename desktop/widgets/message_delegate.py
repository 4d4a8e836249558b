"""Paints one transcript message: role line, Markdown bubble, code-block Copy buttons, action links.

Only rows the view actually shows are painted, and each rendered document is cached by
(message id, revision, width, theme), so scrolling a long thread re-renders nothing it has seen.
Clicks are hit-tested here (`editorEvent`) against the same geometry `paint` used, and reported as
signals; the delegate never changes data itself.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QEvent, QModelIndex, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QAbstractTextDocumentLayout, QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop.models.transcript_model import ROW_ROLE, MessageRow
from desktop.theme import colors
from desktop.widgets.markdown_render import Rendered, hard_breaks, render_markdown
from desktop.widgets.tool_text import is_tool_row, result_text, shown_text

MAX_COLUMN = 860  # the transcript is a centred column: long lines are hard to read
OUTER_X = 20
PAD_X = 14
PAD_Y = 10
GAP = 5
CODE_PAD = 6  # code panel padding around its text (markdown_render leaves 14 px margins for it)
ROLE_NAMES = {"user": "You", "assistant": "Agent", "system": "System", "tool": "Tool result"}


@dataclass
class Geometry:
    height: int
    bubble: QRect
    doc_origin: QPointF
    role_rect: QRect
    error_rect: QRect | None
    actions: list[tuple[str, QRect]]  # (action name, rect)
    copies: list[tuple[str, QRect]]  # (code text, rect)


class MessageDelegate(QStyledItemDelegate):
    copy_code = Signal(str)
    action = Signal(str, str)  # (action name, message id): copy, promote, regenerate, retry

    def __init__(self, view):
        super().__init__(view)
        self._view = view
        self._docs: OrderedDict[tuple, Rendered] = OrderedDict()
        self._heights: dict[tuple, int] = {}
        self.max_docs = 450  # above MAX_ROWS, so one re-layout of the whole window never thrashes it
        self.assistant_name = "Agent"
        self._copied: tuple[str, int] | None = None  # (message id, code index) showing "Copied"
        self.highlight_id: str | None = None  # a search hit the Console jumped to

    # --- caches ------------------------------------------------------------------------------------
    def _doc_width(self) -> int:
        column = min(self._view.viewport().width() - 2 * OUTER_X, MAX_COLUMN)
        return max(160, column - 2 * PAD_X)

    def _theme_key(self) -> bool:
        return colors().dark

    def rendered(self, row: MessageRow) -> Rendered:
        width = self._doc_width()
        key = (row.key, row.revision, width, self._theme_key())
        hit = self._docs.get(key)
        if hit is not None:
            self._docs.move_to_end(key)
            return hit
        tool_row = is_tool_row(row)  # calls and results are plain text (desktop.widgets.tool_text)
        text = (shown_text(row) if tool_row else row.content) + (" ▍" if row.streaming else "")
        if row.role == "user":
            text = hard_breaks(text)  # Markdown, but the line breaks a person typed stay
        rendered = render_markdown(text or " ", colors(), self._view.font(),
                                   markdown=row.role != "system" and not tool_row)
        if row.streaming and rendered.code_blocks:  # an open fence holds the cursor: never copy it
            rendered.code_blocks[-1].text = rendered.code_blocks[-1].text.removesuffix(" ▍").removesuffix("▍")
        rendered.doc.setTextWidth(width)
        self._docs[key] = rendered
        while len(self._docs) > self.max_docs:
            self._docs.popitem(last=False)
        return rendered

    def clear_cache(self) -> None:
        self._docs.clear()
        self._heights.clear()

    def cached_documents(self) -> int:
        return len(self._docs)

    # --- geometry ------------------------------------------------------------------------------
    def _small_font(self) -> QFont:
        font = QFont(self._view.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.88))
        return font

    def _actions_for(self, index: QModelIndex, row: MessageRow) -> list[str]:
        if row.streaming:
            return []
        if row.role == "tool":  # a result: copy it, and expand or collapse a long one
            return ["copy"] + (["collapse"] if row.expanded else ["expand"] if result_text(row.content, False)[1] else [])
        names = ["copy", "promote"]
        model = index.model()
        if row.role == "assistant" and model.last_assistant_row() == index.row():
            names.append("regenerate")
        return names

    def geometry(self, option_rect: QRect, index: QModelIndex) -> Geometry:
        row: MessageRow = index.data(ROW_ROLE)
        rendered = self.rendered(row)
        doc = rendered.doc
        small = QFontMetrics(self._small_font())
        column = min(option_rect.width() - 2 * OUTER_X, MAX_COLUMN)
        left = option_rect.left() + (option_rect.width() - column) // 2
        y = option_rect.top() + GAP
        role_rect = QRect(left + 2, y, column, small.height())
        y = role_rect.bottom() + 4
        doc_h = int(doc.size().height() + 0.5)
        bubble = QRect(left, y, column, doc_h + 2 * PAD_Y)
        doc_origin = QPointF(bubble.left() + PAD_X, bubble.top() + PAD_Y)
        y = bubble.bottom() + 1
        error_rect = None
        actions: list[tuple[str, QRect]] = []
        if row.error:
            error_rect = QRect(left + 2, y + 4, column - 80, small.height())
            retry_w = small.horizontalAdvance("Retry") + 16
            actions.append(("retry", QRect(left + column - retry_w, y + 2, retry_w, small.height() + 4)))
            y = error_rect.bottom() + 2
        x = left + 2
        for name in self._actions_for(index, row):
            label = ACTION_LABELS[name]
            w = small.horizontalAdvance(label) + 12
            actions.append((name, QRect(x, y + 3, w, small.height() + 4)))
            x += w + 4
        y += small.height() + 6  # the action line is always reserved so hovering never shifts rows
        copies = []
        layout = doc.documentLayout()
        label_w = small.horizontalAdvance("Copied ✓") + 14
        for code in rendered.code_blocks:
            block_rect = layout.blockBoundingRect(doc.findBlockByNumber(code.first_block))
            top = int(doc_origin.y() + block_rect.top()) - CODE_PAD + 4
            right = int(doc_origin.x() + doc.textWidth()) - 4
            copies.append((code.text, QRect(right - label_w, top, label_w, small.height() + 4)))
        return Geometry(y + GAP - option_rect.top(), bubble, doc_origin, role_rect, error_rect, actions, copies)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        row: MessageRow = index.data(ROW_ROLE)
        width = self._view.viewport().width()
        # Heights depend on the text column, which stops growing at MAX_COLUMN: widening a wide window
        # re-lays nothing.
        key = (row.key, row.revision, self._doc_width(), row.error is not None, colors().dark)
        height = self._heights.get(key)
        if height is None:
            height = self.geometry(QRect(0, 0, width, 0), index).height
            if len(self._heights) > 20_000:
                self._heights.clear()
            self._heights[key] = height
        return QSize(width, height)

    # --- painting ------------------------------------------------------------------------------
    def role_name(self, row: MessageRow) -> str:
        """The name over a message: a reply's own author (what wrote it), never the thread's current
        connection; `assistant_name` only for a reply nothing is known about."""
        if row.role == "assistant":
            return row.author or self.assistant_name
        return ROLE_NAMES.get(row.role, row.role)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        row: MessageRow = index.data(ROW_ROLE)
        c = colors()
        g = self.geometry(option.rect, index)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        small = self._small_font()
        painter.setFont(small)
        painter.setPen(QColor(c.text))
        name = self.role_name(row)
        bold = QFont(small)
        bold.setBold(True)
        when = _short_time(row.created_at)
        room = g.role_rect.width() - QFontMetrics(small).horizontalAdvance(when) - 16
        painter.setFont(bold)
        painter.drawText(g.role_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         QFontMetrics(bold).elidedText(name, Qt.TextElideMode.ElideRight, max(room, 0)))
        painter.setFont(small)
        painter.setPen(QColor(c.muted))
        painter.drawText(g.role_rect.adjusted(0, 0, -4, 0), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         when)
        # bubble
        fill = QColor(c.user_bubble if row.role == "user" else c.assistant_bubble)
        if row.id == self.highlight_id:
            painter.setPen(QPen(QColor(c.accent), 2))
        elif row.role != "user":
            painter.setPen(QPen(QColor(c.border), 1))
        else:
            painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(g.bubble).adjusted(0.5, 0.5, -0.5, -0.5), 10, 10)
        rendered = self.rendered(row)
        doc = rendered.doc
        # code block panels under the text
        layout = doc.documentLayout()
        for code in rendered.code_blocks:
            first = layout.blockBoundingRect(doc.findBlockByNumber(code.first_block))
            last = layout.blockBoundingRect(doc.findBlockByNumber(code.last_block))
            panel = QRectF(g.doc_origin.x() - CODE_PAD, g.doc_origin.y() + first.top() - CODE_PAD,
                           doc.textWidth() + 2 * CODE_PAD, last.bottom() - first.top() + 2 * CODE_PAD)
            painter.setPen(QPen(QColor(c.code_border), 1))
            painter.setBrush(QColor(c.code_bg))
            painter.drawRoundedRect(panel, 6, 6)
        painter.translate(g.doc_origin)
        ctx = QAbstractTextDocumentLayout.PaintContext()
        ctx.palette.setColor(QPalette.ColorRole.Text, QColor(c.text))
        # Only the part of the message inside the viewport: the text layout skips the lines outside the
        # clip, so a long message scrolled half out of view (or a reply streaming at the bottom of one
        # taller than the window) costs the lines that show, not all of them.
        visible = option.rect.intersected(self._view.viewport().rect())
        clip = QRectF(visible).translated(-g.doc_origin)
        ctx.clip = clip
        painter.setClipRect(clip)
        layout.draw(painter, ctx)
        painter.setClipping(False)
        painter.translate(-g.doc_origin)
        # copy buttons on code blocks
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        for i, (_text, rect) in enumerate(g.copies):
            copied = self._copied == (row.id, i)
            painter.setPen(QPen(QColor(c.code_border), 1))
            painter.setBrush(QColor(c.panel))
            painter.drawRoundedRect(QRectF(rect), 5, 5)
            painter.setPen(QColor(c.online if copied else c.muted))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "Copied ✓" if copied else "Copy")
        if g.error_rect is not None:
            painter.setPen(QColor(c.error))
            painter.drawText(g.error_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             QFontMetrics(small).elidedText("⚠ " + (row.error or ""), Qt.TextElideMode.ElideRight,
                                                            g.error_rect.width()))
        show_actions = hovered or index.row() == index.model().rowCount() - 1
        for name, rect in g.actions:
            if name == "retry":
                painter.setPen(QPen(QColor(c.error), 1))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRoundedRect(QRectF(rect), 5, 5)
                painter.setPen(QColor(c.error))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "Retry")
            elif show_actions:
                painter.setPen(QColor(c.accent if hovered else c.muted))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, ACTION_LABELS[name])
        if row.streaming:
            painter.setPen(QColor(c.muted))
            painter.drawText(QRect(g.bubble.left() + 2, g.bubble.bottom() + 3, 200, QFontMetrics(small).height() + 4),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "Generating…")
        painter.restore()

    # --- clicks --------------------------------------------------------------------------------
    def hit(self, index: QModelIndex, option_rect: QRect, pos) -> tuple[str, object] | None:
        """What is at `pos`: ("copy_code", (code index, text)) or ("action", name), else None."""
        g = self.geometry(option_rect, index)
        for i, (text, rect) in enumerate(g.copies):
            if rect.contains(pos):
                return "copy_code", (i, text)
        for name, rect in g.actions:
            if rect.contains(pos):
                return "action", name
        return None

    def editorEvent(self, event, model, option, index) -> bool:
        if event.type() != QEvent.Type.MouseButtonRelease or event.button() != Qt.MouseButton.LeftButton:
            return False
        found = self.hit(index, option.rect, event.position().toPoint())
        if found is None:
            return False
        row: MessageRow = index.data(ROW_ROLE)
        kind, value = found
        if kind == "copy_code":
            code_index, text = value
            self._copied = (row.id, code_index)
            self.copy_code.emit(text)
        else:
            self.action.emit(value, row.id)
        self._view.viewport().update()
        return True


ACTION_LABELS = {"copy": "Copy", "promote": "Promote to Atlas", "regenerate": "↻ Regenerate", "retry": "Retry",
                 "expand": "Show all ▾", "collapse": "Show less ▴"}


def _short_time(iso: str) -> str:
    """Stored UTC timestamps shown as local wall time, to the minute."""
    try:
        moment = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M")
