"""Search across every thread (SQLite FTS5): a box, and a result list that replaces the thread
list while a query is active. Picking a result asks the Console to jump to that message.

By keyboard: Ctrl+F, type, then Down moves into the results (Enter picks the first hit at once); in
the results ↑/↓ choose, Enter jumps and the focus stays there for the next hit; Esc, or ↑ on the first
hit, goes back to the box."""

from __future__ import annotations

import re

from PySide6.QtCore import QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QVBoxLayout,
    QWidget,
)

from desktop.ops import Op
from desktop.safe_text import Html, Label, SafeDocument, tip
from desktop.theme import colors
from local_schema.search import MARK_END, MARK_START

_MARKED = re.compile(f"{MARK_START}(.*?){MARK_END}", re.DOTALL)
HIT_ROLE = Qt.ItemDataRole.UserRole + 1
SNIPPET_ROLE = Qt.ItemDataRole.UserRole + 2


def snippet_markup(snippet: str) -> Html:
    """A search snippet (a message's words, untrusted) as markup: the matched words in bold, the rest
    escaped; whitespace runs become one space (two lines are shown)."""
    parts = _MARKED.split(" ".join(snippet.split()))
    # re.split with one group: plain, matched, plain, matched, …; a stray marker is dropped.
    return Html("").join(Html("<b>{}</b>").format(part) if i % 2 else part.replace(MARK_START, "").replace(MARK_END, "")
                         for i, part in enumerate(parts))


class HitDelegate(QStyledItemDelegate):
    """A hit: the snippet with the matched words in bold (two lines at most), then who said it where."""

    LINES = 2

    def sizeHint(self, option, index) -> QSize:
        fm = QFontMetrics(option.font)
        return QSize(200, fm.lineSpacing() * (self.LINES + 1) + 18)

    def paint(self, painter, option, index) -> None:
        snippet_html, meta = index.data(SNIPPET_ROLE)
        c = colors()
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(4, 2, -4, -2)
        if option.state & (QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_MouseOver):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(c.selection if option.state & QStyle.StateFlag.State_Selected else c.border))
            painter.drawRoundedRect(rect, 7, 7)
        fm = QFontMetrics(option.font)
        inner = rect.adjusted(8, 6, -8, -6)
        doc = SafeDocument()
        doc.setDefaultFont(option.font)
        doc.setDocumentMargin(0)
        doc.setDefaultStyleSheet(f"b {{ color: {c.accent}; }}")
        doc.setHtml(Html("<span style='color:{}'>{}</span>").format(c.text, snippet_html))
        doc.setTextWidth(inner.width())
        painter.translate(inner.topLeft())
        clip = QRectF(0, 0, inner.width(), fm.lineSpacing() * self.LINES)
        doc.drawContents(painter, clip)
        painter.translate(-inner.topLeft())
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.88))
        painter.setFont(small)
        painter.setPen(QColor(c.muted))
        meta_rect = QRect(inner.left(), inner.top() + fm.lineSpacing() * self.LINES + 2, inner.width(), fm.height())
        painter.drawText(meta_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         QFontMetrics(small).elidedText(meta, Qt.TextElideMode.ElideRight, inner.width()))
        painter.restore()


class SearchBox(QLineEdit):
    to_results = Signal()  # Down: into the result list

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setPlaceholderText("Search all threads…")
        self.setToolTip("Ctrl+F · ↓ goes into the results, Enter jumps to the first hit, Esc clears")
        self.setClearButtonEnabled(True)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.key() == Qt.Key.Key_Down:
            self.to_results.emit()
            return
        super().keyPressEvent(event)


class _HitList(QListWidget):
    """The result list: Enter picks (on every OS), Esc or ↑ on the first hit leaves for the box."""

    picked = Signal(QListWidgetItem)
    leave = Signal()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentItem() is not None:
            self.picked.emit(self.currentItem())
            return
        if key == Qt.Key.Key_Escape or (key == Qt.Key.Key_Up and self.currentRow() <= 0):
            self.leave.emit()
            return
        super().keyPressEvent(event)


