"""IV. Skill Forge in the real window: grouped list, only legal moves, editing shows the new version,
Suggest Skill and Run tests as long jobs with progress and Cancel (nothing stored when cancelled)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from agent.skills.cases import cases_hash
from agent.skills.forge import SkillDraft, create_suggested
from local_schema.models import Skill
from standin.demo.seed import add_connection

PROMPT = "Answer with bullets that start with •."
CASES = [{"prompt": "Summarise: tea is nice.", "expectations": [{"kind": "contains", "value": "•"}]},
         {"prompt": "List two fruits.", "expectations": [{"kind": "regex", "value": "^• "}]}]


def skill_aware(request):
    system = next((m["content"] for m in request.messages if m["role"] == "system"), "")
    if "design reusable skills" in system:
        return json.dumps({"name": "Drafted skill", "category": "writing", "template_prompt": PROMPT,
                           "test_cases": CASES})
    return "• tea\n• nice" if PROMPT in system else "Tea is nice."


@pytest.fixture
def forge(qtbot, window, settle, fake_llm):
    """The Skill Forge page with one connection to the fake endpoint."""
    fake_llm.responder = skill_aware
    cid = add_connection(window.ctx.db, "Fake Hermes", fake_llm.base_url, "fake-model")
    page = window.show_page("skills")
    page.refresh()
    settle()
    page.connection_id = cid
    return page


def _reload(page, settle, select=None):
    """Rows written behind the page's back (as a sync or another page would): refresh, select one."""
    if select:
        page.selected_id = select
    page.refresh()
    settle()


def _add(page, settle, name="Bullets", status="suggested", tested=False, with_rate=1.0, without_rate=0.0):
    db = page.ctx.db
    skill = create_suggested(db, SkillDraft(name, PROMPT, "For summaries.", "writing", CASES))
    with db.write() as s:
        row = s.get(Skill, skill.id)
        row.status = status
        if tested:
            row.last_test = {"version": 1, "cases_hash": cases_hash(CASES), "with_rate": with_rate,
                             "without_rate": without_rate, "delta": with_rate - without_rate, "runs": 1,
                             "results": [{"with": 1, "without": 0, "failed": []}] * 2}
            row.score = with_rate
        s.add(row)
    _reload(page, settle, skill.id)
    return skill.id


def _stored(page, skill_id) -> Skill | None:
    with page.ctx.db.session() as s:
        return s.get(Skill, skill_id)


def test_skills_are_grouped_by_status_with_their_columns(forge, settle):
    for name, status in (("Alpha", "promoted"), ("Beta", "suggested"), ("Gamma", "archived")):
        _add(forge, settle, name, status, tested=True)
    model = forge.model
    groups = [model.index(i, 0).data() for i in range(model.rowCount())]
    assert groups == ["Suggested (1)", "Accepted (0)", "Testing (0)", "Promoted (1)", "Archived (1)"]
    promoted = model.index(0, 0, model.group_index("promoted"))
    assert [promoted.siblingAtColumn(c).data() for c in range(5)] == ["Alpha", "writing", "v1", "1.00", "100% / 0%"]
    assert forge.tree.isExpanded(model.group_index("archived"))


@pytest.mark.parametrize(("status", "label", "dismiss"), [
    ("suggested", "Accept", True), ("accepted", "Move to testing", False), ("testing", "Promote", False),
    ("promoted", "Archive", False), ("archived", "Re-suggest", False)])
def test_only_the_legal_move_is_offered(forge, settle, status, label, dismiss):
    _add(forge, settle, status=status, tested=True)
    detail = forge.detail
    assert detail.move_button.text() == label and detail.move_button.isEnabled()
    assert detail.dismiss_button.isVisible() is dismiss


def test_gates_disable_the_move_and_say_why(forge, settle, qtbot):
    skill_id = _add(forge, settle, status="accepted")
    detail = forge.detail
    assert not detail.move_button.isEnabled()
    assert "Run the skill's tests first" in detail.gate_label.text()
    low = _add(forge, settle, "Weak", status="testing", tested=True, with_rate=0.5)
    assert forge.detail.row.id == low and not detail.move_button.isEnabled()
    assert "at least 0.70" in detail.gate_label.text()
    assert _stored(forge, skill_id).status == "accepted"


