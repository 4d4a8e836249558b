"""The window when sync meets trouble: the server goes away and comes back, a token expires in the middle
of a cycle, the server refuses a change (shown with its reason; Discard restores the server's row)."""

from __future__ import annotations

from standin.demo.seed import add_thread
from tests.desktop.sync_windows import (
    close_window,
    open_device,
    says_synced,
    sync_now,
    thread_titles,
    wait_synced,
)
from tests.sync.helpers import server_rows


def test_server_stopped_chip_offline_edits_wait_then_synced_nothing_lost(
        qtbot, tmp_path, memory_keyring, supabase_stack, restartable_standin):
    user = supabase_stack.new_user()
    w = open_device(qtbot, tmp_path / "w", memory_keyring, restartable_standin, user)
    try:
        wait_synced(qtbot, w)
        restartable_standin.stop()
        sync_now(qtbot, w)
        qtbot.waitUntil(lambda: w.footer.chip.text().startswith("○ Offline"), timeout=5000)

        cid = add_thread(w.ctx.db, "Written offline", [("user", "first"), ("assistant", "second")])
        w.ctx.db.notify_changed({"conversations", "messages"})  # add_thread writes raw SQL
        qtbot.waitUntil(lambda: w.footer.chip.text() == "○ Offline · 3 waiting", timeout=10_000)
        assert server_rows(supabase_stack, "conversations", user[2]) == []

        restartable_standin.start()
        sync_now(qtbot, w)
        wait_synced(qtbot, w)
        assert says_synced(w)
        [row] = server_rows(supabase_stack, "conversations", user[2])
        assert str(row["id"]) == cid and row["title"] == "Written offline"
        assert sorted(m["content"] for m in server_rows(supabase_stack, "messages", user[2])) == ["first", "second"]
    finally:
        close_window(w)


def test_a_token_expiring_in_the_middle_of_a_cycle_is_refreshed_and_the_cycle_completes(
        qtbot, tmp_path, memory_keyring, supabase_stack):
    supabase_stack.set_access_token_ttl(6)
    supabase_stack.set_jwt_clock_skew(0)
    user = supabase_stack.new_user()
    other = open_device(qtbot, tmp_path / "other", memory_keyring, supabase_stack, user)
    try:
        add_thread(other.ctx.db, "From the other device", [("user", "hi")])
        other.ctx.db.notify_changed({"conversations", "messages"})
        wait_synced(qtbot, other)
    finally:
        close_window(other)
    # The pull of conversations is held 8 s at the server: the token it carries (6 s) expires meanwhile.
    supabase_stack.faults.delay("GET", "/rest/v1/conversations", 8.0, times=1)
    w = open_device(qtbot, tmp_path / "w", memory_keyring, supabase_stack, user)
    try:
        qtbot.waitUntil(lambda: w.ctx.sync.cycles >= 1, timeout=20_000)
        result = w.ctx.sync.status.last_result
        assert supabase_stack.faults.hits("delay") == 1
        assert result.state == "idle" and result.pulled >= 2, result
        assert w.ctx.sync.engine.sessions.refresh_count >= 1
        assert not w.footer.chip.text().startswith("⚠")
        qtbot.waitUntil(lambda: thread_titles(w) == ["From the other device"], timeout=5000)
    finally:
        close_window(w)