class SearchResults(QWidget):
    """Runs the query in the background (debounced while typing) and lists the hits."""

    picked = Signal(str, str)  # (message id, conversation id)

    def __init__(self, ctx, title_of=lambda _cid: "", parent=None, speaker_of=None):
        super().__init__(parent)
        self.ctx = ctx
        self._title_of = title_of
        # (conversation id, role) -> who said it, named as the transcript names them
        self._speaker_of = speaker_of or (lambda _cid, role: {"user": "You", "assistant": "Agent"}.get(role, role))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = Label("", objectName="Muted")
        self.summary.setContentsMargins(8, 2, 8, 2)
        self.list = _HitList()
        self.list.setObjectName("Threads")
        self.list.setItemDelegate(HitDelegate(self.list))
        self.list.setMouseTracking(True)
        self.list.picked.connect(self._pick)
        self.list.itemClicked.connect(self._pick)
        self.leave = self.list.leave  # the Console puts the focus back in the search box
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        self._query = ""
        self._shown_query: str | None = None  # the query whose hits the list shows
        self._then = None  # what the keyboard asked for before the hits arrived: "focus" | "pick"
        self._debounce = QTimer(self, singleShot=True, interval=200)
        self._debounce.timeout.connect(self.run_now)

    def search(self, query: str) -> None:
        self._query = query.strip()
        self._debounce.start()

    def focus_results(self) -> None:
        """Into the list at its first hit; if the hits are still on their way, once they are shown."""
        self._when_shown("focus")

    def pick_current(self) -> None:
        """Jump to the selected hit, or the first; if the hits are still on their way, once they are."""
        self._when_shown("pick")

    def _when_shown(self, action: str) -> None:
        if self._shown_query == self._query and not self._debounce.isActive():
            self._act(action)
            return
        self._then = action
        if self._debounce.isActive():
            self._debounce.stop()
            self.run_now()

    def _act(self, action: str) -> None:
        if self.list.count() == 0:
            return
        if self.list.currentRow() < 0:
            self.list.setCurrentRow(0)
        if action == "focus":
            self.list.setFocus(Qt.FocusReason.TabFocusReason)
        else:
            self._pick(self.list.currentItem())

    def run_now(self) -> None:
        query = self._query
        if not query:
            self.list.clear()
            self.summary.setText("")
            self._shown_query, self._then = query, None
            return
        db = self.ctx.db

        def find():
            from local_schema.search import search_messages

            with db.session() as session:
                return search_messages(session, query, limit=50)

        self.summary.setText("Searching…")
        Op(self, find, "Search").success(lambda hits: self._show(query, hits)).failure(
            lambda exc: self.summary.setText(f"Search failed: {exc}")).run()

    def _show(self, query: str, hits) -> None:
        if query != self._query:
            return  # a newer query is on its way
        self.list.clear()
        self.summary.setText(f"{len(hits)} match{'es' if len(hits) != 1 else ''}" + (" (first 50)" if len(hits) >= 50 else ""))
        for hit in hits:
            who = self._speaker_of(hit.conversation_id, hit.role)
            title = self._title_of(hit.conversation_id) or "Untitled thread"
            item = QListWidgetItem(f"{' '.join(hit.snippet_plain().split())}\n{who} · {title}")
            item.setData(HIT_ROLE, (hit.message_id, hit.conversation_id))
            item.setData(SNIPPET_ROLE, (snippet_markup(hit.snippet), f"{who} · {title}"))
            item.setToolTip(tip(title))
            self.list.addItem(item)
        self._shown_query = query
        then, self._then = self._then, None
        if then is not None:
            self._act(then)

    def _pick(self, item: QListWidgetItem) -> None:
        message_id, conversation_id = item.data(HIT_ROLE)
        self.picked.emit(message_id, conversation_id)

