"""The chip when the server is there but not right: it accepts and never answers (Offline · N waiting
after the deadline, and it stays so while retrying), or the project changed its anon key (said so,
not "your session ended"; signing in again with the new key resumes sync)."""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import Qt

from standin.demo.seed import add_thread
from sync import rest
from tests.desktop.sync_windows import close_window, fill_sign_in, open_device, sync_now, wait_synced
from tests.sync.helpers import server_rows


def test_a_hung_server_makes_the_chip_say_offline_and_the_changes_wait(
        qtbot, tmp_path, memory_keyring, supabase_stack, faulty_proxy, monkeypatch):
    monkeypatch.setattr(rest, "REQUEST_DEADLINE", 1.0, raising=False)
    user = supabase_stack.new_user()
    project = SimpleNamespace(url=faulty_proxy.url, anon_key=supabase_stack.anon_key)
    w = open_device(qtbot, tmp_path / "w", memory_keyring, project, user)
    try:
        wait_synced(qtbot, w)
        faulty_proxy.hang("/rest/v1/")  # accepts every request, answers none
        add_thread(w.ctx.db, "Written while the server hangs", [("user", "first")])
        w.ctx.db.notify_changed({"conversations", "messages"})
        qtbot.waitUntil(lambda: w.footer.chip.text() == "○ Offline · 2 waiting", timeout=10_000)
        assert "did not answer in time" in w.footer.chip.toolTip()
        # The scheduler retries (backoff); while it does, the chip keeps saying Offline, not "Syncing…".
        shown: list[str] = []
        w.ctx.sync.status_changed.connect(lambda _s: shown.append(w.footer.chip.text()))
        cycles = w.ctx.sync.cycles
        qtbot.waitUntil(lambda: w.ctx.sync.cycles >= cycles + 1, timeout=10_000)
        assert shown and all(text.startswith("○ Offline") for text in shown), shown
        assert server_rows(supabase_stack, "conversations", user[2]) == []
        faulty_proxy.clear()
        sync_now(qtbot, w)
        wait_synced(qtbot, w)
        [row] = server_rows(supabase_stack, "conversations", user[2])
        assert row["title"] == "Written while the server hangs"
    finally:
        close_window(w)


def test_a_project_that_changed_its_anon_key_is_said_so_and_a_new_sign_in_resumes(
        qtbot, tmp_path, memory_keyring, supabase_stack, restartable_standin):
    from standin import tokens

    user = supabase_stack.new_user()
    w = open_device(qtbot, tmp_path / "w", memory_keyring, restartable_standin, user)
    try:
        wait_synced(qtbot, w)
        base = supabase_stack._standin
        new_key = tokens.access_token(base.jwt_secret, {"iss": "supabase-demo", "role": "anon",
                                                        "exp": 1983812996, "ref": "rotated"})
        restartable_standin.stop()
        restartable_standin.start(anon_key=new_key)  # the project rotated its anon key
        add_thread(w.ctx.db, "Written after the key changed", [("user", "x")])
        w.ctx.db.notify_changed({"conversations", "messages"})
        qtbot.waitUntil(lambda: w.footer.chip.text() == "⚠ Project key changed · 2 waiting", timeout=15_000)
        assert "the project changed its key" in w.footer.chip.toolTip()
        assert "Invalid API key" in w.ctx.sync.status.detail and "session" not in w.footer.chip.toolTip().lower()[:60]
        assert w.footer.sign_in_again_action.isVisible()
        panel = w.open_sync_panel()
        assert panel.sign_in_button.isVisible() and "changed its key" in panel.state_label.text()
        panel.sign_in_button.click()
        dialog = w.sign_in_dialog
        qtbot.waitUntil(dialog.isVisible, timeout=3000)
        fill_sign_in(qtbot, dialog, restartable_standin.url, new_key, user[0], user[1])
        with qtbot.waitSignal(w.ready, timeout=20_000):
            qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
        wait_synced(qtbot, w)
        assert w.footer.chip.text().startswith("✓ Synced") or w.footer.chip.text() == "● Live"
        assert [r["title"] for r in server_rows(supabase_stack, "conversations", user[2])] == [
            "Written after the key changed"]
    finally:
        close_window(w)
