"""Start-up in one short, explicit order: paths, QApplication, theme, window, then the database
opens off the UI thread and the pages are built when it is ready."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from desktop.context import AppContext
from desktop.settings_store import AppSettings

log = logging.getLogger(__name__)


def ensure_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("MIRARI")
    app.setOrganizationName("MIRARI")
    app.setApplicationDisplayName("MIRARI")
    # Matches the installed mirari.desktop, so Wayland/X11 docks group the window under our icon.
    app.setDesktopFileName("mirari")
    app.setWindowIcon(QIcon(str(Path(__file__).with_name("assets") / "mirari.svg")))
    return app


def open_data(ctx: AppContext) -> None:
    """Runs on a pool thread: find the key store (keyring may probe D-Bus) and open the active
    database (integrity check, backup, migrations) — neither may delay the first paint. The active
    database is the signed-in account's (`mirari account login` may have moved the signed-out rows
    there), else the signed-out `local.sqlite3`."""
    from local_schema.database import open_database
    from local_schema.paths import database_path
    from sync.accounts import app_lock, load_state
    from sync.filelock import LockTimeout

    if ctx.secrets is None:
        from sync.keychain import NO_KEYCHAIN
        from sync.secrets import SecretStore

        ctx.secrets = SecretStore(ctx.data_dir)  # never raises: a broken keychain only makes keys unavailable
        problem = ctx.secrets.problem
        if problem and problem != NO_KEYCHAIN:  # (that one Settings, Bind and the sign-in dialog explain)
            from desktop.bus import bus

            bus.notice.emit(f"API keys and the sync session are unavailable: {problem}. Everything else works; "
                            "choose an encrypted key file or memory-only keys in Settings (or when signing in).")
    if ctx.app_lock is None:  # already held when the database is reopened (Recover…)
        lock = app_lock(ctx.data_dir)
        try:
            lock.acquire(timeout=0)  # a command-line first sign-in must not move the file under us
            ctx.app_lock = lock
        except LockTimeout:
            log.warning("another MIRARI window already has %s open", ctx.data_dir)
    state = load_state(ctx.data_dir)
    ctx.account_email = state.email if state.active_account else None
    ctx.db = open_database(database_path(ctx.data_dir, state.active_account))
    import agent.observatory.stats  # noqa: F401 - the home screen counts as soon as the pages exist
    import sync.engine  # noqa: F401 - ... and shows the sync state
    import sync.parked  # noqa: F401 - ... with its counts (it loads the SQLModel classes: ~0.2 s)


def warm_up() -> None:
    """Runs on a pool thread once the window is ready: what the first chat turn needs (the LLM client,
    httpx, the attachments' request content: ~0.35 s of imports) is loaded before anyone presses Send,
    without delaying "ready" — the home screen does not need it."""
    import agent.chat.turn  # noqa: F401


def build_window(data_dir: Path, secrets=None, app_lock=None):
    """The main window for `data_dir`; the database starts opening at once. Returns the window.
    `app_lock`: the data dir's app lock, already held (run_gui takes it before anything is shown)."""
    from desktop import theme
    from desktop.background import settle_heap
    from desktop.ops import Op
    from desktop.window.main_window import MainWindow

    app = ensure_app()
    settings = AppSettings(data_dir)
    theme.apply_theme(app, settings.theme)
    ctx = AppContext(data_dir=data_dir, settings=settings, secrets=secrets, app_lock=app_lock)
    window = MainWindow(ctx)

    def follow_os(_scheme) -> None:
        if ctx.settings.theme == "system":
            theme.apply_theme(app, "system")
            window.update()

    app.styleHints().colorSchemeChanged.connect(follow_os)
    # Start-up is over once the first turn's imports are in too: then the heap settles
    # (desktop.background.settle_heap), whether or not they could be loaded.
    window.ready.connect(lambda: Op(window, warm_up, "Loading the chat client").success(
        lambda _r: settle_heap()).failure(lambda _e: settle_heap()).run())
    Op(window, lambda: open_data(ctx), "Opening the database").success(
        lambda _r: window.database_ready()
    ).failure(window.database_failed).run()  # the exception itself: a damaged file offers Recover
    return window


def _install_excepthook():
    """An unexpected error in a slot is logged and shown in the status line instead of vanishing.
    Returns the previous hook so run_gui can put it back."""
    from desktop.bus import bus

    previous = sys.excepthook

    def hook(kind, value, tb) -> None:
        log.error("unexpected error", exc_info=(kind, value, tb))
        try:
            bus.error.emit(f"Unexpected error: {value}")
        except RuntimeError:
            previous(kind, value, tb)

    sys.excepthook = hook
    return previous


def run_gui(args) -> int:
    from agent.logging_setup import configure_logging, default_log_dir, remove_logging
    from local_schema.paths import DATA_DIR_ENV, resolve_data_dir

    app = ensure_app()
    try:
        data_dir = resolve_data_dir(getattr(args, "data_dir", None))
    except OSError as exc:
        print(f"mirari: cannot use the data directory: {exc}", file=sys.stderr)
        return 2
    # Redacting handlers and a private rotating file; a chosen data dir keeps its logs beside it.
    chosen = getattr(args, "data_dir", None) or os.environ.get(DATA_DIR_ENV)
    configure_logging(default_log_dir(data_dir if chosen else None))
    try:
        return _run_window(app, data_dir)
    finally:
        remove_logging()


ALREADY_OPEN = ("MIRARI already has this data folder open ({path}), in another window or a command that "
                "is still running. Use that window (or wait for the command), then start MIRARI again.")


def _claim_data_dir(data_dir: Path):
    """The data dir's app lock, or None when another MIRARI has the folder (its window was brought to
    the front, or a message said so). Only one window per data dir: a second would fight the first."""
    from desktop import single_instance
    from sync.accounts import app_lock
    from sync.filelock import LockTimeout

    if single_instance.knock(data_dir):
        print(f"mirari: MIRARI is already open for {data_dir}: its window was brought to the front.")
        return None
    lock = app_lock(data_dir)
    try:
        lock.acquire(timeout=0)
        return lock
    except LockTimeout:
        pass
    if single_instance.knock(data_dir, wait=single_instance.STARTING_WAIT):  # a window still starting
        print(f"mirari: MIRARI is already open for {data_dir}: its window was brought to the front.")
        return None
    from desktop.safe_text import inform

    message = ALREADY_OPEN.format(path=data_dir)
    print(f"mirari: {message}", file=sys.stderr)
    inform(None, "MIRARI is already open", message)
    return None


def _run_window(app: QApplication, data_dir: Path) -> int:
    from desktop import single_instance

    lock = _claim_data_dir(data_dir)
    if lock is None:
        return 0
    previous_hook = _install_excepthook()
    window = build_window(data_dir, app_lock=lock)
    server = single_instance.serve(window, data_dir)
    window.show()
    try:
        code = app.exec()
    finally:
        sys.excepthook = previous_hook
        server.close()
    # A reply stopped by closing the window is still being saved by its worker: let it finish.
    from desktop.ops import pool

    pool().waitForDone(10_000)
    window.backups.backup_on_quit()  # when something changed since the last backup
    window.ctx.close_data()
    return code
