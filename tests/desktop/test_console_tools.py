"""Tool calls in the Console, in the real window: the fake endpoint streams a call, the turn waits for the
user on a card in the transcript (server, tool, arguments as plain text) while the UI keeps running, the
window's ToolHost starts the suite's own MCP server for the call, results show (long ones collapsed until
clicked) and everything renders again when the thread is reopened."""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import Qt
from sqlmodel import select

from agent.tools.config import add_stdio_server, get_server, record_tools
from agent.tools.results import ToolInfo
from desktop.bus import bus
from local_schema.models import Message
from standin.model import Reply
from tests.desktop.helpers import bind_fake, click_action, path_messages, start_turn
from tests.tools.conftest import ROOT

SCHEMAS = {
    "add": ("Add two integers.", {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                                  "required": ["a", "b"]}),
    "echo": ("Return the text as given.", {"type": "object", "properties": {"text": {"type": "string"}}}),
    "big": ("A result of `size` characters.", {"type": "object", "properties": {"size": {"type": "integer"}}}),
}


def call(i, name, arguments):
    return {"id": f"call_{i}", "name": name, "arguments": json.dumps(arguments)}


def add_fixture_server(db) -> None:
    """The suite's MCP server as "fx", its tools as it lists them (the turn starts it on the first call)."""
    add_stdio_server(db, "fx", sys.executable, ("-m", "standin.mcp_fixture_server"), {"PYTHONPATH": str(ROOT)})
    record_tools(db, "fx", [ToolInfo(name, *info) for name, info in SCHEMAS.items()])


def wait_for_card(qtbot, console):
    qtbot.waitUntil(lambda: len(console.tools.panel.cards()) == 1, timeout=20_000)
    return console.tools.panel.cards()[0]


def finish(qtbot, console, timeout=60_000):
    with qtbot.waitSignal(console.turns.turn_finished, timeout=timeout) as done:
        pass
    return done.args[0]


def test_a_call_waits_on_a_card_and_allow_once_runs_it(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    add_fixture_server(window.ctx.db)
    console = window.pages["console"]
    hostile = "<img src='/dev/zero'><b>bold?</b>"
    fake_llm.enqueue(Reply(text="Let me echo.", tool_calls=[call(1, "fx__echo", {"text": hostile})], tool_split=2),
                     Reply(text="Echoed."))
    start_turn(qtbot, console, "Echo something")
    card = wait_for_card(qtbot, console)
    assert card.isVisible() and console.tools.panel.isVisible() and console.turns.busy
    assert card.heading.text() == "⚒ fx · echo" and card.heading.textFormat() == Qt.TextFormat.PlainText
    assert json.loads(card.arguments.toPlainText()) == {"text": hostile}  # plain text, shown as it is
    # while the turn waits the transcript already shows the stored call, and the UI thread is free
    calling = console.transcript.rows()[1]
    assert calling.tool_calls[0]["function"]["name"] == "fx__echo" and calling.content == "Let me echo."
    assert not calling.provisional and not calling.streaming
    assert console.transcript.rows()[-1] is calling  # no empty "Generating…" row under a call that waits
    qtbot.wait(100)  # the event loop turns: nothing waits on the worker
    qtbot.mouseClick(card.allow_button, Qt.MouseButton.LeftButton)
    result = finish(qtbot, console)
    assert result.status == "done" and result.text == "Echoed."
    assert not console.tools.panel.isVisible() and console.tools.panel.cards() == []
    sent = fake_llm.chat_requests[-1]
    assert sent.tool_messages == [{"role": "tool", "tool_call_id": "call_1", "content": hostile}]
    assert "fx__echo" in fake_llm.chat_requests[0].tool_names
    settle()
    rows = console.transcript.rows()
    assert [(r.role, r.content) for r in rows] == [("user", "Echo something"), ("assistant", "Let me echo."),
                                                   ("tool", hostile), ("assistant", "Echoed.")]
    assert not any(r.provisional for r in rows)
    shown = console.view.delegate.rendered(rows[1]).doc.toPlainText()
    assert "⚒ fx · echo" in shown and hostile in shown  # the call reads as plain text in the transcript
    assert console.view.delegate.rendered(rows[2]).doc.toPlainText().strip() == hostile


def test_always_is_remembered_and_deny_gives_the_model_an_error(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    db = window.ctx.db
    add_fixture_server(db)
    console = window.pages["console"]
    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__add", {"a": 2, "b": 40}),
                                                call(2, "fx__echo", {"text": "no"})]),
                     Reply(text="42, and echo was denied."))
    heard = []

    def on_changed(tables, initiator):
        heard.append((set(tables), initiator))

    bus.changed.connect(on_changed)
    start_turn(qtbot, console, "Add, then echo")
    qtbot.mouseClick(wait_for_card(qtbot, console).always_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: [c.heading.text() for c in console.tools.panel.cards()] == ["⚒ fx · echo"],
                    timeout=20_000)
    qtbot.mouseClick(console.tools.panel.cards()[0].deny_button, Qt.MouseButton.LeftButton)
    result = finish(qtbot, console)
    assert [(r.decision, r.text[:34]) for r in result.calls] == [
        ("always", "42"), ("deny", "Error: the user denied this call; ")]
    assert next(t for t in get_server(db, "fx").tools if t.name == "add").always_allow
    bus.changed.disconnect(on_changed)
    # the Tools page learns that add is now "Always": the turn announced what it wrote, as the Console's
    assert any("mcp_tools" in tables and initiator is console for tables, initiator in heard)
    # the next turn runs add without a card
    fake_llm.enqueue(Reply(text="", tool_calls=[call(3, "fx__add", {"a": 1, "b": 1})]), Reply(text="2"))
    start_turn(qtbot, console, "1 + 1")
    result = finish(qtbot, console)
    assert result.calls[0].decision == "auto" and result.text == "2" and console.tools.panel.cards() == []


