"""`mirari` logs to a private file beside a chosen data dir; a key inside an error reaches neither that
file nor the status line."""

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from tests.portable import mode_of, shown_mode


def test_a_failure_carrying_a_key_is_logged_redacted_to_a_private_file(qtbot, tmp_path):
    from mirari.main import main

    from desktop.bus import bus
    from desktop.ops import Op
    from desktop.window.main_window import MainWindow

    key = "sk-live-0123456789abcdefXYZ"
    seen = []

    def fail():
        raise RuntimeError(f"HTTP 401 from https://api.example/v1 with Authorization: Bearer {key}")

    def poll():
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow) and widget.isVisible() and widget.pages:
                def shown(_text, window=widget):
                    seen.append(window.statusBar().currentMessage())
                    bus.error.disconnect(shown)
                    window.close()
                bus.error.connect(shown)
                Op(widget, fail, "Testing the connection").run()  # no failure handler: logged + status line
                return
        QTimer.singleShot(20, poll)

    QTimer.singleShot(20, poll)
    assert main(["--data-dir", str(tmp_path)]) == 0
    assert seen and "401" in seen[0] and key not in seen[0]  # not on screen either (screen sharing)
    log_file = tmp_path / "logs" / "mirari.log"
    text = log_file.read_text("utf-8")
    assert "Testing the connection failed" in text and "RuntimeError" in text  # the traceback is there
    assert key not in text and "0123456789abcdef" not in text
    assert mode_of(log_file) == shown_mode(0o600)
    assert mode_of(log_file.parent) == shown_mode(0o700, directory=True)


def test_settings_shows_where_the_log_is(qtbot, tmp_path, memory_keyring):
    import logging

    from agent.logging_setup import configure_logging, remove_logging
    from sync.secrets import SecretStore
    from tests.desktop.conftest import close_window, open_window

    level = logging.getLogger().level
    path = configure_logging(tmp_path / "logs", console=False)
    try:
        window = open_window(qtbot, tmp_path, SecretStore(tmp_path, backend=memory_keyring))
        try:
            assert str(path) in window.show_page("settings").log_label.text()
        finally:
            close_window(window)
    finally:
        remove_logging()
        logging.getLogger().setLevel(level)
