"""Desktop tests drive the real window offscreen, on a real SQLite file in tmp_path, with an in-memory
keyring (never the developer's keychain) and, where a turn is needed, the real fake_llm HTTP server."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _only_the_test_keychain(memory_keyring):
    """Every desktop test, even one that builds its own SecretStore, sees only the in-memory keychain."""
    return memory_keyring


def open_window(qtbot, data_dir, secrets, size=(1100, 720)):
    from desktop.app import build_window
    from desktop.ops import wait_idle

    window = build_window(data_dir, secrets=secrets)
    qtbot.addWidget(window)
    if size is not None:
        window.resize(*size)
    window.show()
    qtbot.waitUntil(lambda: bool(window.pages), timeout=10_000)
    wait_idle()
    return window


def close_window(window) -> None:
    from desktop.ops import wait_idle

    console = window.pages.built().get("console")  # (a page never shown was never built)
    if console is not None and console.turns.runner is not None:
        console.turns.stop()
        from PySide6.QtCore import QCoreApplication

        for _ in range(200):
            if not console.turns.busy:
                break
            QCoreApplication.processEvents()
            wait_idle(50)
    window.close()
    wait_idle()
    window.ctx.close_data()


@pytest.fixture
def window(qtbot, tmp_path, memory_keyring):
    from sync.secrets import SecretStore

    w = open_window(qtbot, tmp_path, SecretStore(tmp_path, backend=memory_keyring))
    yield w
    close_window(w)


@pytest.fixture
def settle(qtbot):
    """Wait until every background op has delivered its result to the UI thread."""
    from desktop.ops import wait_idle

    def run(extra_ms: int = 0) -> None:
        assert wait_idle(10_000), "background operations did not finish"
        if extra_ms:
            qtbot.wait(extra_ms)

    return run


@pytest.fixture
def restartable_standin(supabase_stack_session):
    """A second stand-in over the session's database and keys, on a port of its own, that a test can
    stop and start again (the shared one must keep serving the other tests)."""
    from standin.cluster import free_port
    from standin.server import StandIn

    base = supabase_stack_session._standin
    port = free_port()

    class Handle:
        url = f"http://127.0.0.1:{port}"
        anon_key = base.anon_key
        server = None

        def start(self, anon_key: str | None = None):
            """`anon_key`: the project's new key (as after rotating it in the dashboard)."""
            server = StandIn(admin_dsn=base.admin_dsn, rest_dsn=base.rest_dsn, port=port)
            server.jwt_secret, server.anon_key = base.jwt_secret, anon_key or base.anon_key
            server.service_role_key = base.service_role_key
            self.server = server.start_in_thread()

        def stop(self):
            if self.server is not None:
                self.server.stop()
                self.server = None

    handle = Handle()
    handle.start()
    yield handle
    handle.stop()
_TRAP = r"""
import os, sys, time
fifo, log = sys.argv[1], sys.argv[2]
while True:
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # succeeds only while a reader has it open
    except OSError:
        time.sleep(0.002)
        continue
    with open(log, "a") as out:
        out.write("opened\n")
    os.close(fd)  # the reader sees an empty file and goes on: the test fails instead of hanging
"""


class FifoTrap:
    """A named pipe that tells whether anything opened it. Opening a FIFO to read blocks until a
    writer comes (with the GIL held, inside Qt), so a separate process plays the writer: it notes
    every open and closes at once."""

    def __init__(self, directory):
        import subprocess
        import sys
        import time

        self.path = directory / "endless-device"
        self._log = directory / "fifo-opens.log"
        os.mkfifo(self.path)
        self._log.write_text("")
        self._process = subprocess.Popen([sys.executable, "-c", _TRAP, str(self.path), str(self._log)])
        time.sleep(0.2)  # the interpreter is up and polling

    def opens(self) -> int:
        return self._log.read_text().count("opened")

    def close(self) -> None:
        self.path.unlink()  # first: an open after this fails at once instead of waiting for a writer
        self._process.kill()
        self._process.wait()


@pytest.fixture
def fifo_trap(tmp_path):
    """(List it before `window`: it then outlives the window, whose closing paints once more.)"""
    if not hasattr(os, "mkfifo"):
        pytest.skip("named pipes (os.mkfifo) are POSIX only; the Linux and macOS jobs run this test")
    trap = FifoTrap(tmp_path)
    yield trap
    trap.close()
