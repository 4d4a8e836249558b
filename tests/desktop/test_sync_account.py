"""Signing in, out and as someone else from the open window: the first sign-in claims the signed-out
rows (the window closes, moves and reopens its database itself), and no row ever crosses accounts."""

from __future__ import annotations

from PySide6.QtCore import Qt

from standin.demo.seed import add_thread
from sync import accounts
from tests.desktop.sync_windows import (
    close_window,
    fill_sign_in,
    open_device,
    thread_titles,
    wait_synced,
)
from tests.sync.helpers import server_rows


def sign_in_from_window(qtbot, window, stack, user, create: bool = False) -> None:
    window.sign_in()
    dialog = window.sign_in_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=3000)
    fill_sign_in(qtbot, dialog, stack.url, stack.anon_key, user[0], user[1])
    with qtbot.waitSignal(window.ready, timeout=20_000):
        qtbot.mouseClick(dialog.create_button if create else dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


def test_sign_in_claim_sign_out_and_another_account_in_the_open_window(
        qtbot, tmp_path, memory_keyring, supabase_stack, settle, monkeypatch):
    from desktop import sync_controller

    monkeypatch.setattr(sync_controller, "INTERVAL", 2.0)
    first, second = supabase_stack.new_user(), supabase_stack.new_user()
    data_dir = tmp_path / "device"
    w = open_device(qtbot, data_dir, memory_keyring)  # not configured, never signed in
    try:
        assert w.footer.account_button.text() == "Sign in…" and not w.footer.chip.isVisible()
        add_thread(w.ctx.db, "Written before signing in", [("user", "hello"), ("assistant", "hi")])
        w.pages["console"].refresh_threads()
        settle()
        old_db = w.ctx.db

        sign_in_from_window(qtbot, w, supabase_stack, first)
        assert w.ctx.db is not old_db  # closed, moved, reopened
        assert w.ctx.db.path == (data_dir / "accounts" / f"{first[2]}.sqlite3").resolve()
        assert not (data_dir / "local.sqlite3").exists()
        qtbot.waitUntil(lambda: thread_titles(w) == ["Written before signing in"], timeout=5000)
        wait_synced(qtbot, w)
        assert [r["title"] for r in server_rows(supabase_stack, "conversations", first[2])] == [
            "Written before signing in"]  # claimed: pushed as the first account's
        assert w.footer.account_button.text().startswith(first[0])

        # Sign out, keeping the data: sync stops, the rows stay shown.
        from desktop.window.account import sign_out

        sign_out(w, remove_data=False)
        qtbot.waitUntil(lambda: not w.ctx.sync.status.signed_in, timeout=10_000)
        assert w.footer.account_button.text() == "Sign in…" and not w.footer.chip.isVisible()
        assert thread_titles(w) == ["Written before signing in"] and w.ctx.sync.scheduler is None

        # Another account: its own, empty database; the first account's rows are neither shown nor pushed.
        sign_in_from_window(qtbot, w, supabase_stack, second)
        assert w.ctx.db.path == (data_dir / "accounts" / f"{second[2]}.sqlite3").resolve()
        settle()
        assert thread_titles(w) == []
        add_thread(w.ctx.db, "Second account's thread", [("user", "mine")])
        w.ctx.db.notify_changed({"conversations", "messages"})  # add_thread writes raw SQL
        wait_synced(qtbot, w)
        assert [r["title"] for r in server_rows(supabase_stack, "conversations", second[2])] == [
            "Second account's thread"]
        assert [r["title"] for r in server_rows(supabase_stack, "conversations", first[2])] == [
            "Written before signing in"]
        assert accounts.load_state(data_dir).active_account == second[2]
    finally:
        close_window(w)


def test_sign_out_removing_the_data_reopens_an_empty_signed_out_database(
        qtbot, tmp_path, memory_keyring, supabase_stack, settle):
    user = supabase_stack.new_user()
    data_dir = tmp_path / "device"
    w = open_device(qtbot, data_dir, memory_keyring, supabase_stack, user)
    try:
        add_thread(w.ctx.db, "Soon gone from here", [("user", "x")])
        account_db = w.ctx.db.path
        from desktop.window.account import sign_out

        with qtbot.waitSignal(w.ready, timeout=20_000):
            sign_out(w, remove_data=True)
        assert not account_db.exists()
        assert w.ctx.db.path == (data_dir / "local.sqlite3").resolve()
        settle()
        assert thread_titles(w) == [] and not w.ctx.sync.status.signed_in
    finally:
        close_window(w)


def test_sign_in_dialog_says_what_is_wrong_in_plain_words(qtbot, tmp_path, memory_keyring, supabase_stack):
    user = supabase_stack.new_user()
    w = open_device(qtbot, tmp_path / "d", memory_keyring)
    try:
        w.sign_in()
        dialog = w.sign_in_dialog

        def attempt(url, key, email, password, create=False) -> str:
            fill_sign_in(qtbot, dialog, url, key, email, password)
            before = dialog.message.text()
            qtbot.mouseClick(dialog.create_button if create else dialog.sign_in_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: dialog.sign_in_button.isEnabled() and dialog.message.text() != before,
                            timeout=15_000)
            return dialog.message.text()

        stack, key = supabase_stack, supabase_stack.anon_key
        assert attempt(stack.url, key, user[0], "not-the-password") == "Wrong email or password."
        assert "does not accept that key" in attempt(stack.url, "wrong-key", user[0], user[1])
        assert "does not answer like a Supabase project" in attempt(stack.url + "/somewhere", key, user[0], user[1])
        assert "Cannot reach 127.0.0.1:9" in attempt("http://127.0.0.1:9", key, user[0], user[1])
        assert attempt(stack.url, key, "new-" + user[0], "123", create=True).startswith(
            "This password is too weak: password should be at least 6 characters")
        assert attempt(stack.url, key, user[0], user[1], create=True) == (
            "An account with this email already exists: sign in instead.")
        stack.faults.fail_next("POST", "/auth/v1/token", 400, {
            "code": 400, "error_code": "email_not_confirmed", "msg": "Email not confirmed"})
        assert attempt(stack.url, key, user[0], user[1]).startswith("This email address is not confirmed yet")
        stack.faults.fail_next("POST", "/auth/v1/token", 429, {
            "code": 429, "error_code": "over_request_rate_limit", "msg": "Request rate limit reached"})
        assert attempt(stack.url, key, user[0], user[1]) == "Too many attempts: wait a minute, then try again."
        assert w.ctx.sync.status.signed_in is False and w.ctx.db.path.name == "local.sqlite3"  # nothing changed
        # A project URL pasted with its API path is taken as the project itself.
        fill_sign_in(qtbot, dialog, stack.url + "/rest/v1/", key, user[0], user[1])
        with qtbot.waitSignal(w.ready, timeout=20_000):
            qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
        from sync import config

        assert config.get_value(w.ctx.data_dir, "supabase.url") == stack.url
    finally:
        close_window(w)
