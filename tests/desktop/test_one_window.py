"""Only one window per data dir: a second start brings the running window to the front and exits, and
a start that finds the data dir held without an answer says plainly that it is open — never a second
window on the same files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop import single_instance
from sync.secrets import SecretStore
from tests.desktop.conftest import close_window, open_window

ROOT = Path(__file__).resolve().parents[2]


def _mirari(*args: str) -> subprocess.Popen:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "mirari", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_second_start_on_the_same_data_dir_brings_the_running_window_forward(
        qtbot, tmp_path, memory_keyring):
    window = open_window(qtbot, tmp_path, SecretStore(tmp_path, backend=memory_keyring))
    server = single_instance.serve(window, tmp_path)  # what run_gui does for its window
    shown: list[bool] = []
    server.show_requested.connect(lambda: shown.append(True))
    window.showMinimized()
    second = _mirari("--data-dir", str(tmp_path))
    try:
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=30_000)  # our loop answers its knock
        out, err = second.communicate()
        assert second.returncode == 0, err
        assert out.strip() == f"mirari: MIRARI is already open for {tmp_path}: its window was brought to the front."
        assert shown == [True] and not window.isMinimized()
        # Another data dir is another window's business: nobody answers there.
        assert not single_instance.knock(tmp_path / "elsewhere")
    finally:
        if second.poll() is None:
            second.kill()
        server.close()
        close_window(window)


def test_a_data_dir_held_without_an_answer_is_said_to_be_open_and_nothing_opens(
        qtbot, tmp_path, monkeypatch):
    """Another process holds the data dir (a window still starting, a command signing in): the start
    waits a moment for an answer, then says so in a dialog instead of opening a second window."""
    from desktop import app

    monkeypatch.setattr(single_instance, "STARTING_WAIT", 0.3)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from sync.accounts import app_lock; lock = app_lock(sys.argv[1]); "
        "lock.acquire(5); print('held', flush=True); time.sleep(60)"), str(tmp_path)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    seen: list[str] = []

    def answer_the_box() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            box.accept()
        else:
            QTimer.singleShot(50, answer_the_box)

    try:
        assert holder.stdout.readline().strip() == "held"
        QTimer.singleShot(50, answer_the_box)
        started = time.monotonic()
        assert app._claim_data_dir(tmp_path) is None
        assert time.monotonic() - started < 10
        assert seen == [app.ALREADY_OPEN.format(path=tmp_path)]
        assert not [w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow" and w.isVisible()]
    finally:
        holder.kill()
        holder.wait()
    lock = app._claim_data_dir(tmp_path)  # once the folder is free, the start goes ahead
    assert lock is not None
    lock.release()
