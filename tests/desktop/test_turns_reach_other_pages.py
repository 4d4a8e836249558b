"""A Console turn writes the thread, its messages and the connection's status from a worker thread; the
other pages hear about it on the change bus like any Op's writes (Mirror's thread list, Bind's status,
the Console's own connection icons) — not only after the next sync."""

from PySide6.QtCore import Qt

from local_schema.models import AgentConnection, ConnectionCheck
from tests.desktop.helpers import bind_fake, finish_turn, tip_text


def thread_items(page) -> list[str]:
    return [page.form.threads.item(i).text() for i in range(page.form.threads.count())]


def test_mirror_thread_list_follows_a_console_turn(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    console, mirror = window.pages["console"], window.pages["mirror"]
    fake_llm.reply(text="Lisbon in May is lovely.")
    result = finish_turn(qtbot, console, "Plan a weekend in Lisbon")
    assert result.status == "done", result.error
    settle()
    assert thread_items(mirror) == ["Plan a weekend in Lisbon  ·  2 messages"]

    finish_turn(qtbot, console, "And the food?")
    settle()
    assert thread_items(mirror) == ["Plan a weekend in Lisbon  ·  4 messages"]
    # a ticked thread stays ticked through the refresh
    mirror.form.set_checked([console.conversation_id])
    finish_turn(qtbot, console, "Thanks")
    settle()
    assert thread_items(mirror) == ["Plan a weekend in Lisbon  ·  6 messages"]
    assert mirror.form.checked_threads() == [console.conversation_id]


def _bind_row(window, cid):
    page = window.pages["bind"]
    return next(row for row in page.model.rows() if row.id == cid)


def _combo_status(console, cid) -> str:
    combo = console.connection_combo
    return tip_text(combo.itemData(combo.findData(cid), Qt.ItemDataRole.ToolTipRole))  # (an escaped tooltip)


def test_connection_status_follows_chat_turns_in_bind_and_the_console(qtbot, window, settle, fake_llm):
    cid = bind_fake(window, fake_llm, settle)
    window.pages["bind"].refresh()
    console = window.pages["console"]
    settle()
    assert _bind_row(window, cid).checked_at is None  # never tested
    finish_turn(qtbot, console, "hello")
    settle()
    assert _bind_row(window, cid).status == "online" and _combo_status(console, cid) == "online"

    fake_llm.reply(status=503, error_json={"error": {"message": "model is loading"}})
    result = finish_turn(qtbot, console, "still there?")
    assert result.status == "failed"
    settle()
    row = _bind_row(window, cid)
    assert row.status == "error" and "HTTP 503" in row.check_error and "model is loading" in row.check_error
    assert _combo_status(console, cid) == "error"

    fake_llm.stop()  # the endpoint dies: connection refused
    result = finish_turn(qtbot, console, "hello?")
    assert result.status == "failed"
    settle()
    row = _bind_row(window, cid)
    assert row.status == "offline" and "refused" in row.check_error.lower() and row.checked_at
    assert _combo_status(console, cid) == "offline"
    window.show_page("bind")
    settle()
    page = window.pages["bind"]
    assert page.editing_id == cid and page.status.word.text() == "Offline"
    assert "refused" in page.status.reason.text().lower()
    with window.ctx.db.session() as s:
        assert s.get(AgentConnection, cid).status == "offline"
        assert s.get(ConnectionCheck, cid).status == "offline"
