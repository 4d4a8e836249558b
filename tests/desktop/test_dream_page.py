"""The Dream page in the real window: dream on demand, one-click decisions, settings, and the automatic
controller's gates and pause driven with an injected idle source."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from sqlmodel import select

from agent.dream.reports import list_reports
from agent.dream.schedule import next_kind_after
from agent.dream.settings import DreamSettings, load_settings, save_settings
from desktop.dream_controller import DreamController
from local_schema.models import MemoryNode
from standin.demo.dream import DUP_B, add_turns, consolidating_model, plant_atlas
from standin.demo.seed import add_connection


def _labels(db) -> set[str]:
    with db.session() as s:
        return {n.label for n in s.exec(select(MemoryNode)).all() if n.deleted_at is None}


def test_dream_now_then_accept_and_reject_in_one_click(qtbot, window, fake_llm, settle):
    db = window.ctx.db
    add_connection(db, "Dreamer", fake_llm.base_url, "fake-model")
    plant_atlas(db)
    fake_llm.responder = consolidating_model
    window.show_page("dream")
    page = window.pages["dream"]
    page._load_settings()
    settle()
    page.connection.setCurrentIndex(1)
    before = _labels(db)
    page.start("consolidate")
    assert window.ctx.jobs.wait_idle(20_000)
    settle(50)
    assert _labels(db) == before  # a dream proposes; nothing changed yet
    assert page.model.rowCount() == 1
    report = page.model.rows()[0]
    assert report.status == "done" and page.report.report.id == report.id
    merge = next(p for p in report.proposals if p["kind"] == "merge")
    card = page.report.proposal_cards[merge["id"]]
    accept = next(b for b in card.findChildren(type(page.delete_button)) if b.text() == "Accept")
    qtbot.mouseClick(accept, Qt.MouseButton.LeftButton)
    settle(50)
    assert DUP_B not in _labels(db) and "Prefers Python for data analysis" in _labels(db)
    shown = page.report.proposal_cards[merge["id"]]
    assert not [b for b in shown.findChildren(type(page.delete_button)) if b.text() == "Accept"]
    delete = next(p for p in page.model.rows()[0].proposals if p["kind"] == "delete")
    card = page.report.proposal_cards[delete["id"]]
    qtbot.mouseClick(next(b for b in card.findChildren(type(page.delete_button)) if b.text() == "Reject"),
                     Qt.MouseButton.LeftButton)
    settle(50)
    states = {p["kind"]: p["state"] for p in list_reports(db)[0].proposals}
    assert states["merge"] == "accepted" and states["delete"] == "rejected" and states["keep_one"] == "open"
    assert "Once asked about knitting" in _labels(db)


def test_each_dream_now_entry_starts_its_own_kind(window, monkeypatch):
    """The menu's wiring (view.py builds the entries, the page connects them): a triggered entry passes
    its kind, not the action's `checked` flag."""
    from agent.dream.kinds import LABELS

    page = window.show_page("dream")
    started: list[str] = []
    monkeypatch.setattr(page, "start", started.append)
    entries = page.dream_now.menu().actions()
    assert [a.text() for a in entries] == list(LABELS.values())
    for action in entries:
        action.trigger()
    assert started == list(LABELS)


def test_settings_are_saved_where_the_command_line_reads_them(qtbot, window, fake_llm, settle):
    cid = add_connection(window.ctx.db, "Dreamer", fake_llm.base_url, "fake-model")
    page = window.pages["dream"]
    page._load_settings()
    settle()
    page.connection.setCurrentIndex(page.connection.findData(cid))
    page.max_requests.setValue(7)
    page._save_settings()
    settle()
    saved = load_settings(window.ctx.data_dir)
    assert (saved.connection_id, saved.max_requests) == (cid, 7)


def test_the_controller_dreams_only_when_every_gate_is_open_and_pauses_on_input(qtbot, window, fake_llm,
                                                                                   settle):
    db, ctx = window.ctx.db, window.ctx
    cid = add_connection(db, "Dreamer", fake_llm.base_url, "fake-model")
    plant_atlas(db)
    idle = {"seconds": 30.0}
    streaming = {"on": False}
    fake_llm.responder = consolidating_model
    save_settings(ctx.data_dir, DreamSettings(connection_id=cid, idle_minutes=10, min_new_messages=1))
    controller = DreamController(ctx, is_streaming=lambda: streaming["on"], idle_seconds=lambda: idle["seconds"],
                                 check_interval_ms=3_600_000)
    controller.check()
    settle()
    assert controller.job is None and "active recently" in controller.state
    idle["seconds"] = 3600.0
    controller.check()
    settle()
    assert controller.job is None and "Not enough new material" in controller.state
    add_turns(db, cid, [("Hello?", "Hi.")])
    streaming["on"] = True
    controller.check()
    settle()
    assert controller.job is None and "being written" in controller.state
    streaming["on"] = False
    with qtbot.waitSignal(controller.dream_ended, timeout=20_000):
        controller.check()
    settle()
    (report,) = list_reports(db)
    assert report.status == "done" and report.kind == next_kind_after([])
    controller.stop()


def test_input_pauses_a_running_dream_and_idleness_resumes_it(qtbot, window, fake_llm, settle):
    db, ctx = window.ctx.db, window.ctx
    cid = add_connection(db, "Dreamer", fake_llm.base_url, "fake-model")
    plant_atlas(db)
    fake_llm.responder = lambda req: {**_as_reply(consolidating_model(req)), "header_delay": 0.5}
    idle = {"seconds": 3600.0}
    save_settings(ctx.data_dir, DreamSettings(connection_id=cid, idle_minutes=10, min_new_messages=1))
    controller = DreamController(ctx, idle_seconds=lambda: idle["seconds"], check_interval_ms=3_600_000,
                                 input_window=window.windowHandle)
    job = controller.dream_now("consolidate")
    qtbot.waitUntil(lambda: job.state == "running", timeout=5000)
    # a real mouse event, delivered to the window as the platform delivers it, pauses the dream
    event = QMouseEvent(QMouseEvent.Type.MouseButtonPress, window.rect().center().toPointF(),
                        window.rect().center().toPointF(), Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window.windowHandle(), event)
    assert job.context.paused and "paused" in controller.state
    requests_when_paused = len(fake_llm.chat_requests)
    qtbot.wait(800)
    assert len(fake_llm.chat_requests) <= requests_when_paused + 1  # at most the one already in flight
    controller.check()  # the injected idle source says an hour without input: the dream resumes
    assert not job.context.paused
    assert ctx.jobs.wait_idle(20_000)
    settle()
    assert list_reports(db)[0].status == "done"
    controller.stop()


def _as_reply(text):
    return {"text": text or "{}"}


def test_the_list_has_a_glyph_for_every_kind():
    from agent.dream.kinds import KINDS
    from desktop.models.dream_model import KIND_GLYPHS

    assert set(KIND_GLYPHS) == set(KINDS)
