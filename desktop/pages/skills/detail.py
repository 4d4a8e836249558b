"""The Skill Forge's right-hand card: edit the selected skill, make its one legal move, keep its test
cases and the tools it needs (tools_box.py), and run them. Saves and moves run in Ops through agent.skills.forge; the test run itself is a long job
that the page starts (`run_requested`), so this card never waits on anything.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from agent.skills.cases import describe
from agent.skills.forge import MOVE_LABELS
from desktop.dialogs.skill_dialogs import TestCaseDialog
from desktop.models.skill_model import SkillRow
from desktop.ops import Op
from desktop.pages.skills.actions import last_test_long
from desktop.pages.skills.tools_box import SkillToolsBox, confirm_run
from desktop.safe_text import Label, ask, tip


def _muted(text: str = "") -> QLabel:
    label = Label(text, objectName="Muted")
    label.setWordWrap(True)
    return label


class SkillDetail(QFrame):
    run_requested = Signal(str, str, int, object)  # skill id, connection id, runs per case, tool approval
    cancel_requested = Signal()
    threshold_changed = Signal(float)

    def __init__(self, page):
        super().__init__(objectName="Card")
        self.page = page
        self.row: SkillRow | None = None
        self.cases: list[dict] = []
        self._loaded: tuple | None = None  # the editable values as loaded; a difference = unsaved edits
        col = QVBoxLayout(self)
        col.setContentsMargins(18, 14, 18, 14)
        col.setSpacing(6)

        head = QHBoxLayout()
        self.name_edit = QLineEdit(objectName="SkillName")
        self.name_edit.setPlaceholderText("Skill name")
        head.addWidget(self.name_edit, 1)
        self.meta_label = Label("")
        head.addWidget(self.meta_label)
        col.addLayout(head)

        moves = QHBoxLayout()
        self.move_button = QPushButton("")
        self.move_button.setProperty("primary", True)
        self.move_button.clicked.connect(self.move_next)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setToolTip("Delete this suggestion (on every device once synced)")
        self.dismiss_button.clicked.connect(lambda: self.dismiss(confirm=True))
        moves.addWidget(self.move_button)
        moves.addWidget(self.dismiss_button)
        self.gate_label = _muted()
        moves.addWidget(self.gate_label, 1)
        col.addLayout(moves)

        fields = QFormLayout()
        fields.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        fields.setVerticalSpacing(4)
        self.description_edit = QLineEdit()
        self.description_edit.setPlaceholderText("When does this skill apply?")
        self.category_edit = QLineEdit()
        self.category_edit.setPlaceholderText("e.g. writing, coding, style")
        fields.addRow("Description", self.description_edit)
        fields.addRow("Category", self.category_edit)
        col.addLayout(fields)
        col.addWidget(Label("Template prompt — added to the system message while the skill is promoted"))
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setMinimumHeight(90)
        col.addWidget(self.prompt_edit, 2)
        saves = QHBoxLayout()
        self.version_note = _muted()
        saves.addWidget(self.version_note, 1)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(lambda: self.row and self.show_row(self.row, force=True))
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        saves.addWidget(self.revert_button)
        saves.addWidget(self.save_button)
        col.addLayout(saves)
        self.tools_box = SkillToolsBox(self)
        col.addWidget(self.tools_box)

        col.addWidget(Label("Tests — each case is sent with and without the skill"))
        self.case_list = QListWidget(objectName="SkillCases")
        self.case_list.setMinimumHeight(70)
        self.case_list.itemDoubleClicked.connect(lambda _item: self.edit_case())
        self.case_list.currentRowChanged.connect(lambda _r: self._update_buttons())
        col.addWidget(self.case_list, 1)
        case_buttons = QHBoxLayout()
        self.add_case_button = QPushButton("+ Add case")
        self.add_case_button.clicked.connect(lambda: self.edit_case(new=True))
        self.edit_case_button = QPushButton("Edit…")
        self.edit_case_button.clicked.connect(lambda: self.edit_case())
        self.remove_case_button = QPushButton("Remove")
        self.remove_case_button.clicked.connect(self.remove_case)
        for button in (self.add_case_button, self.edit_case_button, self.remove_case_button):
            case_buttons.addWidget(button)
        case_buttons.addStretch(1)
        case_buttons.addWidget(Label("Promote at score ≥"))
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setToolTip("The pass rate with the skill that promotion needs (a setting)")
        self.threshold_spin.editingFinished.connect(lambda: self.threshold_changed.emit(self.threshold_spin.value()))
        case_buttons.addWidget(self.threshold_spin)
        col.addLayout(case_buttons)

        run = QHBoxLayout()
        run.addWidget(Label("Run on"))
        self.connection_combo = QComboBox()
        self.connection_combo.setMinimumContentsLength(12)
        self.connection_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        run.addWidget(self.connection_combo, 1)
        self.runs_spin = QSpinBox()
        self.runs_spin.setRange(1, 3)
        self.runs_spin.setSuffix(" run(s) each")
        self.runs_spin.setToolTip("How often each case is sent, with and without the skill")
        run.addWidget(self.runs_spin)
        self.run_button = QPushButton("Run tests")
        self.run_button.clicked.connect(self._request_run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        self.cancel_button.hide()
        run.addWidget(self.run_button)
        run.addWidget(self.cancel_button)
        col.addLayout(run)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        col.addWidget(self.progress)
        self.result_label = Label("")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.result_label)

        for edit in (self.name_edit, self.category_edit, self.description_edit):
            edit.textEdited.connect(lambda _t: self._update_buttons())
        self.prompt_edit.textChanged.connect(self._update_buttons)
        self.running = False
        self._loading = False
        self._note: tuple[str, str] | None = None  # (skill id, what its last save did)
        self.show_row(None)

    # --- showing ---------------------------------------------------------------------------------
    def values(self) -> tuple:
        return (self.name_edit.text(), self.description_edit.text(), self.category_edit.text(),
                self.prompt_edit.toPlainText(), self.cases)

    def has_unsaved_edits(self) -> bool:
        return self.row is not None and self._loaded is not None and self.values() != self._loaded

    def show_row(self, row: SkillRow | None, force: bool = False) -> None:
        """Show `row`. A refresh of the skill being edited keeps what the user typed (unless `force`)."""
        same = row is not None and self.row is not None and row.id == self.row.id
        keep_edits = same and not force and self.has_unsaved_edits()
        self.row = row
        self.setEnabled(row is not None)
        if row is None:
            self._loaded = None
            for edit in (self.name_edit, self.category_edit, self.description_edit):
                edit.clear()
            self.prompt_edit.setPlainText("")
            self.cases = []
            self._fill_cases()
            self.meta_label.setText("")
            self.result_label.setText("Select a skill, or Suggest Skill to let an agent draft one.")
            self.tools_box.show_skill(None, [])
            self._update_buttons()
            return
        skill = row.skill
        if not keep_edits:
            self._loading = True  # the fields change one by one: no "unsaved" state in between
            try:
                self.name_edit.setText(skill.name)
                self.category_edit.setText(skill.category or "")
                self.description_edit.setText(skill.description or "")
                self.prompt_edit.setPlainText(skill.template_prompt or "")
                self.cases = [dict(c) for c in (skill.test_cases or [])]
                self._fill_cases()
                self._loaded = self.values()
            finally:
                self._loading = False
        self.meta_label.setText(f"v{skill.version} · {skill.status} · score {skill.score:.2f}")
        self.result_label.setText("Last test — " + last_test_long(row))
        self.tools_box.show_skill(skill, self.page.snapshot.servers if self.page.snapshot else [])
        self._update_buttons()

    def _fill_cases(self) -> None:
        current = self.case_list.currentRow()
        self.case_list.clear()
        results = self._case_results()
        for number, case in enumerate(self.cases, start=1):
            checks = "; ".join(describe(e) for e in case.get("expectations", []))
            prompt = " ".join(case.get("prompt", "").split())
            item = QListWidgetItem(f"{number}. {prompt[:70]}{'…' if len(prompt) > 70 else ''} — {checks}"
                                   + results.get(number - 1, ""))
            item.setToolTip(tip(case.get("prompt", "")))
            self.case_list.addItem(item)
        if self.cases:
            self.case_list.setCurrentRow(min(max(current, 0), len(self.cases) - 1))
        if not self.cases:
            self.case_list.addItem("No test cases yet: + Add case (a prompt and what its reply must show).")
            self.case_list.item(0).setFlags(Qt.ItemFlag.NoItemFlags)

    def _case_results(self) -> dict[int, str]:
        """" · with 2/2, without 0/2" per case, while the last run is for exactly these cases."""
        row = self.row
        if row is None or row.state != "current" or self.cases != list(row.skill.test_cases or []):
            return {}
        last = row.skill.last_test or {}
        runs = last.get("runs", 1)
        return {i: f"   · with {r.get('with', 0)}/{runs} · without {r.get('without', 0)}/{runs}"
                for i, r in enumerate(last.get("results") or []) if isinstance(r, dict)}

    def set_connections(self, connections: list[tuple[str, str]], preferred: str | None) -> None:
        wanted = self.connection_combo.currentData() or preferred
        self.connection_combo.blockSignals(True)
        self.connection_combo.clear()
        for cid, label in connections:
            self.connection_combo.addItem(label, cid)
        found = self.connection_combo.findData(wanted)
        self.connection_combo.setCurrentIndex(found if found >= 0 else 0)
        self.connection_combo.blockSignals(False)
        self._update_buttons()

    def set_threshold(self, value: float) -> None:
        if not self.threshold_spin.hasFocus():
            self.threshold_spin.setValue(value)

    def _update_buttons(self) -> None:
        if self._loading:
            return
        row, dirty = self.row, self.has_unsaved_edits()
        self.save_button.setEnabled(dirty)
        self.save_button.setProperty("primary", dirty)
        self.save_button.style().polish(self.save_button)
        self.revert_button.setEnabled(dirty)
        has_case = bool(self.cases) and self.case_list.currentRow() >= 0
        self.edit_case_button.setEnabled(has_case)
        self.remove_case_button.setEnabled(has_case)
        self.add_case_button.setEnabled(row is not None and len(self.cases) < 20)
        target = row.next_status if row else None
        self.move_button.setVisible(target is not None)
        self.move_button.setText(MOVE_LABELS.get(target or "", ""))
        self.move_button.setEnabled(bool(target) and row.gate is None and not dirty and not self.running)
        self.dismiss_button.setVisible(row is not None and row.skill.status == "suggested")
        if dirty:
            self._note = None
            self.gate_label.setText("Save or revert your changes first.")
        else:
            self.gate_label.setText((row.gate or " ".join(row.warnings)) if row else "")
        if dirty and row and self.prompt_edit.toPlainText() != (row.skill.template_prompt or ""):
            self.version_note.setText(f"Unsaved · a changed template prompt becomes a new version (now v{row.skill.version})")
        elif dirty:
            self.version_note.setText("Unsaved changes")
        else:  # what the last save did stays readable until the next edit of this skill
            self.version_note.setText(self._note[1] if row and self._note and self._note[0] == row.id else "")
        can_run = row is not None and bool(self.cases) and self.connection_combo.currentData() is not None
        self.run_button.setEnabled(can_run and not dirty and not self.running)
        self.run_button.setToolTip("Save your changes first" if dirty else
                                   "Bind a connection first" if self.connection_combo.count() == 0 else "")

    # --- test cases ------------------------------------------------------------------------------
    def edit_case(self, new: bool = False) -> None:
        index = self.case_list.currentRow()
        if not new and not 0 <= index < len(self.cases):
            return
        dialog = TestCaseDialog(self, None if new else self.cases[index])
        if dialog.exec() and dialog.result_case is not None:
            cases = list(self.cases)
            if new:
                cases.append(dialog.result_case)
            else:
                cases[index] = dialog.result_case
            self.cases = cases
            self._fill_cases()
            if new:
                self.case_list.setCurrentRow(len(cases) - 1)
            self._update_buttons()

    def remove_case(self) -> None:
        index = self.case_list.currentRow()
        if 0 <= index < len(self.cases):
            self.cases = self.cases[:index] + self.cases[index + 1:]
            self._fill_cases()
            self._update_buttons()

    # --- actions ---------------------------------------------------------------------------------
    def save(self) -> None:
        if self.row is None or not self.has_unsaved_edits():
            return
        from agent.skills.forge import edit_skill

        db, skill_id = self.page.ctx.db, self.row.id
        name, description, category, prompt, cases = self.values()
        changes = {"name": name, "description": description, "category": category, "test_cases": list(cases)}
        if prompt != (self.row.skill.template_prompt or ""):
            changes["template_prompt"] = prompt
        self.save_button.setEnabled(False)
        Op(self, lambda: edit_skill(db, skill_id, **changes), "Saving the skill").success(
            self._saved).failure(self._failed).run()

    def _saved(self, skill) -> None:
        before = self.row.skill.version if self.row else skill.version
        self._loaded = self.values()  # the refresh the bus triggers then shows the stored row
        note = f"Saved — template prompt changed, now version {skill.version}" if skill.version != before else "Saved"
        self._note = (skill.id, note)
        self.version_note.setText(note)
        self.meta_label.setText(f"v{skill.version} · {skill.status} · score {skill.score:.2f}")
        from desktop.bus import bus

        bus.notice.emit(f"{skill.name}: {note.lower()}")

    def _failed(self, error: BaseException) -> None:
        self.gate_label.setText("")
        self._update_buttons()
        self.page.show_problem(str(error))

    def move_next(self) -> None:
        row = self.row
        if row is None or row.next_status is None:
            return
        if row.warnings and not self._confirm("Promote anyway?", " ".join(row.warnings)):
            return
        from agent.skills.forge import move_skill
        from agent.skills.settings import load_min_score

        db, data_dir, target = self.page.ctx.db, self.page.ctx.data_dir, row.next_status
        Op(self, lambda: move_skill(db, row.id, target, min_score=load_min_score(data_dir)), "Moving the skill").success(
            lambda moved: self.page.moved(moved)).failure(self._failed).run()

    def dismiss(self, confirm: bool = True) -> None:
        row = self.row
        if row is None:
            return
        if confirm and not self._confirm("Dismiss this suggestion?",
                                         f"“{row.skill.name}” is deleted, on your other devices too once synced."):
            return
        from agent.skills.forge import dismiss

        db = self.page.ctx.db
        Op(self, lambda: dismiss(db, row.id), "Dismissing the suggestion").success(
            lambda _r: self.page.select(None)).failure(self._failed).run()

    def _confirm(self, title: str, text: str) -> bool:
        answer = ask(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                     QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def save_tools(self, names: list[str]) -> None:
        if self.row is None:
            return
        from agent.skills.tools import set_skill_tools

        db, skill_id = self.page.ctx.db, self.row.id
        Op(self, lambda: set_skill_tools(db, skill_id, names), "Saving the skill's tools").failure(
            self._failed).run()

    def _request_run(self) -> None:
        if self.row is None or not self.connection_combo.currentData():
            return
        approval = confirm_run(self, self.tools_box.states)  # once, before the run: no one is asked during it
        if approval is not None:
            self.run_requested.emit(self.row.id, self.connection_combo.currentData(), self.runs_spin.value(),
                                    approval)

    def set_running(self, running: bool, text: str = "") -> None:
        self.running = running
        self.cancel_button.setVisible(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)
            self.progress.setFormat(text or "Waiting for the job queue…")
        self._update_buttons()

    def show_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, total)
        if total:
            self.progress.setValue(done)
        self.progress.setFormat(f"{text} — {done}/{total}" if total else text)
