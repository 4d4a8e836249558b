"""Two windows on two data dirs, one account, the stand-in between them: what one does, the other shows.

Nothing is synced by hand: window A's chat turn starts A's debounced cycle, window B's 15 s timer pulls.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.desktop.helpers import bind_fake, finish_turn
from tests.desktop.sync_windows import close_window, open_device, shown_messages, thread_titles, wait_synced


@pytest.fixture
def account(supabase_stack):
    return supabase_stack.new_user()


@pytest.mark.slow
def test_a_message_sent_in_a_appears_in_b_and_a_deleted_thread_disappears(
        qtbot, tmp_path, memory_keyring, supabase_stack, account, fake_llm, settle):
    a = open_device(qtbot, tmp_path / "a", memory_keyring, supabase_stack, account)
    b = open_device(qtbot, tmp_path / "b", memory_keyring, supabase_stack, account)
    try:
        assert a.ctx.sync.interval == 15.0 and a.ctx.sync.debounce == 0.5  # the shipped timing
        wait_synced(qtbot, a)
        wait_synced(qtbot, b)
        bind_fake(a, fake_llm, settle)
        fake_llm.reply(text="Hello from the fake model")
        finish_turn(qtbot, a.pages["console"], "Sent from window A")

        # B: the thread and both messages arrive by themselves, within 20 s of the turn.
        console_b = b.pages["console"]
        qtbot.waitUntil(lambda: "Sent from window A" in thread_titles(b), timeout=20_000)
        # B had no thread open, so it opens the one that arrived (as it does at start-up).
        qtbot.waitUntil(lambda: shown_messages(b) == [("user", "Sent from window A"),
                                                      ("assistant", "Hello from the fake model")], timeout=5000)
        settle()
        # The shipped timing is proven above; the rest of the test polls faster to keep the suite short.
        b.ctx.sync.scheduler.interval = 2.0
        b.ctx.sync.request_sync()

        # Live: B keeps the thread open with a draft in its composer; A's next turn lands in place.
        qtbot.keyClicks(console_b.composer, "my draft")
        resets = []
        console_b.transcript.modelReset.connect(lambda: resets.append(1))
        fake_llm.reply(text="Second answer")
        finish_turn(qtbot, a.pages["console"], "Second question")
        qtbot.waitUntil(lambda: len(shown_messages(b)) == 4, timeout=20_000)
        assert shown_messages(b)[2:] == [("user", "Second question"), ("assistant", "Second answer")]
        assert resets == [] and console_b.composer.toPlainText() == "my draft"

        # A deletes the thread: it disappears from B (list and transcript).
        console_a = a.pages["console"]
        console_a.delete_thread(console_a.conversation_id, confirm=False)
        qtbot.waitUntil(lambda: thread_titles(b) == [], timeout=20_000)
        qtbot.waitUntil(lambda: console_b.conversation_id is None and shown_messages(b) == [], timeout=5000)
    finally:
        close_window(a)
        close_window(b)


def test_the_chip_says_synced_and_f5_syncs_now(qtbot, tmp_path, memory_keyring, supabase_stack, account):
    from tests.desktop.sync_windows import sync_now

    w = open_device(qtbot, tmp_path / "w", memory_keyring, supabase_stack, account)
    try:
        wait_synced(qtbot, w)
        chip = w.footer.chip
        qtbot.waitUntil(lambda: w.ctx.sync.status.live, timeout=10_000)
        assert chip.isVisible() and chip.text() == "● Live" and "last sync" in chip.toolTip()
        assert w.footer.account_button.text().startswith(account[0])
        result = sync_now(qtbot, w)
        assert result.state == "idle" and w.ctx.sync.cycles >= 2
        qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
        panel = w.sync_panel
        qtbot.waitUntil(lambda: panel.isVisible() and "Last cycle" in panel.cycle_label.text(), timeout=5000)
        assert panel.account_label.text() == account[0] and supabase_stack.url in panel.project_label.text()
    finally:
        close_window(w)


def test_both_windows_show_a_message_at_the_time_it_was_written_and_by_whom(
        qtbot, tmp_path, memory_keyring, supabase_stack, account, fake_llm, settle, monkeypatch):
    """Sync used to re-date every pushed row to the push, so A and B showed different times until a reload.
    A's clock is an hour behind here: its rows keep A's time, to the microsecond, in both windows."""
    from datetime import UTC, datetime, timedelta

    from local_schema import timestamps
    from local_schema.timestamps import to_micros
    from tests.desktop.sync_windows import sync_now

    a = open_device(qtbot, tmp_path / "a", memory_keyring, supabase_stack, account)
    b = open_device(qtbot, tmp_path / "b", memory_keyring, supabase_stack, account)
    try:
        wait_synced(qtbot, a)
        bind_fake(a, fake_llm, settle)
        fake_llm.reply(text="An answer")
        with monkeypatch.context() as patch:
            patch.setattr(timestamps, "_now", lambda: datetime.now(UTC) - timedelta(hours=1))
            finish_turn(qtbot, a.pages["console"], "Written an hour ago")
        settle()
        with a.ctx.db.engine.connect() as conn:
            written = [(role, to_micros(at)) for role, at in conn.exec_driver_sql(
                "SELECT role, created_at FROM messages ORDER BY seq")]
        assert written[0][1] < to_micros(timestamps.utc_now()) - 3_500_000_000  # an hour ago, by A's clock
        sync_now(qtbot, a)
        sync_now(qtbot, b)
        qtbot.waitUntil(lambda: len(shown_messages(b)) == 2, timeout=10_000)
        settle()
        for window in (a, b):
            rows = window.pages["console"].transcript.rows()
            assert [(r.role, to_micros(r.created_at)) for r in rows] == written
            assert window.pages["console"].view.delegate.role_name(rows[1]) == "Fake Hermes · fake-model"
        a.pages["console"].open_thread(a.pages["console"].conversation_id)  # and after a reload, the same
        settle()
        assert [(r.role, to_micros(r.created_at)) for r in a.pages["console"].transcript.rows()] == written
    finally:
        close_window(a)
        close_window(b)


def test_with_polling_off_a_message_from_a_appears_in_b_within_2_s_and_both_chips_say_live(
        qtbot, tmp_path, memory_keyring, supabase_stack, account, fake_llm, settle, monkeypatch):
    import time

    from desktop import sync_controller

    monkeypatch.setattr(sync_controller, "INTERVAL", 3600.0)  # no poll: only the server's pokes move B
    monkeypatch.setattr(sync_controller, "LIVE_INTERVAL", 3600.0)
    a = open_device(qtbot, tmp_path / "a", memory_keyring, supabase_stack, account)
    b = open_device(qtbot, tmp_path / "b", memory_keyring, supabase_stack, account)
    try:
        for w in (a, b):
            wait_synced(qtbot, w)
            qtbot.waitUntil(lambda w=w: w.ctx.sync.status.live, timeout=10_000)
            assert w.footer.chip.text() == "● Live" and w.ctx.sync.scheduler.interval == 3600.0
        bind_fake(a, fake_llm, settle)
        fake_llm.reply(text="Heard live")
        finish_turn(qtbot, a.pages["console"], "Sent with polling off")
        done = time.monotonic()
        qtbot.waitUntil(lambda: shown_messages(b) == [("user", "Sent with polling off"), ("assistant", "Heard live")],
                        timeout=5000)
        assert time.monotonic() - done < 2.0  # A's 0.5 s debounce, its push, the poke, B's cycle and paint
        assert b.ctx.sync.scheduler.trigger == "poke"

        # The Sync panel says so, and says it plainly when the connection is gone.
        qtbot.mouseClick(b.footer.chip, Qt.MouseButton.LeftButton)
        panel = b.sync_panel
        qtbot.waitUntil(lambda: panel.isVisible(), timeout=5000)
        assert panel.live_label.text().startswith("Live: connected") and "● Live" in panel.state_label.text()
        b.ctx.sync.live.link.on_state(False, "the network is gone")  # as the link says it when it drops
        qtbot.waitUntil(lambda: not b.ctx.sync.status.live, timeout=5000)
        assert b.footer.chip.text().startswith("✓ Synced ")
        assert panel.live_label.text() == ("Live: not connected (the network is gone) — checking for changes "
                                           "every 3600 s.")
        panel.close()
    finally:
        close_window(a)
        close_window(b)
