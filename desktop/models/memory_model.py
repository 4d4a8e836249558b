"""Memory nodes for the Atlas table: glyph, label, strength, category, source (a link), last referenced.

Rows arrive already ranked (agent.memory.atlas.list_nodes: effective strength, strongest first) and are
replaced wholesale after each background load. Editing a cell never writes here: the model emits
`edit_requested` and the page runs the edit in an Op through agent.memory.atlas.edit_node (which validates),
then reloads, so what the table shows is always what was stored.
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont

from desktop.models.thread_model import relative_time
from desktop.safe_text import tip
from desktop.theme import colors

GLYPH, LABEL, STRENGTH, CATEGORY, SOURCE, LAST = range(6)
HEADERS = ("", "Label", "Strength", "Category", "Source", "Last referenced")
EDITABLE = {LABEL: "label", STRENGTH: "strength", CATEGORY: "category"}
NODE_ROLE = Qt.ItemDataRole.UserRole + 1  # the NodeView of the row


def glyph_tooltip(view) -> str:
    if view.node.paused:
        return "Paused: kept, but never injected into a chat turn nor served to other apps"
    if view.glyph == "✶":
        return ("Injected: in the memory block of every chat turn" if view.injected else
                "Strong enough to be injected, but outside the 40 strongest: left out of the memory block")
    if view.glyph == "◌":
        return "Not injected (below 0.75); referencing it makes it stronger"
    return "Weak: not injected (below 0.4)"


class MemoryTableModel(QAbstractTableModel):
    edit_requested = Signal(str, str, object)  # node id, field (label | category | strength), new value

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list = []
        self.now = datetime.now(UTC)  # the clock the rows were computed with (for "last referenced")

    # --- ours --------------------------------------------------------------------------------------
    def set_rows(self, rows: list, now: datetime) -> None:
        self.beginResetModel()
        self._rows, self.now = list(rows), now
        self.endResetModel()

    def rows(self) -> list:
        return list(self._rows)

    def row_of(self, node_id: str | None) -> int | None:
        return next((i for i, v in enumerate(self._rows) if v.id == node_id), None)

    def node_at(self, row: int):
        return self._rows[row]

    # --- Qt model API ------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole and section == STRENGTH:
            return "Effective strength: the stored value minus 0.05 for every full 14 days unused"
        return None

    def flags(self, index):
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsEditable if index.column() in EDITABLE else base

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        view, column = self._rows[index.row()], index.column()
        node = view.node
        if role == NODE_ROLE:
            return view
        if role == Qt.ItemDataRole.DisplayRole:
            return {GLYPH: view.glyph, LABEL: node.label, STRENGTH: f"{view.effective:.2f}",
                    CATEGORY: node.category or "", SOURCE: view.source_title,
                    LAST: relative_time(node.last_referenced_at, self.now) if node.last_referenced_at else "never",
                    }[column]
        if role == Qt.ItemDataRole.EditRole:
            return {LABEL: node.label, STRENGTH: view.effective, CATEGORY: node.category or ""}.get(column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == GLYPH:
                return tip(glyph_tooltip(view))
            if column == LABEL:
                return tip(node.label)
            if column == STRENGTH:
                return tip(f"stored {node.strength:.2f}; effective {view.effective:.2f} now")
            if column == SOURCE:
                return tip(node.source or "manual")
            if column == LAST:
                return tip(node.last_referenced_at or "never referenced")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (GLYPH, STRENGTH):
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == SOURCE and self._linkable(view):
                return QColor(colors().accent)
            if column == GLYPH:
                return QColor(colors().accent if view.glyph == "✶" else colors().muted)
            if column == LAST or (column == STRENGTH and view.glyph == "·"):
                return QColor(colors().muted)
        if role == Qt.ItemDataRole.FontRole and column == GLYPH:
            font = QFont()
            font.setPointSizeF(font.pointSizeF() * 1.35)  # the glyphs are small marks: make them readable
            return font
        if role == Qt.ItemDataRole.FontRole and column == SOURCE and self._linkable(view):
            font = QFont()
            font.setUnderline(True)
            return font
        if role == Qt.ItemDataRole.AccessibleTextRole and column == GLYPH:
            return glyph_tooltip(view)
        return None

    @staticmethod
    def _linkable(view) -> bool:
        from agent.memory.sources import parse_source

        return parse_source(view.node.source).linkable and not view.source_title.endswith("(deleted)")

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if not index.isValid() or role != Qt.ItemDataRole.EditRole or index.column() not in EDITABLE:
            return False
        view = self._rows[index.row()]
        current = self.data(index, Qt.ItemDataRole.EditRole)
        if index.column() == STRENGTH:
            if round(float(value), 2) == round(float(current), 2):
                return False
        elif " ".join(str(value).split()) == current:
            return False
        self.edit_requested.emit(view.id, EDITABLE[index.column()], value)
        return False  # the stored value comes back with the reload
