"""The Skill Forge card with tools, in the real window: the tools a skill needs (shown as plain text,
picked from this device's enabled tools), and a test run that offers them after one confirmation —
the real fake endpoint streaming tool_calls, the suite's own MCP server started by the window's host."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from agent.skills.forge import SkillDraft, create_suggested
from agent.skills.tools import set_skill_tools
from agent.tools.config import add_stdio_server, record_tools, set_always_allow, set_enabled
from agent.tools.results import ToolInfo
from desktop.dialogs.skill_tools import SkillToolsDialog
from local_schema.models import Skill
from standin.demo.seed import add_connection
from tests.tools.conftest import fixture_spec
from tests.tools.test_skill_tools import CASES, PROMPT, adder

Button = QMessageBox.StandardButton
ADD_SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
              "required": ["a", "b"]}


@pytest.fixture
def forge(qtbot, window, settle, fake_llm):
    """The Skill Forge page, "fx" configured (add, echo), a skill needing fx/add, selected."""
    db = window.ctx.db
    spec = fixture_spec()
    add_stdio_server(db, "fx", spec.command, spec.args, spec.env)
    record_tools(db, "fx", [ToolInfo("add", "Add two numbers", ADD_SCHEMA), ToolInfo("echo", "Echo")])
    add_connection(db, "Fake Hermes", fake_llm.base_url, "fake-model")
    fake_llm.responder = adder
    skill = create_suggested(db, SkillDraft("Adder", PROMPT, test_cases=CASES))
    set_skill_tools(db, skill.id, ["fx/add"])
    page = window.show_page("skills")
    page.selected_id = skill.id
    page.refresh()
    settle()
    page.skill_id = skill.id
    return page


def _stored(page) -> Skill:
    with page.ctx.db.session() as s:
        return s.get(Skill, page.skill_id)


def test_the_card_shows_the_tools_and_their_state_here_as_plain_text(forge, settle):
    box = forge.detail.tools_box
    assert box.label.text() == "Tools: fx/add"
    assert box.label.textFormat() == Qt.TextFormat.PlainText
    set_skill_tools(forge.ctx.db, forge.skill_id, ["fx/add", "web/<b>search</b>"])
    set_always_allow(forge.ctx.db, "fx", "add", True)
    forge.refresh()
    settle()
    assert box.label.text() == "Tools: fx/add (always allowed), web/<b>search</b> (missing here)"
    set_enabled(forge.ctx.db, "fx/add", False)
    forge.refresh()
    settle()
    assert box.label.text().startswith("Tools: fx/add (disabled here)")


def test_pick_tools_from_this_device_and_save(forge, settle, qtbot):
    box = forge.detail.tools_box
    dialog = SkillToolsDialog(box, "Adder", box.states, ["fx/add", "fx/echo"])
    qtbot.addWidget(dialog)
    items = {dialog.list.item(i).data(Qt.ItemDataRole.UserRole): dialog.list.item(i) for i in range(dialog.list.count())}
    assert set(items) == {"fx/add", "fx/echo"} and items["fx/add"].checkState() == Qt.CheckState.Checked
    items["fx/echo"].setCheckState(Qt.CheckState.Checked)
    dialog.other_edit.setText("not a name")
    dialog.accept_names()
    assert not dialog.error_label.isHidden() and "is not a tool name" in dialog.error_label.text()
    assert dialog.chosen is None and _stored(forge).tools == ["fx/add"]
    dialog.other_edit.setText("web/search")
    dialog.accept_names()
    assert dialog.chosen == ["fx/add", "fx/echo", "web/search"]
    forge.detail.save_tools(dialog.chosen)
    qtbot.waitUntil(lambda: _stored(forge).tools == ["fx/add", "fx/echo", "web/search"], timeout=5000)
    settle()
    assert "web/search (missing here)" in box.label.text()


def _run(forge, qtbot, settle):
    detail = forge.detail
    with qtbot.waitSignal(forge.job_done, timeout=30_000) as done:
        qtbot.mouseClick(detail.run_button, Qt.MouseButton.LeftButton)
    settle()
    return done.args[1]


def test_the_run_asks_once_and_yes_allows_the_tools_for_this_run(forge, settle, qtbot, monkeypatch, fake_llm):
    asked = []
    monkeypatch.setattr("desktop.pages.skills.tools_box.ask",
                        lambda parent, title, text, *a: asked.append(text) or Button.Yes)
    report = _run(forge, qtbot, settle)
    assert len(asked) == 1 and "⚒ fx/add" in asked[0]
    assert report.with_rate == 1.0 and report.cases[0].tool_calls.ran == 1
    assert "Tools offered: fx/add — calls: 1 ran, 0 denied, 0 failed." in forge.detail.result_label.text()
    with_skill = [r for r in fake_llm.chat_requests if PROMPT in r.messages[0]["content"]]
    assert with_skill[0].tool_names == ["fx__add"]


def test_no_denies_every_call_and_cancel_runs_nothing(forge, settle, qtbot, monkeypatch, fake_llm):
    answers = [Button.Cancel, Button.No]
    monkeypatch.setattr("desktop.pages.skills.tools_box.ask", lambda *a: answers.pop(0))
    qtbot.mouseClick(forge.detail.run_button, Qt.MouseButton.LeftButton)
    settle()
    assert fake_llm.chat_requests == [] and forge.job is None
    report = _run(forge, qtbot, settle)
    assert report.with_rate == 0.0 and report.cases[0].tool_calls.denied == 1
    assert "calls: 0 ran, 1 denied, 0 failed" in forge.detail.result_label.text()
    assert json.dumps(_stored(forge).last_test["tools"]["approval"]) == '"never"'


def test_an_always_allowed_tool_runs_without_asking_and_a_missing_one_is_a_note(forge, settle, qtbot, monkeypatch):
    set_always_allow(forge.ctx.db, "fx", "add", True)
    set_skill_tools(forge.ctx.db, forge.skill_id, ["fx/add", "web/search"])
    forge.refresh()
    settle()
    monkeypatch.setattr("desktop.pages.skills.tools_box.ask", lambda *a: pytest.fail("nothing to ask"))
    report = _run(forge, qtbot, settle)
    assert report.with_rate == 1.0
    assert ("Note: web/search: not on this device (no MCP server named web); not offered."
            in forge.detail.result_label.text())
