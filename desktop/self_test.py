"""`mirari --self-test`: prove a build works end to end without touching the user's data.

Run after every installer build (scripts/build-linux, the CI workflow, tests/packaging): PyInstaller
missing a module, a migration file, a Qt plugin or keyring's backend entry points then fails here,
loudly, instead of on the user's first launch. Each check prints one line; exit code 0 only if all
passed. Everything happens in a temporary directory: a fresh database, memory-only keys, throwaway
window settings. The window is built offscreen unless QT_QPA_PLATFORM says otherwise.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Modules loaded lazily at run time (by the sync commands, or on first use) that a frozen build could
# silently lack; importing them here proves they were bundled.
LAZY_MODULES = ("supabase", "supabase_auth", "postgrest", "httpx", "sync.keyfile", "sync.engine", "agent.chat.turn")
# pygments finds lexers and styles by name at run time; a missing one just means no colours, silently.
CODE_LANGUAGES = ("python", "javascript", "bash", "json", "sql", "rust")


def _version() -> str:
    from agent.cli.main import app_version

    version, frozen = app_version(), getattr(sys, "frozen", False)
    if frozen and version.startswith("0+unknown"):
        raise RuntimeError("the build has no mirari-desktop metadata, so it cannot tell its version")
    where = "frozen build" if frozen else "source tree"
    return f"mirari {version} ({where}, Python {sys.version.split()[0]}, {sys.platform})"


def _database(data_dir: Path) -> str:
    from local_schema.database import open_database
    from local_schema.migrations import LATEST_VERSION, user_version
    from local_schema.models import SYNCED_MODELS
    from local_schema.paths import database_path

    path = database_path(data_dir)
    db = open_database(path)
    try:
        with db.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version = user_version(raw)
            journal = raw.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        db.close()
    missing = sorted(({m.__tablename__ for m in SYNCED_MODELS} | {"sync_outbox", "messages_fts"}) - tables)
    if missing or version != LATEST_VERSION:
        raise RuntimeError(f"schema v{version} (want v{LATEST_VERSION}), missing tables: {missing}")
    return f"fresh {path.name} migrated to v{version}, {len(tables)} tables, journal {journal}"


def _keyring() -> str:
    """The backends keyring can see (entry points: empty if the bundle lost keyring's metadata) and
    the one it picked on this machine (a headless box legitimately has only the 'fail' backend)."""
    from importlib.metadata import entry_points

    import keyring

    from sync.secrets import backend_name, keychain_usable

    registered = sorted(ep.name for ep in entry_points(group="keyring.backends"))
    if not registered:
        raise RuntimeError("keyring sees no backend entry points (keyring metadata missing from the build)")
    for ep in entry_points(group="keyring.backends"):
        ep.load()  # the module must be bundled even when this OS will not use it
    active = keyring.get_keyring()
    usable = "usable" if keychain_usable(active) else "not usable: the app will offer its encrypted-file fallback"
    return f"backend {backend_name(active)} ({type(active).__module__}, {usable}); available: {', '.join(registered)}"


def _modules() -> str:
    import importlib

    for name in LAZY_MODULES:
        importlib.import_module(name)
    return ", ".join(LAZY_MODULES)


def _highlighting() -> str:
    from pygments.lexers import get_lexer_by_name
    from pygments.styles import get_style_by_name

    from desktop.theme import DARK, LIGHT

    for language in CODE_LANGUAGES:
        get_lexer_by_name(language)
    styles = (LIGHT.pygments_style, DARK.pygments_style)
    for style in styles:
        get_style_by_name(style)
    return f"lexers {', '.join(CODE_LANGUAGES)}; styles {', '.join(styles)}"


def _import_parser(folder: Path) -> str:
    """The export parser's C backend (a frozen build could lack the extension and fall back to the pure
    Python one, several times slower on a 500 MB export): a tiny export read through it."""
    from agent.imports.source import ExportFile, ijson_backend

    backend = ijson_backend.__name__.rsplit(".", 1)[-1]
    if backend != "yajl2_c":
        raise RuntimeError(f"ijson's C backend is missing (using {backend})")
    folder.mkdir()
    path = folder / "conversations.json"
    path.write_text('[{"id": "self-test", "mapping": {}}]', encoding="utf-8")
    with ExportFile(path) as export:
        count = sum(1 for _ in export.conversations())
    return f"ijson {backend}, {count} conversation read"


def _window(data_dir: Path) -> str:
    from desktop.app import build_window, ensure_app
    from desktop.ops import wait_idle
    from sync.secrets import SecretStore

    app = ensure_app([sys.argv[0]])
    data_dir.mkdir()
    secrets = SecretStore(data_dir)
    secrets.use_memory_only()  # never touch the user's real keychain from a self-test
    started = time.perf_counter()
    window = build_window(data_dir, secrets=secrets)
    window.show()
    deadline = time.monotonic() + 20
    while not window.pages and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    try:
        wait_idle()
        if not window.pages:
            raise RuntimeError(f"the pages were not built within 20 s: {window.placeholder.text()!r}")
        elapsed = time.perf_counter() - started
        pages = ", ".join(f"{key} ({type(page).__name__})" for key, page in window.pages.items())
        return (f"{type(window).__name__} {window.windowTitle()!r} on the {app.platformName()} platform, "
                f"ready in {elapsed:.2f} s; pages: {pages}")
    finally:
        # Pages built just now queued their first loads: run them while the database is open, not
        # after it is closed and the temp dir gone (their failures would reach the status line).
        app.processEvents()
        wait_idle()
        window.close()
        wait_idle()
        # The database and the data dir's app lock: Windows cannot delete the temp dir while either
        # is open.
        window.ctx.close_data()
        # Gone, not only hidden: its pages listen on the app-wide bus and would read a closed database
        # when a later window in this process (the test suite) writes.
        from PySide6.QtCore import QCoreApplication, QEvent

        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def run_self_test() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.perf_counter()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="mirari-self-test-") as tmp:
        checks: list[tuple[str, Callable[[], str]]] = [
            ("version", _version),
            ("database", lambda: _database(Path(tmp) / "db")),
            ("keyring", _keyring),
            ("modules", _modules),
            ("highlighting", _highlighting),
            ("import", lambda: _import_parser(Path(tmp) / "import")),
            ("window", lambda: _window(Path(tmp) / "window")),
        ]
        for name, check in checks:
            try:
                line = f"ok   {name}: {check()}"
            except Exception as exc:  # noqa: BLE001 - the self-test reports every failure, it does not crash
                failures += 1
                line = f"FAIL {name}: {type(exc).__name__}: {exc}"
            print(line, flush=True)
    verdict = "passed" if not failures else f"FAILED ({failures} of {len(checks)} checks)"
    print(f"self-test {verdict} in {time.perf_counter() - started:.2f} s", flush=True)
    return 0 if not failures else 1
