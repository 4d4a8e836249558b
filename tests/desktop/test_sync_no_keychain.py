"""Two windows on a machine without an OS keychain: the sign-in dialog offers where to keep the session
(an encrypted key file, or memory only), the catalogue works while signed in, a restart with the key
file locked asks for its passphrase once (never "Sync error"), and a key that cannot be stored is said
in a dialog."""

from __future__ import annotations

import uuid

import keyring
import keyring.backends.fail
import pytest
from PySide6.QtCore import Qt

from agent.templates import publish
from local_schema.models import AgentConnection, Skill
from standin.demo.seed import add_thread
from sync.secrets import SecretStore
from tests.desktop.conftest import open_window
from tests.desktop.sync_windows import close_window, fill_sign_in, thread_titles, wait_synced
from tests.sync.helpers import Device

PASSPHRASE = "correct horse battery"


@pytest.fixture
def no_keychain():
    """This machine has no OS keychain at all (keyring answers with its fail backend everywhere)."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


def _keychainless_window(qtbot, data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    return open_window(qtbot, data_dir, SecretStore(data_dir, backend=keyring.backends.fail.Keyring()))


def _sign_in(qtbot, window, stack, user, choose) -> None:
    window.sign_in()
    dialog = window.sign_in_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=3000)
    fill_sign_in(qtbot, dialog, stack.url, stack.anon_key, user[0], user[1])
    choose(dialog.store_choice)
    with qtbot.waitSignal(window.ready, timeout=20_000):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


def _publish_public_template(stack, tmp_path) -> tuple[str, str]:
    """Another user's public template on the server (made while a keychain still answers)."""
    author = Device(stack, tmp_path / "author")
    author.engine.sign_in(*stack.new_user()[:2])
    tag = uuid.uuid4().hex[:10]
    with author.db.write() as s:
        skill = Skill(name=f"Jazz {tag}", template_prompt="Talk like a jazz critic.", status="promoted")
        s.add(skill)
    public = publish.publish(author.db, f"Jazz pack {tag}", "For jazz fans", "music", [skill.id], is_public=True)
    author.sync()
    author.close()
    return tag, public.id


