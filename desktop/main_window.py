"""The main window: the rites in a left navigation, one page each, status line at the bottom.

The database opens in the background; until it is ready the window shows a short "opening" note,
so the first paint never waits on an integrity check or a migration.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.bus import bus
from desktop.context import AppContext

# (key, navigation label). Only rites that work are listed; the others arrive with their issues.
PAGES = (("bind", "I   Bind"), ("console", "II  Console"))


class MainWindow(QMainWindow):
    ready = Signal()  # the database is open and the pages exist
    first_painted = Signal()

    def __init__(self, ctx: AppContext):
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle("MIRARI")
        self.setMinimumSize(880, 560)
        self.pages: dict[str, QWidget] = {}
        self._painted = False

        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        sidebar = QWidget(objectName="Sidebar")
        sidebar.setFixedWidth(188)
        sidebar.installEventFilter(self)
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(0, 0, 0, 10)
        side.addWidget(QLabel("MIRARI", objectName="Brand"))
        self.nav = QListWidget(objectName="Nav")
        self.nav.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        for key, label in (*PAGES, ("settings", "⚙   Settings")):
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.nav.addItem(item)
        side.addWidget(self.nav, 1)
        self.data_label = QLabel("", objectName="Muted")
        self.data_label.setWordWrap(True)
        self.data_label.setContentsMargins(16, 0, 12, 0)
        side.addWidget(self.data_label)
        row.addWidget(sidebar)

        self.stack = QStackedWidget()
        self.placeholder = QLabel("Opening your data…", alignment=Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setObjectName("Muted")
        self.stack.addWidget(self.placeholder)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.nav.currentRowChanged.connect(self._show_row)
        self.nav.setEnabled(False)

        bus.error.connect(self._show_error)
        bus.notice.connect(self._show_notice)  # bound methods: Qt disconnects them when the window dies
        geometry = ctx.settings.window_geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1180, 760)

    # --- pages ---------------------------------------------------------------------------------
    def database_ready(self) -> None:
        """Build the pages once ctx.db is open (imports are here to keep the first paint fast)."""
        from desktop.views.bind_page import BindPage
        from desktop.views.console_page import ConsolePage
        from desktop.views.settings_page import SettingsPage

        self.pages = {"bind": BindPage(self.ctx), "console": ConsolePage(self.ctx), "settings": SettingsPage(self.ctx)}
        for page in self.pages.values():
            self.stack.addWidget(page)
        self.data_label.setText(f"Local · {self.ctx.data_dir.name}")
        self.data_label.setToolTip(str(self.ctx.data_dir))
        self.nav.setEnabled(True)
        keys = [self.nav.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.nav.count())]
        start = self.ctx.settings.last_page
        self.nav.setCurrentRow(keys.index(start) if start in keys else 1)
        self.ready.emit()

    def database_failed(self, message: str) -> None:
        self.placeholder.setText(f"Could not open your data.\n\n{message}\n\nNothing was changed or deleted.")
        self.placeholder.setObjectName("Error")
        self.placeholder.setWordWrap(True)
        self.placeholder.style().polish(self.placeholder)

    def show_page(self, key: str) -> QWidget:
        for i in range(self.nav.count()):
            if self.nav.item(i).data(Qt.ItemDataRole.UserRole) == key:
                self.nav.setCurrentRow(i)
        return self.pages[key]

    def _show_row(self, row: int) -> None:
        key = self.nav.item(row).data(Qt.ItemDataRole.UserRole)
        page = self.pages.get(key)
        if page is not None:
            self.stack.setCurrentWidget(page)
            self.ctx.settings.last_page = key

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

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.ctx.settings.save_window_geometry(self.saveGeometry())
        for page in self.pages.values():
            stop = getattr(page, "shutdown", None)
            if stop:
                stop()
        if self.ctx.app_lock is not None:
            self.ctx.app_lock.release()
            self.ctx.app_lock = None
        super().closeEvent(event)
