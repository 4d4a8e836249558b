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

    console = window.pages.get("console")
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
    from tests.supabase_local.cluster import free_port
    from tests.supabase_local.server import StandIn

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
