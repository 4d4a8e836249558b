"""The main window: the rites in a left navigation, one page each, status line at the bottom.

The database opens in the background; until it is ready the window shows a short "opening" note,
so the first paint never waits on an integrity check or a migration. A page is built when it is first
shown (desktop/window/pages.py); the window's app-wide services (jobs, sync, dreams, backups) live in
its AppContext, and pages ask for one another through `ctx.navigate` (desktop/pages/protocol.py).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop import background
from desktop.bus import bus, connect_database
from desktop.context import AppContext
from desktop.ops import Op
from desktop.pages.protocol import offers
from desktop.safe_text import Label, message_box, tip
from desktop.sync_controller import SyncController
from desktop.widgets.jobs_indicator import JobsIndicator
from desktop.widgets.sync_footer import SyncFooter
from desktop.window.pages import Pages

# (key, navigation label, "module:Class"), in navigation order. Only rites that work are listed; a new
# page adds one line here. Page modules are imported once the database is open (a fast first paint).
PAGES = (
    ("bind", "I   Bind", "desktop.pages.bind.page:BindPage"),
    ("console", "II  Console", "desktop.pages.console.page:ConsolePage"),
    ("memory", "III Memory Atlas", "desktop.pages.memory.page:MemoryPage"),
    ("skills", "IV  Skill Forge", "desktop.pages.skills.page:SkillsPage"),
    ("mirror", "V   Mirror", "desktop.pages.mirror.page:MirrorPage"),
    ("observatory", "VI  Observatory", "desktop.pages.observatory.page:ObservatoryPage"),
    ("tasks", "VI  Tasks", "desktop.pages.tasks.page:TasksPage"),
    ("dream", "VII Dream", "desktop.pages.dream.page:DreamPage"),
    ("knowledge", "◇   Knowledge", "desktop.pages.knowledge.page:KnowledgePage"),
    ("templates", "◆   Templates", "desktop.pages.templates.page:TemplatesPage"),
    ("tools", "⚒   Tools", "desktop.pages.tools.page:ToolsPage"),
    ("settings", "⚙   Settings", "desktop.pages.settings.page:SettingsPage"),
)
START_PAGE = "observatory"  # the home screen: every start opens here


def _page_class(spec: str):
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _first_tab_stop(page: QWidget) -> QWidget | None:
    """The first control inside `page` that Tab would reach."""
    widget = page.nextInFocusChain()
    while widget is not None and widget is not page:
        if (page.isAncestorOf(widget) and widget.focusPolicy() & Qt.FocusPolicy.TabFocus
                and widget.isVisibleTo(page) and widget.isEnabled()):
            return widget
        widget = widget.nextInFocusChain()
    return None


class MainWindow(QMainWindow):
    ready = Signal()  # the database is open and the pages exist
    first_painted = Signal()

    def __init__(self, ctx: AppContext):
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle("MIRARI")
        self.setMinimumSize(880, 560)
        self.pages = Pages()  # every page once the database is open, each built when first shown
        self._painted = False
        if ctx.jobs is None:
            from desktop.jobs import JobRunner

            ctx.jobs = JobRunner(self)

        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        sidebar = QWidget(objectName="Sidebar")
        sidebar.setFixedWidth(188)
        sidebar.installEventFilter(self)
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(0, 0, 0, 10)
        side.addWidget(Label("MIRARI", objectName="Brand"))
        self.nav = QListWidget(objectName="Nav")
        self.nav.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        for key, label, _spec in PAGES:
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.nav.addItem(item)
        side.addWidget(self.nav, 1)
        # One sync controller per window (like the job runner above), shared by every page through ctx.
        ctx.sync = SyncController(ctx, self)
        ctx.navigate = self.navigate
        # Dreams are app-wide like sync: they run (and are stopped) with the database, not with a page.
        from desktop.dream_controller import DreamController

        ctx.dream = DreamController(ctx, is_streaming=lambda: background.running_count(background.STREAM) > 0,
                                    input_window=self.windowHandle, parent=self)
        self.footer = SyncFooter()
        self.footer.sign_in_requested.connect(self.sign_in)
        self.footer.unlock_requested.connect(self.ask_passphrase)
        self.footer.sign_out_requested.connect(self.sign_out)
        self.footer.panel_requested.connect(self.open_sync_panel)
        self.footer.sync_requested.connect(ctx.sync.request_sync)
        ctx.sync.status_changed.connect(self.footer.show_status)
        ctx.sync.status_changed.connect(self._show_whose_data)
        ctx.sync.alert.connect(bus.error.emit)
        self.footer.setEnabled(False)  # until the database is open
        side.addWidget(self.footer)
        self.data_label = Label("", objectName="Muted")
        self.data_label.setWordWrap(True)
        self.data_label.setContentsMargins(16, 0, 12, 0)
        side.addWidget(self.data_label)
        row.addWidget(sidebar)

        self.stack = QStackedWidget()
        # "Opening your data…", or why it could not be opened (with Recover for a damaged file).
        self.opening = QWidget()
        opening = QVBoxLayout(self.opening)
        opening.setContentsMargins(40, 0, 40, 0)
        opening.addStretch(1)
        self.placeholder = Label("Opening your data…", alignment=Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setObjectName("Muted")
        opening.addWidget(self.placeholder)
        self.recover_button = QPushButton("Recover…")
        self.recover_button.setToolTip("Move the damaged file aside (it is kept) and restore the newest good backup")
        self.recover_button.clicked.connect(lambda: self.recover(confirm=True))
        self.recover_button.hide()
        opening.addWidget(self.recover_button, 0, Qt.AlignmentFlag.AlignCenter)
        opening.addStretch(1)
        self.stack.addWidget(self.opening)
        self._damaged = None  # local_schema DatabaseCorrupt, while Recover is offered
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.nav.currentRowChanged.connect(self._show_row)
        self.nav.setEnabled(False)

        from desktop.backup_controller import BackupController

        self.backups = ctx.backups = BackupController(self)
        self._file_menu()
        self.jobs_indicator = JobsIndicator(ctx.jobs)
        self.statusBar().addPermanentWidget(self.jobs_indicator)
        QShortcut(QKeySequence("F5"), self, activated=ctx.sync.request_sync)
        self._page_shortcuts()
        self._disconnect_db = None
        self._showing: str | None = None  # the key of the page on screen
        self.sync_panel = None
        self.passphrase_dialog = None
        self._passphrase_asked = False  # the locked key file is asked for once at start-up, not at every reopen
        bus.error.connect(self._show_error)
        bus.notice.connect(self._show_notice)  # bound methods: Qt disconnects them when the window dies
        geometry = ctx.settings.window_geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1180, 760)

    def _page_shortcuts(self) -> None:
        """Ctrl+1…9 and Alt+1…9 open the pages in navigation order (0 the tenth); Ctrl+Q quits."""
        for number, (key, _label, _spec) in enumerate(PAGES[:10], start=1):
            for modifier in ("Ctrl", "Alt"):
                QShortcut(QKeySequence(f"{modifier}+{number % 10}"), self, activated=lambda k=key: self.go_to(k))
        QShortcut(QKeySequence("Ctrl+Q"), self, activated=self.close)  # closing is quitting: one window

    def go_to(self, key: str) -> None:
        """Show a page from the keyboard and put the focus in it (where it last was, else its first
        control), so the keys that follow act on the page just opened."""
        if not self.nav.isEnabled() or key not in self.pages:
            return
        page = self.show_page(key)
        target = page.focusWidget()
        if target is None or not target.isVisibleTo(page) or not target.isEnabled():
            target = _first_tab_stop(page)
        (target or page).setFocus(Qt.FocusReason.ShortcutFocusReason)

    def import_conversations(self) -> None:
        from desktop.dialogs.import_dialog import start_import

        start_import(self)

    # --- pages ---------------------------------------------------------------------------------
    def database_ready(self) -> None:
        """Build the pages once ctx.db is open (imports are here to keep the first paint fast); after an
        account switch, build them again on the new database. Then sync starts for that database."""
        self._remove_pages()
        self.disconnect_database()
        self._disconnect_db = connect_database(self.ctx.db)
        self.pages = Pages(tuple(key for key, _label, _spec in PAGES), self._build_page)
        self.data_label.setToolTip(tip(str(self.ctx.data_dir)))
        self.nav.setEnabled(True)
        keys = [self.nav.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.nav.count())]
        # The app starts on the home screen (the Observatory); pages rebuilt after an account switch or a
        # recovery come back on the page that was showing.
        start = self._showing if self._showing in keys else START_PAGE
        self.nav.blockSignals(True)
        self.nav.setCurrentRow(-1)
        self.nav.blockSignals(False)
        self.nav.setCurrentRow(keys.index(start))
        self.footer.setEnabled(True)
        self.import_action.setEnabled(True)
        self.ctx.sync.start()
        self.ctx.dream.start()
        self.backups.start()
        self._show_whose_data(self.ctx.sync.status)
        if not self._passphrase_asked:
            self._passphrase_asked = True
            if self.ctx.secrets is not None and self.ctx.secrets.status().locked:
                self.ask_passphrase()
        self.ready.emit()

    def _show_whose_data(self, status) -> None:
        """The footer's account button says who is signed in; this line says whose data is shown and where
        it lives — after signing out and keeping the data, that is still the account's."""
        owner = self.ctx.account_email
        if owner and not status.signed_in:
            self.data_label.setText(f"{owner}'s data (signed out) · {self.ctx.data_dir.name}")
        else:
            self.data_label.setText(f"{'Data' if owner else 'Local data'}: {self.ctx.data_dir.name}")

    def _build_page(self, key: str) -> QWidget:
        spec = next(spec for k, _label, spec in PAGES if k == key)
        page = _page_class(spec)(self.ctx)
        self.stack.addWidget(page)
        return page

    def _remove_pages(self) -> None:
        for page in self.pages.built().values():
            self.stack.removeWidget(page)
            page.deleteLater()
        self.pages = Pages()
        self.stack.setCurrentWidget(self.opening)

    def disconnect_database(self) -> None:
        if self._disconnect_db is not None:
            self._disconnect_db()
            self._disconnect_db = None

    def _file_menu(self) -> None:
        """File: Import… (desktop.dialogs.import_dialog; enabled once the database is open), Back up now,
        Export all… (desktop.backup_controller)."""
        menu = self.menuBar().addMenu("&File")
        self.import_action = menu.addAction("&Import…", self.import_conversations)
        self.import_action.setEnabled(False)
        menu.addSeparator()
        self.backup_action = menu.addAction("Back up now", lambda: self.ctx.db is not None and self.backups.back_up())
        self.export_action = menu.addAction("Export all…", self.export_all)

    def export_all(self):
        from desktop.dialogs.export_all import ExportAllDialog

        if self.ctx.db is None:
            return None
        dialog = ExportAllDialog(self.ctx, self.backups, self)
        dialog.open()
        return dialog

    # --- account and sync ----------------------------------------------------------------------
    def begin_data_switch(self, label: str) -> None:
        """desktop.data_switch: stop the pages and show `label` until the new database is open."""
        self.backups.stop()
        self.ctx.dream.stop()
        self._stop_pages()
        self._remove_pages()
        if self.sync_panel is not None:
            self.sync_panel.close()
        self.nav.setEnabled(False)
        self.footer.setEnabled(False)
        self.import_action.setEnabled(False)
        self.placeholder.setObjectName("Muted")
        self.placeholder.style().polish(self.placeholder)
        self.placeholder.setText(label)

    def ask_passphrase(self) -> None:
        """The encrypted key file is locked: ask for its passphrase (a dialog), then sync."""
        from desktop.dialogs.passphrase import PassphraseDialog

        if self.passphrase_dialog is not None and self.passphrase_dialog.isVisible():
            return
        self.passphrase_dialog = PassphraseDialog(self.ctx, self)
        self.passphrase_dialog.unlocked.connect(self.ctx.sync.request_sync)
        self.passphrase_dialog.open()

    def sign_in(self) -> None:
        from desktop.window import account

        account.open_sign_in(self)

    def sign_out(self) -> None:
        from desktop.window import account

        account.ask_sign_out(self)

    def open_sync_panel(self):
        from desktop.dialogs.sync_panel import SyncPanel

        if self.ctx.db is None:
            return None
        if self.sync_panel is None or not self.sync_panel.isVisible():
            if self.sync_panel is not None:
                self.sync_panel.deleteLater()
            self.sync_panel = SyncPanel(self)
        self.sync_panel.show()
        self.sync_panel.raise_()
        return self.sync_panel

    def database_failed(self, problem: BaseException | str) -> None:
        from local_schema.safety import DatabaseCorrupt

        if isinstance(problem, DatabaseCorrupt):
            # The exception's own text is written for developers (it names recover_database()).
            remedy = (f"Recover… moves the damaged file aside (it is kept) and restores the newest good backup "
                      f"({problem.backup.name}); changes made after it are lost unless they were synced."
                      if problem.backup is not None else
                      "There is no backup. Recover… moves the damaged file aside (it is kept) and starts an "
                      "empty database; synced data comes back when you sign in.")
            text = (f"Could not open your data: the database file is damaged.\n\n{problem.path}\n"
                    f"({problem.details})\n\nNothing was changed or deleted. {remedy}")
        else:
            text = f"Could not open your data.\n\n{problem}\n\nNothing was changed or deleted."
        self.placeholder.setText(text)
        self.placeholder.setObjectName("Error")
        self.placeholder.setWordWrap(True)
        self.placeholder.style().polish(self.placeholder)
        # Only a damaged file has a remedy here; a schema from a newer MIRARI or a permission problem
        # must not be "recovered" by moving the user's database away.
        self._damaged = problem if isinstance(problem, DatabaseCorrupt) else None
        self.recover_button.setVisible(self._damaged is not None)
        self.recover_button.setEnabled(True)

    def recover(self, confirm: bool = True) -> None:
        """Move the damaged database aside and restore the newest sound backup (or start empty), then
        open it. Asks first: what happens, what is kept and what may be lost."""
        damaged = self._damaged
        if damaged is None:
            return
        if confirm and not self._confirm_recovery(damaged):
            return
        from local_schema.safety import recover_database

        self.recover_button.setEnabled(False)
        self.placeholder.setText("Recovering your data…")
        Op(self, lambda: recover_database(damaged.path), "Recovering the database").success(
            self._recovered).failure(self.database_failed).run()

    def _confirm_recovery(self, damaged) -> bool:
        if damaged.backup is not None:
            what = (f"restore the newest good backup (the newest is {damaged.backup.name}). Changes made "
                    "after that backup are lost unless they were synced.")
        else:
            what = ("start with an empty database, since no backup exists. Synced data comes back when you "
                    "sign in.")
        box = message_box(QMessageBox.Icon.Warning, "Recover your data",
                          f"MIRARI will move the damaged file {damaged.path.name} aside — it is kept, renamed "
                          f"to end in .corrupt, nothing is deleted — and {what}", self)
        go = box.addButton("Move aside and recover", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is go

    def _recovered(self, result) -> None:
        from desktop.app import open_data

        self._damaged = None
        self.recover_button.hide()
        self.placeholder.setObjectName("Muted")
        self.placeholder.style().polish(self.placeholder)
        self.placeholder.setText("Opening your data…")
        kept = result.moved_aside.name if result.moved_aside else "nothing"
        note = (f"Recovered from the backup {result.restored_from.name}" if result.restored_from
                else "Started a fresh database (no good backup was found)") + f"; the damaged file is kept as {kept}."

        def opened(_r) -> None:
            self.database_ready()
            self.statusBar().showMessage(note, 30_000)

        Op(self, lambda: open_data(self.ctx), "Opening the database").success(opened).failure(
            self.database_failed).run()

    def show_page(self, key: str) -> QWidget:
        for i in range(self.nav.count()):
            if self.nav.item(i).data(Qt.ItemDataRole.UserRole) == key:
                self.nav.setCurrentRow(i)
        return self.pages[key]

    def _show_row(self, row: int) -> None:
        key = self.nav.item(row).data(Qt.ItemDataRole.UserRole)
        if key in self.pages:
            page = self.pages[key]  # built now if this is its first show
            self.stack.setCurrentWidget(page)
            self._showing = key
            page.on_show()

    def navigate(self, key: str, *, record: str | None = None, thread: str | None = None,
                 message: str | None = None) -> bool:
        """Show page `key` and hand it what to show (ctx.navigate). False, and no page switch, when the
        page cannot show it (or does not exist)."""
        if key not in self.pages or not self.nav.isEnabled():
            return False
        hook, value = next(((h, v) for h, v in (("show_message", message), ("show_thread", thread),
                                                 ("show_record", record)) if v), (None, None))
        page = self.pages[key]
        if hook is not None and not offers(page, hook):
            return False
        self.show_page(key)
        return True if hook is None else bool(getattr(page, hook)(value))

    def _show_notice(self, text: str) -> None:
        self.statusBar().showMessage(text, 6000)

    def _show_error(self, text: str) -> None:
        from agent.logging_setup import redact

        # Error texts come from servers and exceptions; one may echo a key back. Never show it.
        self.statusBar().showMessage("⚠ " + redact(text), 12000)

    # --- lifecycle -----------------------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        # The sidebar always paints when the window first appears: that is "first paint".
        if not self._painted and event.type() == QEvent.Type.Paint:
            self._painted = True
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self.first_painted.emit)
        return False

    def _stop_pages(self) -> None:
        for page in self.pages.built().values():
            page.shutdown()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.ctx.settings.save_window_geometry(self.saveGeometry())
        self.ctx.dream.stop()
        self._stop_pages()
        self.ctx.jobs.cancel_all()
        # Sync stops before the data closes; a cycle in flight is cut short (its HTTP client closed).
        self.ctx.sync.stop()
        super().closeEvent(event)  # the data stays open until the last reply is saved (ctx.close_data)
