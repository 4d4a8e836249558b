"""The Console transcript as a list model over a *window* of one thread's active path.

A thread may hold 100,000 messages in many branches; the transcript shows one path (agent.chat.tree) and the
model only materialises a window of it (the newest page when a thread opens, more pages as the user
scrolls up, or a page around a search hit). Rows are
plain dataclasses; the delegate renders them lazily. `revision` changes whenever the text does,
so the delegate's render cache never shows stale text.

The window is bounded by keys (each row's `order`, see desktop.queries), and `has_older`/`has_newer`
say whether the thread goes on beyond it. When sync writes into the thread, `merge` applies what the
window's range holds now in place — new rows inserted where they belong, changed ones updated, gone
ones removed — so the view keeps its scroll position and nothing else on the page is reset.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
PROVISIONAL = "pending:"  # id prefix of rows a turn shows before they are stored
MAX_ROWS = 400  # the window never holds more: memory and re-layout cost stay flat however far you scroll
_keys = itertools.count(1)


@dataclass
class MessageRow:
    id: str
    role: str  # system | user | assistant
    content: str
    created_at: str
    # Why this reply failed (status "error", stored), or why the turn after this question failed (transient).
    error: str | None = None
    streaming: bool = False
    revision: int = field(default=0)
    order: tuple = ()  # the row's key in the thread (desktop.queries.ORDER); () until read back from the db
    author: str | None = None  # a reply's author (agent.chat.authorship.reply_author); None: the role's name
    status: str = "done"  # done | error | stopped (messages.status)
    parent_id: str | None = None  # the message above it on its path (agent.chat.tree)
    tool_calls: list | None = None  # an assistant message's calls (messages.tool_calls)
    expanded: bool = False  # a long tool result shown whole (desktop.widgets.tool_text)

    @property
    def provisional(self) -> bool:
        """Shown by a turn in progress before the database gave it an id."""
        return self.id.startswith(PROVISIONAL)
    # Render-cache key that survives a provisional id being swapped for the stored one.
    key: int = field(default_factory=lambda: next(_keys))


def _take(current: MessageRow, new: MessageRow) -> bool:
    """Give a shown row what the database holds now (it keeps its identity and render cache); True if
    what it shows changed. A transient error (a question whose turn failed) stays until cleared."""
    error = new.error if new.status == "error" else (None if current.status == "error" else current.error)
    changed = (current.content, current.role, current.author, current.created_at, current.status, current.error,
               current.tool_calls) != (new.content, new.role, new.author, new.created_at, new.status, error,
                                       new.tool_calls)
    current.order, current.parent_id = new.order, new.parent_id
    if changed:
        current.content, current.role, current.author = new.content, new.role, new.author
        current.tool_calls = new.tool_calls
        current.created_at = new.created_at  # the server may have bounded a clock far ahead
        current.status, current.error = new.status, error
        current.revision += 1
    return changed


class TranscriptModel(QAbstractListModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.conversation_id: str | None = None
        self._rows: list[MessageRow] = []
        self._older = False  # the thread has messages before the window
        self._newer = False  # … and after it

    # --- Qt API -------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            return row.content  # (no tooltip: the message is on screen)
        return None

    def flags(self, index):
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable if index.isValid() else Qt.ItemFlag.NoItemFlags

    # --- window bookkeeping ---------------------------------------------------------------------
    def has_older(self) -> bool:
        return self._older

    def has_newer(self) -> bool:
        return self._newer

    def rows(self) -> list[MessageRow]:
        return list(self._rows)

    def row_at(self, i: int) -> MessageRow:
        return self._rows[i]

    def stored(self) -> list[MessageRow]:
        """The rows that are in the database (not the provisional ones of a turn in progress)."""
        return [r for r in self._rows if not r.provisional]

    def first_key(self) -> tuple | None:
        stored = self.stored()
        return stored[0].order if stored else None

    def last_key(self) -> tuple | None:
        stored = self.stored()
        return stored[-1].order if stored else None

    def has_provisional(self) -> bool:
        return any(r.provisional for r in self._rows)

    def reset_window(self, conversation_id: str | None, rows: list[MessageRow], has_older: bool = False,
                     has_newer: bool = False) -> None:
        self.beginResetModel()
        self.conversation_id = conversation_id
        self._rows = list(rows)
        self._older, self._newer = has_older, has_newer
        self.endResetModel()

    def prepend(self, rows: list[MessageRow], has_older: bool) -> None:
        """A page of older messages, above the window."""
        known = {r.id for r in self._rows}
        rows = [r for r in rows if r.id not in known]
        self._older = has_older
        if not rows:
            return
        self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
        self._rows[:0] = rows
        self.endInsertRows()
        extra = len(self._rows) - MAX_ROWS
        if extra > 0:  # drop the newest rows, far below the reader; scrolling down fetches them again
            self.beginRemoveRows(QModelIndex(), len(self._rows) - extra, len(self._rows) - 1)
            del self._rows[-extra:]
            self._newer = True
            self.endRemoveRows()

    def extend(self, rows: list[MessageRow], has_newer: bool) -> None:
        """A page of newer messages, below the window."""
        known = {r.id for r in self._rows}
        rows = [r for r in rows if r.id not in known]
        self._newer = has_newer
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()
        extra = len(self._rows) - MAX_ROWS
        if extra > 0:  # drop the oldest rows, far above the reader; scrolling up fetches them again
            self.beginRemoveRows(QModelIndex(), 0, extra - 1)
            del self._rows[:extra]
            self._older = True
            self.endRemoveRows()

    def merge(self, rows: list[MessageRow], has_older: bool, has_newer: bool) -> bool:
        """Make the stored rows of the window equal `rows` (what its key range holds now), in place.

        Rows keep their identity (and the delegate its cached rendering) unless their text changed.
        Returns False, changing nothing, while provisional rows are shown (a turn in progress: its rows
        get their ids when it ends) — the caller merges again afterwards."""
        if self.has_provisional():
            return False
        self._older, self._newer = has_older, has_newer
        wanted = {r.id: r for r in rows}
        for i in range(len(self._rows) - 1, -1, -1):  # removals first, bottom up
            if self._rows[i].id not in wanted:
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._rows[i]
                self.endRemoveRows()
        for i, new in enumerate(rows):
            current = self._rows[i] if i < len(self._rows) else None
            if current is not None and current.id == new.id:
                if _take(current, new):
                    self._changed(i)
                continue
            existing = self.row_of(new.id)
            if existing is not None:  # re-ordered (sync re-stamped it): move it to its place
                moved = self._rows[existing]
                self.beginRemoveRows(QModelIndex(), existing, existing)
                del self._rows[existing]
                self.endRemoveRows()
                _take(moved, new)
                new = moved
            self.beginInsertRows(QModelIndex(), i, i)
            self._rows.insert(i, new)
            self.endInsertRows()
        return True

    def append_new(self, row: MessageRow) -> None:
        """A message that was just added to the end of the thread."""
        if self.row_of(row.id) is not None:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first)
        self._rows.append(row)
        self.endInsertRows()

    def row_of(self, message_id: str) -> int | None:
        for i in range(len(self._rows) - 1, -1, -1):  # recent rows are the ones that change
            if self._rows[i].id == message_id:
                return i
        return None

    def _changed(self, i: int) -> None:
        idx = self.index(i)
        self.dataChanged.emit(idx, idx, [ROW_ROLE])

    def set_content(self, message_id: str, content: str, streaming: bool | None = None) -> None:
        i = self.row_of(message_id)
        if i is None:
            return
        row = self._rows[i]
        row.content = content
        if streaming is not None:
            row.streaming = streaming
        row.revision += 1
        self._changed(i)

    def set_error(self, message_id: str, error: str | None) -> None:
        i = self.row_of(message_id)
        if i is None:
            return
        self._rows[i].error = error
        self._rows[i].revision += 1
        self._changed(i)

    def set_status(self, message_id: str, status: str, error: str | None = None) -> None:
        """A reply's stored status and, when it failed, its reason (shown with Retry)."""
        i = self.row_of(message_id)
        if i is None:
            return
        self._rows[i].status, self._rows[i].error = status, error if status == "error" else None
        self._rows[i].revision += 1
        self._changed(i)

    def clear_errors(self) -> None:
        """Forget the transient errors (a failed reply keeps its own: it is stored)."""
        for i, row in enumerate(self._rows):
            if row.error and row.status != "error":
                row.error = None
                row.revision += 1
                self._changed(i)

    def replace_id(self, old_id: str, new_id: str, order: tuple = ()) -> None:
        """A provisional row got its stored id and key (the delegate's caches key on id + revision)."""
        i = self.row_of(old_id)
        if i is None:
            return
        self._rows[i].id = new_id  # same text, same key: the delegate's cached rendering stays valid
        if order:
            self._rows[i].order = order

    def remove(self, message_id: str) -> None:
        i = self.row_of(message_id)
        if i is None:
            return
        self.beginRemoveRows(QModelIndex(), i, i)
        del self._rows[i]
        self.endRemoveRows()

    def last_assistant_row(self) -> int | None:
        if self.has_newer():
            return None
        for i in range(len(self._rows) - 1, -1, -1):
            if self._rows[i].role == "assistant":
                return i if i == len(self._rows) - 1 else None
        return None
