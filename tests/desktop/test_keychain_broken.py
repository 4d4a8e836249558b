"""A keychain that fails to load never stops the window from opening the data: the keys are unavailable,
a notice says why, and everything else works."""

from __future__ import annotations

import keyring
import keyring.core


def test_the_window_opens_the_data_with_a_broken_keychain_backend(qtbot, tmp_path, monkeypatch):
    from desktop.bus import bus
    from tests.desktop.conftest import close_window, open_window

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no_such_module.Keyring")  # a broken backend setting
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    notices: list[str] = []
    bus.notice.connect(notices.append)
    try:
        window = open_window(qtbot, tmp_path, secrets=None)  # the app finds its key store itself
        try:
            assert window.ctx.db is not None and "console" in window.pages  # not "Could not open your data"
            qtbot.waitUntil(lambda: any("unavailable" in n for n in notices), timeout=5000)
            assert "could not be loaded" in next(n for n in notices if "unavailable" in n)
            assert window.ctx.secrets.status().needs_choice
        finally:
            close_window(window)
    finally:
        bus.notice.disconnect(notices.append)
