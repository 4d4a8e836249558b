"""Skills grouped by status for the Skill Forge tree: one group row per status of the pipeline (always
all five, so the pipeline is visible even when a stage is empty), the skills of that status under it.

Columns: Name, Category, Version, Score, Last test. Replaced wholesale after each background load
(`set_rows`), like the flat RecordListModel of the other pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from agent.skills.forge import STATUSES
from desktop.safe_text import tip
from local_schema.models import Skill

SKILL_ROLE = Qt.ItemDataRole.UserRole + 1  # the SkillRow of a skill row (None for a group row)
COLUMNS = ("Name", "Category", "Version", "Score", "Last test")
GROUP_TITLES = {"suggested": "Suggested", "accepted": "Accepted", "testing": "Testing",
                "promoted": "Promoted", "archived": "Archived"}
_TOP = 0  # internalId of a group row; a skill row carries its group's number + 1


@dataclass(frozen=True)
class SkillRow:
    skill: Skill  # a detached copy: read it, never change it on the UI thread
    state: str  # none | current | stale (agent.skills.forge.run_state)
    next_status: str | None
    gate: str | None  # why the next move is not allowed yet; None = allowed
    warnings: tuple[str, ...]  # what the next move would warn about (promotion that does not help)

    @property
    def id(self) -> str:
        return self.skill.id


def percent(rate) -> str:
    return f"{float(rate) * 100:.0f}%"


def last_test_short(row: SkillRow) -> str:
    """For the list: "100% / 50%" (with / without), "never", and "(old)" when it is for another version."""
    last = row.skill.last_test
    if not isinstance(last, dict):
        return "never"
    text = f"{percent(last.get('with_rate', 0))} / {percent(last.get('without_rate', 0))}"
    return text + (" (old)" if row.state == "stale" else "")


class SkillTreeModel(QAbstractItemModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._groups: list[tuple[str, list[SkillRow]]] = [(status, []) for status in STATUSES]

    # ours
    def set_rows(self, rows: list[SkillRow]) -> None:
        by_status: dict[str, list[SkillRow]] = {status: [] for status in STATUSES}
        for row in rows:
            # a status a newer MIRARI knows is shown with the archived ones rather than hidden
            by_status.get(row.skill.status, by_status["archived"]).append(row)
        self.beginResetModel()
        self._groups = [(status, by_status[status]) for status in STATUSES]
        self.endResetModel()

    def rows(self) -> list[SkillRow]:
        return [row for _status, rows in self._groups for row in rows]

    def index_of(self, skill_id: str | None) -> QModelIndex:
        for group, (_status, rows) in enumerate(self._groups):
            for i, row in enumerate(rows):
                if row.id == skill_id:
                    return self.createIndex(i, 0, group + 1)
        return QModelIndex()

    def group_index(self, status: str) -> QModelIndex:
        return self.index(STATUSES.index(status), 0) if status in STATUSES else QModelIndex()

    # Qt model API
    def index(self, row: int, column: int, parent=QModelIndex()) -> QModelIndex:  # noqa: B008
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, _TOP)
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, index: QModelIndex | QPersistentModelIndex = QModelIndex()):  # noqa: B008
        if not index.isValid() or index.internalId() == _TOP:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, _TOP)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        if not parent.isValid():
            return len(self._groups)
        if parent.internalId() == _TOP and parent.column() == 0:
            return len(self._groups[parent.row()][1])
        return 0

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if index.internalId() == _TOP:
            return Qt.ItemFlag.ItemIsEnabled
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if index.internalId() == _TOP:
            return self._group_data(index, role)
        row = self._groups[index.internalId() - 1][1][index.row()]
        if role == SKILL_ROLE:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cell(row, index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            return tip(row.skill.description or row.skill.name)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _group_data(self, index, role):
        status, rows = self._groups[index.row()]
        if role == Qt.ItemDataRole.DisplayRole and index.column() == 0:
            return f"{GROUP_TITLES[status]} ({len(rows)})"
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setBold(True)
            return font
        return None

    @staticmethod
    def _cell(row: SkillRow, column: int) -> str:
        skill = row.skill
        if column == 0:
            return skill.name
        if column == 1:
            return skill.category or "—"
        if column == 2:
            return f"v{skill.version}"
        if column == 3:
            return f"{skill.score:.2f}" if isinstance(row.skill.last_test, dict) or skill.score else "—"
        return last_test_short(row)
