"""Skill Forge → New skill: a skill written by hand, checked like a save (problems shown in the dialog,
nothing stored), stored as a suggestion and selected; test cases added in the dialog."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication
from sqlmodel import select

from desktop.dialogs.skill_dialogs import TestCaseDialog
from desktop.dialogs.skill_new import NewSkillDialog
from local_schema.models import Skill


def _skills(db) -> list[Skill]:
    with db.session() as s:
        return list(s.exec(select(Skill)).all())


def _when_modal(qtbot, kind, act) -> None:
    """Run `act(dialog)` once a modal dialog of `kind` is up (a real exec(), as a user meets it)."""
    def poll():
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, kind):
            act(dialog)
        else:
            QTimer.singleShot(20, poll)

    QTimer.singleShot(20, poll)


def test_new_skill_is_checked_then_stored_as_a_suggestion_and_selected(qtbot, window, settle):
    page = window.show_page("skills")
    settle()
    seen = {}

    def fill(dialog: NewSkillDialog) -> None:
        dialog.prompt_edit.setPlainText("Answer in at most five bullets that start with •.")
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)  # no name yet
        seen["first"] = (dialog.isVisible(), dialog.error.text())
        qtbot.keyClicks(dialog.name_edit, "Bullet   summaries")
        dialog.category_edit.setText("writing")
        dialog.description_edit.setPlainText("For summaries of long texts.")
        dialog.prompt_edit.setPlainText("x" * 20_001)
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        seen["too_long"] = dialog.error.text()
        dialog.prompt_edit.setPlainText("Answer in at most five bullets that start with •.")
        _when_modal(qtbot, TestCaseDialog, add_case)
        qtbot.mouseClick(dialog.add_case_button, Qt.MouseButton.LeftButton)
        seen["cases"] = [dialog.cases_list.item(i).text() for i in range(dialog.cases_list.count())]
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    def add_case(dialog: TestCaseDialog) -> None:
        dialog.prompt_edit.setPlainText("Summarise: tea is nice.")
        dialog.rows[0].value.setText("•")
        dialog.accept()

    _when_modal(qtbot, NewSkillDialog, fill)
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    settle()
    assert seen["first"] == (True, 'The skill\'s "name" is missing or empty.')
    assert seen["too_long"] == 'The skill\'s "template prompt" is 20,001 characters long; the limit is 20,000.'
    assert seen["cases"] == ['“Summarise: tea is nice.” → contains "•"']
    (skill,) = _skills(window.ctx.db)
    assert (skill.name, skill.status, skill.version, skill.category, skill.description, skill.source) == (
        "Bullet summaries", "suggested", 1, "writing", "For summaries of long texts.", None)
    assert skill.template_prompt == "Answer in at most five bullets that start with •."
    assert skill.test_cases == [{"prompt": "Summarise: tea is nice.",
                                 "expectations": [{"kind": "contains", "value": "•"}]}]
    qtbot.waitUntil(lambda: page.detail.row is not None and page.detail.row.id == skill.id, timeout=3000)
    assert page.detail.row.next_status == "accepted"


def test_cancel_and_unstorable_text_store_nothing(qtbot, window, settle):
    page = window.show_page("skills")
    settle()
    _when_modal(qtbot, NewSkillDialog, lambda d: (d.name_edit.setText("Kept?"), d.reject()))
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    settle()
    dialog = NewSkillDialog(page)
    qtbot.addWidget(dialog)
    dialog.name_edit.setText("Nul")
    dialog.prompt_edit.setPlainText("pasted\x00text")
    dialog.accept()
    assert "NUL character" in dialog.error.text() and dialog.draft is None
    assert _skills(window.ctx.db) == []


def test_test_cases_can_be_edited_and_removed_in_the_dialog(qtbot, window, monkeypatch):
    dialog = NewSkillDialog(window)
    qtbot.addWidget(dialog)
    answers = iter(["Say hi.", "Say hello."])

    def fake_exec(case_dialog):
        case_dialog.prompt_edit.setPlainText(next(answers))
        case_dialog.rows[0].kind.setCurrentIndex(case_dialog.rows[0].kind.findData("max_chars"))
        case_dialog.accept()
        return True

    monkeypatch.setattr(TestCaseDialog, "exec", fake_exec)
    dialog.add_case()
    dialog.cases_list.setCurrentRow(0)
    dialog.edit_case()
    assert dialog.cases == [{"prompt": "Say hello.", "expectations": [{"kind": "max_chars", "value": 400}]}]
    assert dialog.cases_list.item(0).text() == "“Say hello.” → at most 400 characters"
    dialog.remove_case()
    assert dialog.cases == [] and dialog.cases_list.count() == 0 and not dialog.remove_case_button.isEnabled()
