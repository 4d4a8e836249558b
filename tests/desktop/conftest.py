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