def test_a_refused_change_is_shown_with_its_reason_and_discard_restores_the_server_version(
        qtbot, tmp_path, memory_keyring, supabase_stack, settle):
    from desktop.pages.console import actions

    user = supabase_stack.new_user()
    w = open_device(qtbot, tmp_path / "w", memory_keyring, supabase_stack, user)
    try:
        cid = add_thread(w.ctx.db, "Original title", [("user", "hello")])
        w.ctx.db.notify_changed({"conversations", "messages"})
        wait_synced(qtbot, w)
        supabase_stack.faults.fail_next("PATCH", "/rest/v1/conversations", 403, {
            "code": "42501", "message": 'new row violates row-level security policy for table "conversations"',
            "details": None, "hint": None})
        console = w.pages["console"]
        actions.rename_thread(console, cid, "Refused title")
        qtbot.waitUntil(lambda: w.footer.chip.text() == "✕ 1 refused", timeout=15_000)
        assert thread_titles(w) == ["Refused title"]  # the user's edit stays visible meanwhile

        w.footer.chip.click()
        panel = w.sync_panel
        qtbot.waitUntil(lambda: panel.refused_list.count() == 1, timeout=5000)
        assert "row-level security" in panel.reason_label.text() and "[42501]" in panel.reason_label.text()
        assert "title: Refused title" in panel.attempt_view.toPlainText()
        panel.discard_selected(confirm=False)
        qtbot.waitUntil(lambda: thread_titles(w) == ["Original title"], timeout=10_000)
        assert "title: Original title" in panel.server_text
        qtbot.waitUntil(lambda: panel.refused_list.count() == 0, timeout=10_000)
        wait_synced(qtbot, w)
        assert says_synced(w)
        assert [r["title"] for r in server_rows(supabase_stack, "conversations", user[2])] == ["Original title"]
    finally:
        close_window(w)


def test_retry_sends_a_refused_change_again_once_the_server_takes_it(
        qtbot, tmp_path, memory_keyring, supabase_stack):
    from desktop.pages.console import actions

    user = supabase_stack.new_user()
    w = open_device(qtbot, tmp_path / "w", memory_keyring, supabase_stack, user)
    try:
        cid = add_thread(w.ctx.db, "First title", [("user", "hello")])
        w.ctx.db.notify_changed({"conversations", "messages"})
        wait_synced(qtbot, w)
        supabase_stack.faults.fail_next("PATCH", "/rest/v1/conversations", 400, {
            "code": "23514", "message": 'new row for relation "conversations" violates check constraint',
            "details": None, "hint": None})
        actions.rename_thread(w.pages["console"], cid, "Second title")
        qtbot.waitUntil(lambda: w.footer.chip.text() == "✕ 1 refused", timeout=15_000)
        panel = w.open_sync_panel()
        qtbot.waitUntil(lambda: panel.refused_list.count() == 1, timeout=5000)
        assert panel.refused_list.item(0).text().startswith("Edit of a thread · ")
        panel.retry_button.click()  # the server would take it now (the refusal was a one-off)
        qtbot.waitUntil(lambda: [r["title"] for r in server_rows(supabase_stack, "conversations", user[2])]
                        == ["Second title"], timeout=15_000)
        wait_synced(qtbot, w)
        qtbot.waitUntil(lambda: panel.refused_list.count() == 0, timeout=5000)
    finally:
        close_window(w)


def test_sign_in_needed_offers_signing_in_again_and_sync_resumes(
        qtbot, tmp_path, memory_keyring, supabase_stack):
    import time

    from PySide6.QtCore import Qt

    from tests.desktop.sync_windows import fill_sign_in

    supabase_stack.set_access_token_ttl(2)
    user = supabase_stack.new_user()
    w = open_device(qtbot, tmp_path / "w", memory_keyring, supabase_stack, user)
    try:
        wait_synced(qtbot, w)
        supabase_stack.revoke_refresh_tokens(user[2])  # e.g. "sign out everywhere" on another device
        time.sleep(2.1)  # the access token expires; its refresh is refused
        sync_now(qtbot, w)
        qtbot.waitUntil(lambda: w.footer.chip.text() == "⚠ Sign-in needed", timeout=10_000)
        assert w.footer.sign_in_again_action.isVisible()
        panel = w.open_sync_panel()
        assert panel.sign_in_button.isVisible()
        supabase_stack.set_access_token_ttl(3600)
        panel.sign_in_button.click()
        dialog = w.sign_in_dialog
        qtbot.waitUntil(dialog.isVisible, timeout=3000)
        assert dialog.email_edit.text() == user[0] and dialog.url_edit.text() == supabase_stack.url
        fill_sign_in(qtbot, dialog, supabase_stack.url, supabase_stack.anon_key, user[0], user[1])
        with qtbot.waitSignal(w.ready, timeout=20_000):
            qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
        wait_synced(qtbot, w)
        assert says_synced(w) and not w.footer.sign_in_again_action.isVisible()
    finally:
        close_window(w)
