"""The Skill Forge's "New skill" dialog: a skill written by hand — name, description, category, template
prompt and optional test cases (each edited in the test-case dialog).

Checked on OK with the Forge's own rules (agent.skills.forge.check_new_skill, the same checks as a save and as
`mirari skills add`); a problem is shown here and the dialog stays open with everything typed. The page
stores the checked draft (agent.skills.forge.create_skill) off the UI thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from agent.skills.cases import MAX_CASES, describe
from agent.skills.forge import CATEGORY_LIMIT, NAME_LIMIT, SkillDraft, SkillError, check_new_skill
from desktop.dialogs.skill_dialogs import TestCaseDialog, _error_label
from desktop.safe_text import Label


def case_summary(case: dict) -> str:
    checks = "; ".join(describe(e) for e in case.get("expectations", []))
    prompt = " ".join(str(case.get("prompt", "")).split())
    return f"“{prompt[:60]}{'…' if len(prompt) > 60 else ''}” → {checks}"


class NewSkillDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("New skill")
        self.setMinimumWidth(580)
        col = QVBoxLayout(self)
        intro = Label("Write a skill yourself: an instruction the agent follows once you promote it. It arrives as "
                       "a suggestion; accept it, add test cases and run them to promote it.", objectName="Muted")
        intro.setWordWrap(True)
        col.addWidget(intro)
        form = QFormLayout()
        self.name_edit = QLineEdit(placeholderText="e.g. Bullet summaries")
        self.name_edit.setMaxLength(NAME_LIMIT)
        form.addRow("Name", self.name_edit)
        self.category_edit = QLineEdit(placeholderText="one word, e.g. writing (optional)")
        self.category_edit.setMaxLength(CATEGORY_LIMIT)
        form.addRow("Category", self.category_edit)
        self.description_edit = QPlainTextEdit(placeholderText="When the skill applies (optional)")
        self.description_edit.setFixedHeight(56)
        form.addRow("Description", self.description_edit)
        self.prompt_edit = QPlainTextEdit(placeholderText="The instruction itself, addressed to the agent, e.g. "
                                                          "“When asked for a summary, answer in at most five bullets "
                                                          "that start with •.”")
        self.prompt_edit.setMinimumHeight(120)
        form.addRow("Template prompt", self.prompt_edit)
        col.addLayout(form)

        col.addWidget(Label("Test cases (optional): a prompt and the checks its reply must pass"))
        self.cases_list = QListWidget()
        self.cases_list.setFixedHeight(84)
        self.cases_list.setWordWrap(True)  # a long case reads in full, no sideways scrolling
        self.cases_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.cases_list.itemDoubleClicked.connect(lambda _item: self.edit_case())
        col.addWidget(self.cases_list)
        row = QHBoxLayout()
        self.add_case_button = QPushButton("+ Add test case…")
        self.add_case_button.clicked.connect(self.add_case)
        self.edit_case_button = QPushButton("Edit…")
        self.edit_case_button.clicked.connect(self.edit_case)
        self.remove_case_button = QPushButton("Remove")
        self.remove_case_button.clicked.connect(self.remove_case)
        for button in (self.add_case_button, self.edit_case_button, self.remove_case_button):
            row.addWidget(button)
        row.addStretch(1)
        col.addLayout(row)
        self.cases_list.currentRowChanged.connect(self._sync_buttons)

        self.error = _error_label()
        col.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.addButton("Create skill", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setProperty("primary", True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        col.addWidget(buttons)
        self.cases: list[dict] = []
        self.draft: SkillDraft | None = None
        self._sync_buttons()
        self.name_edit.setFocus()

    # -- test cases ------------------------------------------------------------------------------
    def _show_cases(self, select: int | None = None) -> None:
        self.cases_list.clear()
        for case in self.cases:
            self.cases_list.addItem(case_summary(case))
        if select is not None and self.cases:
            self.cases_list.setCurrentRow(min(select, len(self.cases) - 1))
        self._sync_buttons()

    def _sync_buttons(self, *_args) -> None:
        chosen = self.cases_list.currentRow() >= 0
        self.add_case_button.setEnabled(len(self.cases) < MAX_CASES)
        self.edit_case_button.setEnabled(chosen)
        self.remove_case_button.setEnabled(chosen)

    def _case_dialog(self, case: dict | None):
        return TestCaseDialog(self, case)

    def add_case(self) -> None:
        dialog = self._case_dialog(None)
        if dialog.exec() and dialog.result_case is not None:
            self.cases.append(dialog.result_case)
            self._show_cases(len(self.cases) - 1)

    def edit_case(self) -> None:
        row = self.cases_list.currentRow()
        if row < 0:
            return
        dialog = self._case_dialog(self.cases[row])
        if dialog.exec() and dialog.result_case is not None:
            self.cases[row] = dialog.result_case
            self._show_cases(row)

    def remove_case(self) -> None:
        row = self.cases_list.currentRow()
        if row >= 0:
            del self.cases[row]
            self._show_cases(row)

    # -- checking --------------------------------------------------------------------------------
    def values(self) -> dict:
        """The fields as typed, for agent.skills.forge.create_skill."""
        return {"name": self.name_edit.text(), "template_prompt": self.prompt_edit.toPlainText(),
                "description": self.description_edit.toPlainText(), "category": self.category_edit.text(),
                "test_cases": list(self.cases)}

    def accept(self) -> None:
        try:
            self.draft = check_new_skill(**self.values())
        except SkillError as problem:
            self.error.setText(str(problem))
            self.error.show()
            return
        super().accept()
