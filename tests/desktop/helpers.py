"""Helpers for driving the Console like a user: bind a connection, type, click painted links."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from standin.demo.seed import add_connection


def bind_fake(window, fake_llm, settle, system_prompt=None) -> str:
    """A connection to the fake endpoint, then the Console re-reads its connections."""
    cid = add_connection(window.ctx.db, "Fake Hermes", fake_llm.base_url, "fake-model", system_prompt=system_prompt)
    console = window.pages["console"]
    console.refresh_connections()
    settle()
    assert console.current_connection_id() == cid
    window.show_page("console")
    return cid


def type_and_send(qtbot, console, text: str) -> None:
    console.composer.setFocus()
    qtbot.keyClicks(console.composer, text)
    qtbot.keyClick(console.composer, Qt.Key.Key_Return)


def start_turn(qtbot, console, text: str) -> None:
    """Send like a user and wait until the turn is streaming (the first send also creates the thread)."""
    type_and_send(qtbot, console, text)
    qtbot.waitUntil(lambda: console.turns.busy, timeout=5000)


def finish_turn(qtbot, console, text: str, timeout: int = 10_000):
    """Send like a user and wait for the whole turn; returns agent.chat.turn's TurnResult.

    (Waiting for "busy" first would race a turn fast enough to finish inside one event-loop pass.)"""
    with qtbot.waitSignal(console.turns.turn_finished, timeout=timeout) as done:
        type_and_send(qtbot, console, text)
    return done.args[0]


def click_action(qtbot, console, message_id: str, action: str) -> None:
    """Click a painted action link ("retry", "promote", "regenerate", "copy") under a message."""
    view = console.view
    row = console.transcript.row_of(message_id)
    assert row is not None, f"message {message_id} is not in the transcript window"
    index = console.transcript.index(row)
    view.scrollTo(index)
    qtbot.wait(10)
    rect = view.visualRect(index)
    for name, action_rect in view.delegate.geometry(rect, index).actions:
        if name == action:
            qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=action_rect.center())
            return
    raise AssertionError(f"no {action!r} link on message {message_id}")


def click_copy_code(qtbot, console, message_id: str, code_index: int = 0) -> None:
    view = console.view
    row = console.transcript.row_of(message_id)
    index = console.transcript.index(row)
    view.scrollTo(index)
    qtbot.wait(10)
    rect = view.visualRect(index)
    copies = view.delegate.geometry(rect, index).copies
    _text, button = copies[code_index]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(button.center()))


def stored_messages(db, conversation_id: str) -> list[tuple[str, str]]:
    """Every message of the thread, every branch, in thread order."""
    from agent.chat.threads import thread_messages_in

    with db.session() as s:
        return [(m.role, m.content) for m in thread_messages_in(s, conversation_id)]


def tip_text(tooltip: str) -> str:
    """What a tooltip made by desktop.safe_text.tip shows: the text inside its one escaped paragraph."""
    import html
    import re

    match = re.fullmatch(r"<p style='white-space:pre-wrap'>(.*)</p>", tooltip, re.DOTALL)
    assert match is not None, f"not a safe_text.tip tooltip: {tooltip[:80]!r}"
    return html.unescape(match.group(1))
def path_messages(db, conversation_id: str) -> list[tuple[str, str]]:
    """The thread's active path: what the transcript shows."""
    from agent.chat.tree import active_path_in

    with db.session() as s:
        return [(m.role, m.content) for m in active_path_in(s, conversation_id)]


NO_REPLY_TEXT = "No reply was received for this message."  # desktop.pages.console.turns.NO_REPLY