def test_moving_and_dismissing_from_the_page(forge, settle, qtbot, monkeypatch):
    skill_id = _add(forge, settle)
    qtbot.mouseClick(forge.detail.move_button, Qt.MouseButton.LeftButton)
    settle()
    assert _stored(forge, skill_id).status == "accepted"
    assert forge.detail.move_button.text() == "Move to testing"  # refreshed from the change bus

    other = _add(forge, settle, "Throwaway")
    monkeypatch.setattr("desktop.pages.skills.detail.ask", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(forge.detail.dismiss_button, Qt.MouseButton.LeftButton)
    settle()
    assert _stored(forge, other) is None
    assert [r.skill.name for r in forge.model.rows()] == ["Bullets"]


def test_a_promotion_that_does_not_help_asks_first(forge, settle, qtbot, monkeypatch):
    skill_id = _add(forge, settle, status="testing", tested=True, with_rate=0.8, without_rate=0.8)
    assert "does not beat" in forge.detail.gate_label.text()
    asked = []
    monkeypatch.setattr("desktop.pages.skills.detail.ask",
                        lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Cancel)
    qtbot.mouseClick(forge.detail.move_button, Qt.MouseButton.LeftButton)
    settle()
    assert asked and _stored(forge, skill_id).status == "testing"
    monkeypatch.setattr("desktop.pages.skills.detail.ask", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(forge.detail.move_button, Qt.MouseButton.LeftButton)
    settle()
    assert _stored(forge, skill_id).status == "promoted"


def test_editing_the_template_prompt_shows_the_new_version(forge, settle, qtbot):
    skill_id = _add(forge, settle, status="promoted", tested=True)
    detail = forge.detail
    assert not detail.save_button.isEnabled()
    detail.prompt_edit.setFocus()
    qtbot.keyClicks(detail.prompt_edit, " Keep it short.")
    assert detail.save_button.isEnabled() and not detail.move_button.isEnabled()
    assert "new version (now v1)" in detail.version_note.text()
    qtbot.mouseClick(detail.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert _stored(forge, skill_id).version == 2
    assert "now version 2" in detail.version_note.text()
    assert detail.meta_label.text().startswith("v2 · promoted")
    version_cell = forge.model.index_of(skill_id).siblingAtColumn(2)
    assert version_cell.data() == "v2" and "(old)" in version_cell.siblingAtColumn(4).data()
    detail.category_edit.clear()
    qtbot.keyClicks(detail.category_edit, "style")
    qtbot.mouseClick(detail.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert (_stored(forge, skill_id).category, _stored(forge, skill_id).version) == ("style", 2)


def test_an_invalid_edit_is_refused_with_the_reason_and_nothing_stored(forge, settle, qtbot):
    skill_id = _add(forge, settle)
    forge.detail.name_edit.clear()
    qtbot.keyClicks(forge.detail.name_edit, " ")
    qtbot.mouseClick(forge.detail.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert "missing or empty" in forge.problem_label.text() and forge.problem_label.isVisible()
    assert _stored(forge, skill_id).name == "Bullets"


def test_test_cases_are_edited_in_a_dialog_checked_and_saved(forge, settle, qtbot, monkeypatch):
    from desktop.dialogs.skill_dialogs import TestCaseDialog

    skill_id = _add(forge, settle)
    dialog = TestCaseDialog(forge, None)
    dialog.prompt_edit.setPlainText("Give me JSON.")
    row = dialog.rows[0]
    row.kind.setCurrentIndex(row.kind.findData("regex"))
    row.value.setText("((")
    dialog.accept()
    assert "does not compile" in dialog.error.text() and dialog.result_case is None
    row.kind.setCurrentIndex(row.kind.findData("is_json"))
    dialog.add_expectation({"kind": "max_chars", "value": 200})
    dialog.accept()
    assert dialog.result_case == {"prompt": "Give me JSON.",
                                  "expectations": [{"kind": "is_json"}, {"kind": "max_chars", "value": 200}]}

    monkeypatch.setattr(TestCaseDialog, "exec", lambda self: self.prompt_edit.setPlainText("Hi") or
                        self.rows[0].value.setText("hello") or self.accept() or True)
    qtbot.mouseClick(forge.detail.add_case_button, Qt.MouseButton.LeftButton)
    assert forge.detail.case_list.count() == 3 and forge.detail.save_button.isEnabled()
    assert not forge.detail.run_button.isEnabled()  # the run tests what is saved: save first
    qtbot.mouseClick(forge.detail.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert _stored(forge, skill_id).test_cases[-1] == {"prompt": "Hi", "expectations": [
        {"kind": "contains", "value": "hello"}]}


def test_suggest_skill_runs_as_a_job_and_selects_the_suggestion(forge, settle, qtbot):
    with qtbot.waitSignal(forge.job_done, timeout=10_000) as done:
        forge.suggest(forge.connection_id, context="I ask for summaries.")
        assert not forge.suggest_button.isEnabled()
    settle()
    skill = done.args[1]
    assert done.args[0] == "suggest" and skill.name == "Drafted skill"
    assert forge.detail.row.id == skill.id and forge.detail.row.skill.status == "suggested"
    assert forge.suggest_button.isEnabled()


def test_suggest_failure_is_shown_and_nothing_is_stored(forge, settle, qtbot, fake_llm):
    fake_llm.responder = lambda request: "not a skill at all"
    with qtbot.waitSignal(forge.job_done, timeout=10_000):
        forge.suggest(forge.connection_id)
    settle()
    assert "even after one repair request" in forge.problem_label.text()
    assert forge.model.rows() == []


def test_run_tests_with_progress_then_the_result(forge, settle, qtbot):
    skill_id = _add(forge, settle, status="accepted")
    detail = forge.detail
    detail.runs_spin.setValue(2)
    with qtbot.waitSignal(forge.job_done, timeout=10_000) as done:
        qtbot.mouseClick(detail.run_button, Qt.MouseButton.LeftButton)
        assert detail.cancel_button.isVisible() and not detail.run_button.isEnabled()
    settle()
    assert done.args[1].with_rate == 1.0 and done.args[1].without_rate == 0.0
    assert _stored(forge, skill_id).score == 1.0
    assert detail.move_button.isEnabled() and detail.move_button.text() == "Move to testing"
    assert "With the skill 100% · without 0% · +100 points — 2 case(s) × 2 run(s)" in detail.result_label.text()
    assert "with 2/2 · without 0/2" in detail.case_list.item(0).text()
    assert not detail.cancel_button.isVisible()


def test_cancel_mid_run_stores_nothing(forge, settle, qtbot, fake_llm):
    skill_id = _add(forge, settle, status="accepted")
    fake_llm.responder = lambda request: {"text": "• slow answer that takes a while", "token_delay": 0.3}
    detail = forge.detail
    with qtbot.waitSignal(forge.job_done, timeout=10_000) as done:
        qtbot.mouseClick(detail.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(fake_llm.chat_requests) >= 1, timeout=5000)
        qtbot.mouseClick(detail.cancel_button, Qt.MouseButton.LeftButton)
    settle()
    assert done.args[1] == "cancelled"
    stored = _stored(forge, skill_id)
    assert stored.last_test is None and stored.score == 0.0
    assert len(fake_llm.chat_requests) == 1  # the run stopped at the request in flight
    assert detail.run_button.isEnabled() and not detail.cancel_button.isVisible()


def test_the_suggest_dialog_takes_typed_context_or_a_thread(forge, settle, qtbot):
    from desktop.dialogs.skill_dialogs import SuggestDialog

    connections = [("c1", "Fake Hermes · fake-model"), ("c2", "Other · m")]
    dialog = SuggestDialog(forge, connections, [("t1", "Rowan trees · 4 messages")], connection_id="c2")
    qtbot.addWidget(dialog)
    dialog.context_edit.setPlainText("  summaries please  ")
    assert dialog.values() == {"connection_id": "c2", "context": "summaries please", "conversation_id": None}
    dialog.from_thread.setChecked(True)
    assert not dialog.context_edit.isEnabled() and dialog.thread_combo.isEnabled()
    assert dialog.values() == {"connection_id": "c2", "context": None, "conversation_id": "t1"}
    empty = SuggestDialog(forge, [], [])
    qtbot.addWidget(empty)
    assert not empty.ok_button.isEnabled() and "Bind a connection first" in empty.error.text()
    assert not empty.from_thread.isEnabled()


def test_a_skill_selected_before_it_is_loaded_is_shown_once_it_is(forge, settle):
    first = _add(forge, settle, "Aardvark")  # listed first: what a fallback would pick
    later = create_suggested(forge.ctx.db, SkillDraft("Zebra", PROMPT))  # written behind the page's back
    forge.select(later.id)
    assert forge.detail.row.id == first  # not loaded yet
    forge.refresh()
    settle()
    assert forge.detail.row.id == later.id