def test_a_fresh_device_without_a_keychain_signs_in_syncs_browses_and_restarts_locked(
        qtbot, tmp_path, supabase_stack, settle, request):
    tag, template_id = _publish_public_template(supabase_stack, tmp_path)
    request.getfixturevalue("no_keychain")
    user = supabase_stack.new_user()
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a = _keychainless_window(qtbot, a_dir)
    b = _keychainless_window(qtbot, b_dir)
    try:
        # A keeps its session in an encrypted key file, chosen in the sign-in dialog (no Settings visit).
        def encrypted_file(choice):
            assert choice.isVisible() and choice.file_choice.isChecked() and choice.repeat.isVisible()
            qtbot.keyClicks(choice.passphrase, PASSPHRASE)
            qtbot.keyClicks(choice.repeat, PASSPHRASE)

        _sign_in(qtbot, a, supabase_stack, user, encrypted_file)
        assert a.ctx.secrets.mode == "encrypted_file" and (a_dir / "api-keys.enc").exists()
        session = a.ctx.sync.engine.sessions.current()
        on_disk = b"".join(p.read_bytes() for p in a_dir.rglob("*") if p.is_file() and "sqlite" not in p.name)
        assert session.refresh_token.encode() not in on_disk  # encrypted, not plain text

        # B keeps it in memory only.
        def memory_only(choice):
            qtbot.mouseClick(choice.memory_choice, Qt.MouseButton.LeftButton)
            assert not choice.passphrase.isEnabled()

        _sign_in(qtbot, b, supabase_stack, user, memory_only)
        assert b.ctx.secrets.mode == "memory" and not (b_dir / "api-keys.enc").exists()

        # The two windows sync with each other.
        add_thread(a.ctx.db, "Written on A", [("user", "hello from A")])
        a.ctx.db.notify_changed({"conversations", "messages"})
        wait_synced(qtbot, a)
        with qtbot.waitSignal(b.ctx.sync.cycle_finished, timeout=20_000):
            b.ctx.sync.request_sync()  # (F5 reaches only the active window; A is the active one)
        qtbot.waitUntil(lambda: thread_titles(b) == ["Written on A"], timeout=10_000)

        # The catalogue uses the window's session: signed in here means signed in there.
        page = a.show_page("templates")
        catalogue = page.catalogue
        catalogue.search_edit.setText(tag)
        with qtbot.waitSignal(catalogue.page_shown, timeout=10_000):
            page.tabs.setCurrentWidget(catalogue)
        assert catalogue.list.count() == 1 and catalogue.current_entry().id == template_id
        assert not catalogue.notice.text().startswith("Sign in")
    finally:
        close_window(b)
        close_window(a)

    # A restarts: the key file is locked. The window asks for the passphrase once, at start-up.
    a = _keychainless_window(qtbot, a_dir)
    try:
        dialog = a.passphrase_dialog
        assert dialog is not None and dialog.isVisible()
        qtbot.waitUntil(lambda: a.ctx.sync.status.state == "locked", timeout=10_000)
        assert a.footer.chip.text() == "⚠ Key file locked"  # not "Sync error"
        assert a.footer.unlock_action.isVisible()
        qtbot.keyClicks(dialog.passphrase, "not the passphrase")
        qtbot.mouseClick(dialog.unlock_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "does not unlock" in dialog.message.text(), timeout=10_000)
        assert dialog.isVisible()
        dialog.passphrase.clear()
        qtbot.keyClicks(dialog.passphrase, PASSPHRASE)
        qtbot.keyClick(dialog.passphrase, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
        wait_synced(qtbot, a)
        assert a.footer.chip.text().startswith("✓ Synced")
        from desktop.dialogs.passphrase import PassphraseDialog

        assert len(a.findChildren(PassphraseDialog)) == 1  # asked once
        settings = a.show_page("settings")
        assert "Encrypted file (unlocked)" in settings.key_status.text()  # Settings heard of it
    finally:
        close_window(a)

    # B restarts: its session was kept in memory only, so it asks for a sign-in (not "Sync error").
    b = _keychainless_window(qtbot, b_dir)
    try:
        assert b.passphrase_dialog is None  # no key file here: nothing to unlock
        qtbot.waitUntil(lambda: b.ctx.sync.status.state == "sign-in needed", timeout=10_000)
        assert b.footer.chip.text() == "⚠ Sign-in needed"
        b.sign_in()  # "Sign in again…": the dialog offers the choice again
        qtbot.waitUntil(b.sign_in_dialog.isVisible, timeout=3000)
        assert b.sign_in_dialog.store_choice.isVisible() and b.sign_in_dialog.store_choice.memory_choice.isVisible()
        b.sign_in_dialog.reject()
    finally:
        close_window(b)


def test_a_key_that_cannot_be_stored_is_a_dialog_and_nothing_is_saved(qtbot, tmp_path, settle, no_keychain):
    window = _keychainless_window(qtbot, tmp_path)
    try:
        page = window.show_page("bind")
        qtbot.mouseClick(page.preset_buttons["Custom"], Qt.MouseButton.LeftButton)
        for edit, text in ((page.url_edit, "http://127.0.0.1:9/v1"), (page.model_edit, "m"),
                           (page.name_edit, "Keyless")):
            edit.clear()
            qtbot.keyClicks(edit, text)
        qtbot.keyClicks(page.key_edit, "sk-cannot-be-kept-anywhere")
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: getattr(page, "key_error_box", None) is not None
                        and page.key_error_box.isVisible(), timeout=10_000)
        box = page.key_error_box
        assert box.windowTitle() == "The API key could not be stored"
        assert box.text().startswith("Nothing was saved: No OS keychain is available")
        assert box.textFormat() == Qt.TextFormat.PlainText
        with window.ctx.db.session() as s:
            from sqlmodel import select

            assert s.exec(select(AgentConnection)).all() == []
        [open_settings] = [b for b in box.buttons() if b.text() == "Open Settings"]
        qtbot.mouseClick(open_settings, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.stack.currentWidget() is window.pages["settings"], timeout=3000)
    finally:
        close_window(window)


def test_a_key_file_made_by_the_window_unlocks_the_command_line(qtbot, tmp_path, supabase_stack, no_keychain,
                                                              monkeypatch, capsys):
    """`mirari account login`, `mirari sync` and `mirari templates browse` use the window's store: with
    MIRARI_KEY_PASSPHRASE they open the same encrypted file, session and all."""
    from mirari.main import main

    from sync import config

    user = supabase_stack.new_user()
    store = SecretStore(tmp_path, backend=keyring.backends.fail.Keyring())
    store.use_encrypted_file(PASSPHRASE)  # as the window's Settings or sign-in dialog would
    config.set_value(tmp_path, "supabase.url", supabase_stack.url)
    config.set_value(tmp_path, "supabase.anon_key", supabase_stack.anon_key)
    monkeypatch.setenv("MIRARI_PASSWORD", user[1])
    monkeypatch.delenv("MIRARI_KEY_PASSPHRASE", raising=False)
    assert main(["--data-dir", str(tmp_path), "account", "login", "--email", user[0]]) == 1
    assert "the encrypted key file is locked: set MIRARI_KEY_PASSPHRASE" in capsys.readouterr().err
    monkeypatch.setenv("MIRARI_KEY_PASSPHRASE", PASSPHRASE)
    assert main(["--data-dir", str(tmp_path), "account", "login", "--email", user[0]]) == 0
    assert main(["--data-dir", str(tmp_path), "sync"]) == 0
    assert main(["--data-dir", str(tmp_path), "templates", "browse", "--json"]) == 0
    out = capsys.readouterr().out
    assert "signed in as" in out and "idle:" in out
    # The window opens the same file with the same passphrase and finds the session there.
    window = _keychainless_window(qtbot, tmp_path)
    try:
        dialog = window.passphrase_dialog
        qtbot.keyClicks(dialog.passphrase, PASSPHRASE)
        qtbot.mouseClick(dialog.unlock_button, Qt.MouseButton.LeftButton)
        wait_synced(qtbot, window)
        assert window.ctx.sync.status.email == user[0]
    finally:
        close_window(window)

