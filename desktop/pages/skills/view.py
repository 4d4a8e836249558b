"""The Skill Forge's widgets and nothing else: the title row (job line, Cancel, New skill…, Suggest
Skill…), the problem line, the skills tree on the left and the selected skill (SkillDetail,
detail.py) on the right. Every widget is a public attribute; no database, no behaviour, no handlers.

`SkillsPage` (page.py) is the controller: it subclasses this view, gives the tree its model and
wires the widgets to what they do. SkillDetail is handed `self`, which at run time is that page.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from desktop.pages.skills.detail import SkillDetail
from desktop.safe_text import Label


class SkillsView(QWidget):
    def __init__(self):
        super().__init__()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 14, 18, 14)
        outer.setSpacing(8)
        top = QHBoxLayout()
        top.addWidget(Label("Skill Forge", objectName="PageTitle"))
        top.addStretch(1)
        self.job_label = Label("", objectName="Muted")
        top.addWidget(self.job_label)
        self.cancel_suggest_button = QPushButton("Cancel")
        self.cancel_suggest_button.hide()
        top.addWidget(self.cancel_suggest_button)
        self.new_button = QPushButton("New skill…")
        self.new_button.setToolTip("Write a skill yourself: name, description, category, template prompt, test cases")
        top.addWidget(self.new_button)
        self.suggest_button = QPushButton("Suggest Skill…")
        self.suggest_button.setProperty("primary", True)
        top.addWidget(self.suggest_button)
        outer.addLayout(top)
        self.problem_label = Label("", objectName="Error")
        self.problem_label.setWordWrap(True)
        self.problem_label.hide()
        outer.addWidget(self.problem_label)

        split = QSplitter(Qt.Orientation.Horizontal)
        self.tree = QTreeView()
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(False)
        self.tree.setRootIsDecorated(True)
        split.addWidget(self.tree)
        self.detail = SkillDetail(self)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 6)
        split.setSizes([480, 560])
        outer.addWidget(split, 1)

    def set_tree_model(self, model: QAbstractItemModel) -> None:
        """The tree's columns exist only once it has its model: name stretches, the rest fit."""
        self.tree.setModel(model)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