def test_stop_while_a_card_waits_withdraws_it_and_answers_the_call(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    add_fixture_server(window.ctx.db)
    console = window.pages["console"]
    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__add", {"a": 1, "b": 1})]))
    start_turn(qtbot, console, "Add")
    wait_for_card(qtbot, console)
    qtbot.mouseClick(console.stop_button, Qt.MouseButton.LeftButton)
    result = finish(qtbot, console)
    assert result.status == "stopped" and console.tools.panel.cards() == [] and len(fake_llm.chat_requests) == 1
    settle()
    assert path_messages(window.ctx.db, console.conversation_id) == [
        ("user", "Add"), ("assistant", ""), ("tool", "Error: not run, the user stopped the turn.")]
    assert console.send_button.isVisible()


def test_long_results_collapse_until_clicked_and_stored_calls_render_when_reopened(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    db = window.ctx.db
    add_fixture_server(db)
    from agent.tools.config import set_always_allow

    set_always_allow(db, "fx", "big", True)
    console = window.pages["console"]
    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__big", {"size": 3000})]), Reply(text="Long."))
    start_turn(qtbot, console, "Something big")
    assert finish(qtbot, console).text == "Long."
    settle()
    thread = console.conversation_id
    # reopen: another thread, then this one again — what was stored is what shows
    console.new_thread()
    settle()
    console.open_thread(thread)
    qtbot.waitUntil(lambda: len(console.transcript.rows()) == 4, timeout=5000)
    rows = console.transcript.rows()
    assert [r.role for r in rows] == ["user", "assistant", "tool", "assistant"]
    assert rows[1].tool_calls[0]["function"]["name"] == "fx__big"
    assert "⚒ fx · big" in console.view.delegate.rendered(rows[1]).doc.toPlainText()
    result = rows[2]
    delegate = console.view.delegate
    short = delegate.rendered(result).doc.toPlainText()
    assert len(short) <= 810 and short.endswith("…")
    collapsed_height = console.view.visualRect(console.transcript.index(2)).height()
    click_action(qtbot, console, result.id, "expand")
    qtbot.waitUntil(lambda: result.expanded, timeout=2000)
    assert len(delegate.rendered(result).doc.toPlainText()) == 3000
    qtbot.waitUntil(lambda: console.view.visualRect(console.transcript.index(2)).height() > collapsed_height,
                    timeout=2000)
    click_action(qtbot, console, result.id, "collapse")
    assert not result.expanded and delegate.rendered(result).doc.toPlainText() == short
    with db.session() as s:
        assert len(s.exec(select(Message).where(Message.role == "tool")).all()) == 1


def test_with_the_switch_off_no_tools_are_offered(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    add_fixture_server(window.ctx.db)
    console = window.pages["console"]
    assert console.tools.toggle.isChecked()
    console.tools.toggle.click()
    fake_llm.enqueue(Reply(text="Just text."))
    start_turn(qtbot, console, "Hi")
    assert finish(qtbot, console).text == "Just text."
    assert "tools" not in fake_llm.chat_requests[0].body
    from desktop.settings_store import AppSettings

    assert AppSettings(window.ctx.data_dir).console_tools is False  # the next window starts with it off
