"""A damaged database: the window says so, offers Recover, asks first, and on consent moves the file
aside (kept, never deleted) and opens the newest good backup — or leaves everything as it was."""

import sqlite3

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from local_schema.database import open_database
from standin.demo.seed import add_thread
from sync.secrets import SecretStore
from tests.desktop.conftest import close_window

GARBAGE = b"this is not a database" * 100


def _damaged_with_backup(data_dir):
    """local.sqlite3 holding a thread, a backup of it, then the file itself overwritten with garbage."""
    path = data_dir / "local.sqlite3"
    db = open_database(path)
    add_thread(db, "Before the crash", [("user", "keep me")])
    db.close()
    backup = data_dir / "local.sqlite3.20260101T000000000000Z.v1.bak"
    source, target = sqlite3.connect(path), sqlite3.connect(backup)
    source.backup(target)
    source.close()
    target.close()
    for suffix in ("-wal", "-shm"):
        (data_dir / f"local.sqlite3{suffix}").unlink(missing_ok=True)
    path.write_bytes(GARBAGE)
    return path


def _open_damaged(qtbot, data_dir, memory_keyring):
    from desktop.app import build_window

    window = build_window(data_dir, secrets=SecretStore(data_dir, backend=memory_keyring))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.recover_button.isVisible(), timeout=10_000)
    assert "Could not open your data" in window.placeholder.text()
    return window


def _answer(button_text: str | None):
    """Click a button of the confirmation box when it appears (None: Cancel)."""
    def click():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        assert "aside" in box.text() and "nothing is deleted" in box.text()
        for button in box.buttons():
            if (button_text is None and box.standardButton(button) == QMessageBox.StandardButton.Cancel) \
                    or button.text() == button_text:
                button.click()
                return
        raise AssertionError(f"no {button_text!r} button")
    QTimer.singleShot(20, click)


def test_recover_restores_the_newest_good_backup_and_keeps_the_damaged_file(qtbot, tmp_path, memory_keyring):
    path = _damaged_with_backup(tmp_path)
    window = _open_damaged(qtbot, tmp_path, memory_keyring)
    try:
        _answer("Move aside and recover")
        qtbot.mouseClick(window.recover_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(window.pages), timeout=10_000)
        console = window.pages["console"]
        qtbot.waitUntil(lambda: [t.title for t in console.threads.rows()] == ["Before the crash"], timeout=5000)
        assert window.nav.isEnabled() and not window.recover_button.isVisible()
        assert "Recovered from the backup local.sqlite3.20260101" in window.statusBar().currentMessage()
        (kept,) = tmp_path.glob("local.sqlite3.*.corrupt")
        assert kept.read_bytes() == GARBAGE  # moved aside byte for byte, not deleted
        assert path.read_bytes() != GARBAGE
    finally:
        close_window(window)


def test_cancelling_recover_changes_nothing(qtbot, tmp_path, memory_keyring):
    path = _damaged_with_backup(tmp_path)
    window = _open_damaged(qtbot, tmp_path, memory_keyring)
    _answer(None)
    qtbot.mouseClick(window.recover_button, Qt.MouseButton.LeftButton)
    assert path.read_bytes() == GARBAGE and not list(tmp_path.glob("*.corrupt"))
    assert window.recover_button.isVisible() and window.pages == {}
    window.close()


def test_without_a_backup_recover_starts_fresh_and_says_so(qtbot, tmp_path, memory_keyring):
    (tmp_path / "local.sqlite3").write_bytes(GARBAGE)
    window = _open_damaged(qtbot, tmp_path, memory_keyring)
    try:
        def check_and_confirm():
            box = QApplication.activeModalWidget()
            if not isinstance(box, QMessageBox):
                QTimer.singleShot(20, check_and_confirm)
                return
            assert "no backup exists" in box.text()
            next(b for b in box.buttons() if b.text() == "Move aside and recover").click()
        QTimer.singleShot(20, check_and_confirm)
        qtbot.mouseClick(window.recover_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(window.pages), timeout=10_000)
        assert "Started a fresh database" in window.statusBar().currentMessage()
        assert len(list(tmp_path.glob("local.sqlite3.*.corrupt"))) == 1
    finally:
        close_window(window)
