"""Creating the encrypted key file asks for the passphrase twice (a typo would lock the keys away for
good) and refuses a trivially short one; unlocking an existing file asks once."""

import keyring.backends.fail
from PySide6.QtCore import Qt

from sync.secrets import SecretStore
from tests.desktop.conftest import close_window, open_window


def test_a_new_key_file_needs_the_passphrase_twice(qtbot, tmp_path, settle):
    store = SecretStore(tmp_path, backend=keyring.backends.fail.Keyring())
    window = open_window(qtbot, tmp_path, store)
    key_file = tmp_path / "api-keys.enc"
    try:
        settings = window.show_page("settings")
        assert settings.passphrase_repeat.isVisibleTo(settings)

        qtbot.keyClicks(settings.passphrase, "short")
        qtbot.keyClicks(settings.passphrase_repeat, "short")
        qtbot.mouseClick(settings.file_button, Qt.MouseButton.LeftButton)
        assert "at least 8" in settings.key_error.text() and not key_file.exists()

        settings.passphrase.clear()
        settings.passphrase_repeat.clear()
        qtbot.keyClicks(settings.passphrase, "correct horse battery")
        qtbot.keyClicks(settings.passphrase_repeat, "correct horse batery")
        qtbot.mouseClick(settings.file_button, Qt.MouseButton.LeftButton)
        settle()
        assert "do not match" in settings.key_error.text()
        assert not key_file.exists() and store.mode == "none"
        assert settings.passphrase.text() == "correct horse battery"  # only the repeat is asked again

        qtbot.keyClicks(settings.passphrase_repeat, "correct horse battery")
        with qtbot.waitSignal(settings.secrets_changed, timeout=10_000):
            qtbot.keyClick(settings.passphrase_repeat, Qt.Key.Key_Return)
        assert key_file.exists() and "Encrypted file (unlocked)" in settings.key_status.text()

        store.lock()
        settings.show_key_status()
        assert not settings.passphrase_repeat.isVisibleTo(settings)  # unlocking: asked once
        qtbot.keyClicks(settings.passphrase, "correct horse battery")
        with qtbot.waitSignal(settings.secrets_changed, timeout=10_000):
            qtbot.mouseClick(settings.file_button, Qt.MouseButton.LeftButton)
    finally:
        close_window(window)
