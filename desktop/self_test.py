"""`mirari --self-test`: prove a build works end to end without touching the user's data.

Opens a fresh database in a temporary directory, builds the real window offscreen with every page,
waits for it to paint, prints one line per check and exits 0 only if all passed. Installers run it
after building (PyInstaller misses a module → this fails loudly instead of the user's first launch).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def run_self_test() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.perf_counter()
    checks: list[tuple[str, bool, str]] = []
    with tempfile.TemporaryDirectory(prefix="mirari-self-test-") as tmp:
        try:
            from desktop.app import build_window, ensure_app
            from desktop.ops import wait_idle

            app = ensure_app([sys.argv[0]])
            from agent.secrets import SecretStore

            secrets = SecretStore(Path(tmp))
            secrets.use_memory_only()  # never touch the user's real keychain from a self-test
            window = build_window(Path(tmp), secrets=secrets)
            window.show()
            deadline = time.monotonic() + 20
            while not window.pages and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.01)
            checks.append(("database opened and pages built", bool(window.pages), str(window.ctx.db and window.ctx.db.path)))
            wait_idle()
            for key, page in window.pages.items():
                checks.append((f"page {key}", page.isWidgetType(), type(page).__name__))
            import keyring
            from pygments import __version__ as pygments_version

            checks.append(("pygments", True, pygments_version))
            checks.append(("keyring backend", True, type(keyring.get_keyring()).__name__))
            window.close()
            wait_idle()
            if window.ctx.db is not None:
                window.ctx.db.close()
        except Exception as exc:  # noqa: BLE001 - the self-test reports, it does not crash
            checks.append(("start-up", False, f"{type(exc).__name__}: {exc}"))
    ok = all(passed for _, passed, _ in checks)
    for name, passed, detail in checks:
        print(f"{'ok  ' if passed else 'FAIL'} {name}: {detail}")
    print(f"self-test {'passed' if ok else 'FAILED'} in {time.perf_counter() - started:.2f} s")
    return 0 if ok else 1
