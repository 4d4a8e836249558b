"""A flat list of records with an `id`, replaced wholesale after each background query (threads,
connections). Subclasses say how a record is shown; the bookkeeping lives here once."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from desktop.safe_text import tip

RECORD_ROLE = Qt.ItemDataRole.UserRole + 1  # the record itself, for delegates and views


class RecordListModel(QAbstractListModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[Any] = []

    # What a subclass says about one record.
    def display(self, record: Any) -> str:
        raise NotImplementedError  # abstract: each list names its records its own way

    def tooltip(self, record: Any) -> str | None:
        return None

    # Qt model API
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        record = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display(record)
        if role == Qt.ItemDataRole.ToolTipRole:
            return tip(self.tooltip(record))  # names and titles are data: shown as text, never as HTML
        if role == RECORD_ROLE:
            return record
        return None

    # Ours
    def set_rows(self, rows: list[Any]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_of(self, record_id: str | None) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.id == record_id), None)

    def rows(self) -> list[Any]:
        return list(self._rows)
