"""V Mirror in the real window (offscreen) against the fake OpenAI server: pick threads, see the size,
Run as a job, read the four columns, Apply/Undo, recommendation → memory/skill, delete; failures too."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from sqlmodel import select

from local_schema.models import AgentConnection, MemoryNode, MirrorReport, Skill
from standin.demo.seed import add_connection, add_thread

QUOTE = "I will retry with exponential backoff"
REVIEW = {
    "strengths": [{"claim": "States the retry policy plainly", "evidence": [QUOTE]}],
    "weaknesses": [{"claim": "Never asks which errors are safe to retry", "evidence": ["a sentence never said"]}],
    "recommendations": [{"claim": "Ask which errors are safe to retry before writing code",
                         "evidence": ["Write me a retry helper"]},
                        {"claim": "Offer jitter by default", "evidence": []}],
    "suggested_prompt": "You are careful.\nAsk which errors are safe to retry.",
}


@pytest.fixture
def mirror_page(window, fake_llm, settle):
    db = window.ctx.db
    cid = add_connection(db, "Fake Hermes", fake_llm.base_url, "fake-model", system_prompt="You are careful.")
    tid = add_thread(db, "Retry helper", [("user", "Write me a retry helper, please."),
                                          ("assistant", f"Sure. {QUOTE}, five attempts at most.")], cid)
    add_thread(db, "Other thread", [("user", "hello")], cid)
    page = window.show_page("mirror")
    page.load_sources()
    settle()
    return page, cid, tid


def tick(page, thread_id: str, qtbot, settle) -> None:
    page.form.set_checked([thread_id])
    qtbot.wait(350)  # the preview is debounced
    settle()


def run_review(page, qtbot, timeout=10_000):
    with qtbot.waitSignal(page.ctx.jobs.job_ended, timeout=timeout):
        qtbot.mouseClick(page.form.run_button, Qt.MouseButton.LeftButton)


def stored(db, model):
    with db.session() as s:
        return list(s.exec(select(model)).all())


def test_a_review_from_picked_threads_shows_four_columns_with_evidence(mirror_page, fake_llm, qtbot, settle):
    page, cid, tid = mirror_page
    assert page.form.threads.count() == 2
    page.form.title.setText("Week 1")
    tick(page, tid, qtbot, settle)
    assert "characters · ~" in page.form.size.text() and "1 part" not in page.form.size.text()
    assert page.form.run_button.isEnabled()
    fake_llm.reply(text="```json\n" + json.dumps(REVIEW) + "\n```")
    run_review(page, qtbot)
    settle(50)

    (report,) = stored(page.ctx.db, MirrorReport)
    assert report.title == "Week 1"
    assert page.stack.currentWidget() is page.report
    assert page.report.title.text() == "Week 1"
    assert page.model.rowCount() == 1
    strengths = page.report.column_bodies["strengths"].itemAt(0).widget()
    texts = " ".join(label.text() for label in strengths.findChildren(QLabel))
    assert "States the retry policy plainly" in texts and "✓" in texts
    weaknesses = page.report.column_bodies["weaknesses"].itemAt(0).widget()
    texts = " ".join(label.text() for label in weaknesses.findChildren(QLabel))
    assert "unverified" in texts and "not in the logs" in texts
    diff = page.report.diff.toPlainText()
    assert "+ Ask which errors are safe to retry." in diff and "  You are careful." in diff
    # What was sent: the transcript of the ticked thread only, with roles.
    sent = fake_llm.chat_requests[0].messages[1]["content"]
    assert "user:\nWrite me a retry helper" in sent and "Other thread" not in sent


def test_apply_undo_and_recommendations_are_one_click(mirror_page, fake_llm, qtbot, settle):
    page, cid, tid = mirror_page
    tick(page, tid, qtbot, settle)
    fake_llm.reply(text=json.dumps(REVIEW))
    run_review(page, qtbot)
    settle(50)
    db = page.ctx.db

    def prompt():
        with db.session() as s:
            return s.get(AgentConnection, cid).system_prompt

    qtbot.mouseClick(page.report.apply_button, Qt.MouseButton.LeftButton)
    settle(50)
    assert prompt() == REVIEW["suggested_prompt"]
    qtbot.waitUntil(lambda: page.report.undo_button.isEnabled() and not page.report.apply_button.isEnabled())
    assert "Applied" in page.report.prompt_state.text()
    qtbot.mouseClick(page.report.undo_button, Qt.MouseButton.LeftButton)
    settle(50)
    assert prompt() == "You are careful."
    qtbot.waitUntil(lambda: page.report.apply_button.isEnabled())

    qtbot.mouseClick(page.report.buttons[("memory", 1)], Qt.MouseButton.LeftButton)
    settle(50)
    (node,) = stored(db, MemoryNode)
    assert node.label == REVIEW["recommendations"][0]["claim"] and node.source.startswith("mirror:")
    qtbot.waitUntil(lambda: page.report.buttons[("memory", 1)].text() == "✓ in the Atlas")
    qtbot.mouseClick(page.report.buttons[("skill", 2)], Qt.MouseButton.LeftButton)
    settle(50)
    (skill,) = stored(db, Skill)
    assert (skill.name, skill.status) == ("Offer jitter by default", "suggested")
    qtbot.waitUntil(lambda: page.report.buttons[("skill", 2)].text() == "✓ suggested skill")

    qtbot.mouseClick(page.delete_button, Qt.MouseButton.LeftButton)
    settle(50)
    assert stored(db, MirrorReport) == [] and page.model.rowCount() == 0
    assert page.stack.currentWidget() is page.form


def test_malformed_twice_shows_the_error_and_stores_nothing(mirror_page, fake_llm, qtbot, settle):
    page, _cid, tid = mirror_page
    tick(page, tid, qtbot, settle)
    fake_llm.reply(text="The agent did fine, I think.")
    run_review(page, qtbot)
    settle()
    assert stored(page.ctx.db, MirrorReport) == []
    assert "Nothing was stored" in page.form.status.text() and page.form.status.objectName() == "Error"
    assert page.form.run_button.isEnabled() and not page.form.cancel_button.isVisible()
    assert len(fake_llm.chat_requests) == 2  # one repair request, no more


def test_cancel_stores_nothing(mirror_page, fake_llm, qtbot, settle):
    page, _cid, tid = mirror_page
    tick(page, tid, qtbot, settle)
    fake_llm.reply(text=json.dumps(REVIEW), token_delay=0.2)
    with qtbot.waitSignal(page.ctx.jobs.job_ended, timeout=10_000):
        qtbot.mouseClick(page.form.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(fake_llm.chat_requests) == 1)
        assert page.form.cancel_button.isVisible()
        qtbot.mouseClick(page.form.cancel_button, Qt.MouseButton.LeftButton)
    assert "Cancelled; nothing was stored" in page.form.status.text()
    assert stored(page.ctx.db, MirrorReport) == []


def test_the_size_preview_names_what_is_left_out_and_refuses_nothing_to_review(mirror_page, qtbot, settle):
    page, _cid, tid = mirror_page
    qtbot.wait(350)
    settle()
    assert "nothing to review" in page.form.size.text() and not page.form.run_button.isEnabled()
    page.form.source.setCurrentIndex(1)
    page.form.pasted.setPlainText("\n\n".join(f"part {i} " + "x" * 3000 for i in range(20)))
    page.form.budget.setValue(4000)
    qtbot.wait(350)
    settle()
    text = page.form.size.text()
    assert "Left out to fit the budget (the oldest): Pasted logs: lines 1–" in text
    assert page.form.run_button.isEnabled()


def test_the_budget_is_a_setting_that_survives(mirror_page, qtbot, settle):
    from agent.mirror.settings import load_budget

    page, _cid, _tid = mirror_page
    page.form.budget.setValue(9000)
    page.form.budget.editingFinished.emit()
    settle()
    assert load_budget(page.ctx.data_dir) == 9000


def test_the_report_fits_the_minimum_window_size(mirror_page, fake_llm, qtbot, settle):
    page, _cid, tid = mirror_page
    tick(page, tid, qtbot, settle)
    fake_llm.reply(text=json.dumps(REVIEW))
    run_review(page, qtbot)
    settle(50)
    window = page.window()
    window.resize(window.minimumSize())
    qtbot.waitUntil(lambda: window.width() == window.minimumWidth(), timeout=3000)
    qtbot.wait(20)
    for widget in (page.report.undo_button, page.report.buttons[("skill", 1)], page.new_button):
        right = widget.mapTo(window, widget.rect().topRight()).x()
        assert widget.isVisible() and right <= window.width(), widget
    assert page.report.wide is False  # two rows of two columns, none drawn over another
    cards = [card.geometry() for card in page.report.cards]
    for i, a in enumerate(cards):
        assert a.width() >= 140 and all(not a.intersects(b) for b in cards[i + 1:]), cards
    page.new_review()
    qtbot.wait(20)
    right = page.form.run_button.mapTo(window, page.form.run_button.rect().topRight()).x()
    assert right <= window.width()


def test_a_report_that_arrives_by_sync_appears_and_a_closed_window_stops_listening(mirror_page, qtbot, settle):
    from desktop.bus import SYNC, bus
    from local_schema.database import ChangedTables

    page, cid, _tid = mirror_page
    with page.ctx.db.write() as s:  # as a pull would store it: another device's report
        s.add(MirrorReport(title="From the laptop", agent_connection_id=cid, strengths=["plain string"]))
    bus.changed.emit(ChangedTables({"mirror_reports"}), SYNC)
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=5000)
    assert page.model.rows()[0].title == "From the laptop" and page.model.rows()[0].unverified == 1
    page.shutdown()
    assert page._listening is False
    page.shutdown()  # twice is harmless


def test_a_form_that_cannot_run_yet_says_why_without_logging_an_error(mirror_page, qtbot, settle, caplog):
    """Nothing picked is an answer shown in the form; re-measuring after every change (each sync
    cycle) must not fill the log with tracebacks."""
    page, _cid, _tid = mirror_page
    page.form.set_checked([])
    with caplog.at_level("WARNING", logger="desktop.ops"):
        for _ in range(3):
            page.update_preview()
            settle()
    assert page.form.size.text()  # the reason is shown
    assert not [r for r in caplog.records if "Measuring the review" in r.getMessage()]
