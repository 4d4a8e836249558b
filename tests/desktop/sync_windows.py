"""Windows that sync: real MainWindows on their own data dirs, against the Supabase stand-in.

Each "device" is a data dir with the stand-in's URL and anon key in its config.json; `open_device`
optionally signs it in headlessly first (the sign-in-from-the-window path has its own tests).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from sync import config
from tests.desktop.conftest import close_window, open_window


def configure(data_dir: Path, stack) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    config.set_value(data_dir, "supabase.url", stack.url)
    config.set_value(data_dir, "supabase.anon_key", stack.anon_key)
    return data_dir


def sign_in_headless(data_dir: Path, email: str, password: str) -> None:
    from sync.engine import SyncEngine

    engine = SyncEngine(data_dir)
    try:
        engine.sign_in(email, password)
    finally:
        engine.close()


def open_device(qtbot, data_dir: Path, memory_keyring, stack=None, user=None):
    """A window on `data_dir` (configured for `stack`, signed in as `user` = (email, password, id))."""
    from sync.secrets import SecretStore

    data_dir.mkdir(parents=True, exist_ok=True)
    if stack is not None:
        configure(data_dir, stack)
    if user is not None:
        sign_in_headless(data_dir, user[0], user[1])
    return open_window(qtbot, data_dir, SecretStore(data_dir, backend=memory_keyring))


def wait_synced(qtbot, window, timeout: int = 20_000) -> None:
    """Until a cycle ended idle with nothing waiting and nothing refused. The outbox itself is asked too:
    an idle cycle is one request now, so the one the window started on opening can end before a change
    written right after it is counted in the status (which would say "nothing waiting" a moment too soon)."""
    def done() -> bool:
        s = window.ctx.sync.status
        return (s.state == "idle" and not s.running and s.waiting == 0 and s.last_synced is not None
                and _pending(window) == 0)
    qtbot.waitUntil(done, timeout=timeout)


def says_synced(window) -> bool:
    """The chip's all-is-well: "✓ Synced 14:02", or "● Live" while the live connection is up."""
    text = window.footer.chip.text()
    return text.startswith("✓ Synced ") or text == "● Live"


def _pending(window) -> int:
    with window.ctx.db.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM sync_outbox WHERE state = 'pending'").scalar()


def sync_now(qtbot, window, timeout: int = 20_000):
    """Press F5 and wait for the cycle it starts; returns its CycleResult."""
    with qtbot.waitSignal(window.ctx.sync.cycle_finished, timeout=timeout) as cycle:
        qtbot.keyClick(window, Qt.Key.Key_F5)
    return cycle.args[0]


def fill_sign_in(qtbot, dialog, url: str, key: str, email: str, password: str) -> None:
    for edit, text in ((dialog.url_edit, url), (dialog.key_edit, key), (dialog.email_edit, email),
                       (dialog.password_edit, password)):
        edit.clear()
        qtbot.keyClicks(edit, text)


def thread_titles(window) -> list[str]:
    return [t.title for t in window.pages["console"].threads.rows()]


def shown_messages(window) -> list[tuple[str, str]]:
    return [(r.role, r.content) for r in window.pages["console"].transcript.rows()]


__all__ = ["close_window", "configure", "fill_sign_in", "open_device", "says_synced", "shown_messages",
           "sign_in_headless", "sync_now", "thread_titles", "wait_synced"]
