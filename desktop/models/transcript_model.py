"""The Console transcript as a list model over a *window* of one thread's messages.

A thread may hold 100,000 messages; the model only materialises a window of them (the newest page
when a thread opens, more pages as the user scrolls up, or a page around a search hit). Rows are
plain dataclasses; the delegate renders them lazily. `revision` changes whenever the text does,
so the delegate's render cache never shows stale text.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
MAX_ROWS = 400  # the window never holds more: memory and re-layout cost stay flat however far you scroll
_keys = itertools.count(1)


@dataclass
class MessageRow:
    id: str
    role: str  # system | user | assistant
    content: str
    created_at: str
    error: str | None = None  # the last failed turn after this (user) message; transient, never stored
    streaming: bool = False
    revision: int = field(default=0)
    # Render-cache key that survives a provisional id being swapped for the stored one.
    key: int = field(default_factory=lambda: next(_keys))


class TranscriptModel(QAbstractListModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.conversation_id: str | None = None
        self._rows: list[MessageRow] = []
        self._offset = 0  # index of _rows[0] within the whole thread
        self._total = 0  # messages in the whole thread

    # --- Qt API -------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == ROW_ROLE:
            return row
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return row.content if role == Qt.ItemDataRole.DisplayRole else None
        return None

    def flags(self, index):
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable if index.isValid() else Qt.ItemFlag.NoItemFlags

    # --- window bookkeeping ---------------------------------------------------------------------
    @property
    def offset(self) -> int:
        return self._offset

    @property
    def total(self) -> int:
        return self._total

    def has_older(self) -> bool:
        return self._offset > 0

    def has_newer(self) -> bool:
        return self._offset + len(self._rows) < self._total

    def rows(self) -> list[MessageRow]:
        return list(self._rows)

    def row_at(self, i: int) -> MessageRow:
        return self._rows[i]

    def reset_window(self, conversation_id: str | None, rows: list[MessageRow], offset: int, total: int) -> None:
        self.beginResetModel()
        self.conversation_id = conversation_id
        self._rows = list(rows)
        self._offset = offset
        self._total = total
        self.endResetModel()

    def prepend(self, rows: list[MessageRow]) -> None:
        known = {r.id for r in self._rows}
        rows = [r for r in rows if r.id not in known]
        if not rows:
            return
        self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
        self._rows[:0] = rows
        self._offset = max(0, self._offset - len(rows))
        self.endInsertRows()
        extra = len(self._rows) - MAX_ROWS
        if extra > 0:  # drop the newest rows, far below the reader; scrolling down fetches them again
            self.beginRemoveRows(QModelIndex(), len(self._rows) - extra, len(self._rows) - 1)
            del self._rows[-extra:]
            self.endRemoveRows()

    def extend(self, rows: list[MessageRow], total: int | None = None) -> None:
        """Append rows already in the thread (a page of newer messages)."""
        known = {r.id for r in self._rows}
        rows = [r for r in rows if r.id not in known]
        if total is not None:
            self._total = total
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
            self._offset += extra
            self.endRemoveRows()

    def append_new(self, row: MessageRow) -> None:
        """A message that was just added to the end of the thread."""
        if self.row_of(row.id) is not None:
            return
        self._total += 1
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

    def clear_errors(self) -> None:
        for i, row in enumerate(self._rows):
            if row.error:
                row.error = None
                row.revision += 1
                self._changed(i)

    def replace_id(self, old_id: str, new_id: str) -> None:
        """A provisional row got its stored id (the delegate's caches key on id + revision)."""
        i = self.row_of(old_id)
        if i is None or old_id == new_id:
            return
        self._rows[i].id = new_id  # same text, same key: the delegate's cached rendering stays valid

    def remove(self, message_id: str) -> None:
        i = self.row_of(message_id)
        if i is None:
            return
        self.beginRemoveRows(QModelIndex(), i, i)
        del self._rows[i]
        self._total = max(0, self._total - 1)
        self.endRemoveRows()

    def last_assistant_row(self) -> int | None:
        if self.has_newer():
            return None
        for i in range(len(self._rows) - 1, -1, -1):
            if self._rows[i].role == "assistant":
                return i if i == len(self._rows) - 1 else None
        return None
