"""VI. Observatory — the home screen: tiles, the last 14 days, every connection, the sync state. The
controller over ObservatoryView (view.py), which holds the widgets.

Everything is read in one background op (agent.observatory.stats.collect plus the sync engine's status) and
shown in one go; the page refreshes when the change bus says a table it counts was written. The UI
thread never counts anything itself.
"""

from __future__ import annotations

import time
from datetime import datetime

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTableWidgetItem

from desktop.bus import bus
from desktop.models.connection_model import status_color  # imported with the page, not on its first show
from desktop.ops import Op
from desktop.pages.observatory.view import ObservatoryView
from desktop.pages.protocol import PageHooks
from desktop.safe_text import tip

# Tables whose writes change a number on this page (a theme switch redraws too: colours baked into the chart).
WATCHED = frozenset({"agent_connections", "connection_checks", "conversations", "messages", "memory_nodes",
                     "skills", "mirror_reports", "templates", "tasks"})
_STATUS_WORDS = {"online": "● Online", "offline": "○ Offline", "error": "✕ Error"}


def sync_status(ctx) -> dict:
    """What the sync state row needs that the sync controller does not hold (runs on a pool thread).

    In the window the controller (desktop.sync_controller, ctx.sync) is the live source of the state,
    the account and the counts; only the time of the last sync of an earlier session is read here, from
    the engine's own record. Without a controller (a page built on its own) everything is read from the
    page's open database (sync.engine.read_status), with no engine of its own."""
    if ctx.sync is not None:
        from sync.dbutil import get_meta

        with ctx.db.engine.connect() as conn:
            return {"last_sync": get_meta(conn, "last_sync")}
    from sync.engine import read_status

    return read_status(ctx.data_dir, ctx.db)


def load(ctx):
    """Runs on a pool thread: everything the page shows, and how long reading it took."""
    from agent.observatory import stats

    started = time.perf_counter()
    numbers = stats.collect(ctx.db)
    try:
        sync = sync_status(ctx)
    except Exception as exc:  # noqa: BLE001 - an unreadable account file must not blank the whole page
        sync = {"state": "error", "error": str(exc), "signed_in": False, "account": None}
    return numbers, sync, time.perf_counter() - started


def from_controller(status, recorded: dict) -> dict:
    """desktop.sync_controller.SyncStatus in the shape of the engine's status() (what _show_sync reads)."""
    from datetime import UTC, datetime

    from local_schema.timestamps import format_timestamp

    last = (format_timestamp(datetime.fromtimestamp(status.last_synced, UTC)) if status.last_synced
            else recorded.get("last_sync"))
    return {"signed_in": status.signed_in, "account": {"email": status.email} if status.signed_in else None,
            "state": "syncing" if status.syncing else status.state, "error": status.detail,
            "pending": status.waiting, "parked": status.refused, "last_sync": last}


def _when(stamp: str | None) -> str:
    if not stamp:
        return "never"
    try:
        from local_schema.timestamps import parse_timestamp

        moment = parse_timestamp(stamp).astimezone()
    except ValueError:
        return stamp
    today = datetime.now().astimezone().date()
    return moment.strftime("%H:%M" if moment.date() == today else "%d %b %H:%M")


class ObservatoryPage(ObservatoryView, PageHooks):
    loaded = Signal(float)  # seconds from the refresh request until the page showed the numbers

    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.stats = None
        self.sync: dict = {}
        self.load_seconds = 0.0
        self._pending = False
        self._running = False
        self._requested_at = 0.0
        self._recorded: dict = {}  # what load() read about sync (with a controller: the last sync time)
        # A burst of writes (a reply streaming, a sync applying pages) is one refresh, not dozens.
        self._debounce = QTimer(self, singleShot=True, interval=300)
        self._wire()
        self.refresh()

    def _wire(self) -> None:
        self.refresh_button.clicked.connect(self.refresh)
        if self.ctx.sync is not None:  # the live state: shown as soon as it changes
            self.ctx.sync.status_changed.connect(self._controller_changed)
        self._debounce.timeout.connect(self.refresh)
        # Every committed write arrives on `changed`, whoever made it (an op, a job or a chat turn when it
        # ends, a sync cycle, a write outside those): the counts are never stale; the debounce keeps it cheap.
        bus.changed.connect(self._on_changed)  # a bound method: disconnected when the page is deleted
        bus.theme_changed.connect(self._on_theme)

    # --- data ---------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Count again in the background. A request while a count runs is served once it ends."""
        if self._running:
            self._pending = True
            return
        self._running, self._pending = True, False
        self._requested_at = time.perf_counter()
        Op(self, lambda: load(self.ctx), "Counting for the Observatory").success(self._show).failure(
            self._failed).run()

    def _on_changed(self, tables, _origin) -> None:
        if WATCHED & set(tables):
            self._debounce.start()

    def _on_theme(self, _colors) -> None:
        self._debounce.start()

    def _failed(self, exc: BaseException) -> None:
        self._running = False
        self.updated.setText(f"Could not count: {exc}")
        if self._pending:
            self.refresh()

    def _show(self, result) -> None:
        numbers, sync, self.load_seconds = result
        self.stats = numbers
        for key, tile in self.tiles.items():
            tile.set_value(numbers.tiles.get(key, 0))
        self.chart.set_days([(d.day, d.messages, d.skills) for d in numbers.days])
        self._show_connections(numbers.connections)
        self._recorded = sync
        self._show_sync(self._sync_view())
        self.updated.setText(f"Updated {datetime.now().strftime('%H:%M:%S')}")
        self._running = False
        self.loaded.emit(time.perf_counter() - self._requested_at)
        if self._pending:
            self.refresh()

    def _show_connections(self, rows) -> None:
        self.connections.setRowCount(len(rows))
        for r, conn in enumerate(rows):
            status = QTableWidgetItem(_STATUS_WORDS.get(conn.status, conn.status))
            status.setForeground(QColor(status_color(conn.status)))
            for column, item in enumerate((QTableWidgetItem(conn.name), QTableWidgetItem(conn.model), status,
                                           QTableWidgetItem(_when(conn.checked_at) if conn.checked_at
                                                            else "not tested on this device"),
                                           QTableWidgetItem(conn.error or "—"))):
                if column == 4 and conn.error:
                    item.setToolTip(tip(conn.error))
                self.connections.setItem(r, column, item)
        self.connections.setVisible(bool(rows))
        self.no_connections.setVisible(not rows)
        height = self.connections.horizontalHeader().height() + sum(
            self.connections.rowHeight(r) for r in range(len(rows))) + 4
        self.connections.setFixedHeight(max(60, min(height, 320)))

    def _sync_view(self) -> dict:
        controller = self.ctx.sync
        return from_controller(controller.status, self._recorded) if controller is not None else self._recorded

    def _controller_changed(self, _status) -> None:
        self._show_sync(self._sync_view())

    def _show_sync(self, sync: dict) -> None:
        self.sync = sync
        account = sync.get("account") or {}
        signed_in = bool(sync.get("signed_in"))
        state = sync.get("state") or "signed out"
        words = {"idle": "Synced", "syncing": "Syncing…", "offline": "Offline", "signed out": "Not signed in",
                 "sign-in needed": "Sign-in needed", "update required": "Update required", "error": "Sync error",
                 "key refused": "Project key changed", "locked": "Key file locked"}
        self.sync_state.setText(words.get(state, state.capitalize()))
        self.sync_fields["account"].setText(account.get("email") or "—" if signed_in
                                            else "nobody (local only)")
        self.sync_fields["last_sync"].setText(_when(sync.get("last_sync")))
        pending, parked = sync.get("pending"), sync.get("parked")
        self.sync_fields["pending"].setText("–" if pending is None else f"{pending:,} change(s)")
        self.sync_fields["parked"].setText("–" if parked is None else f"{parked:,} change(s)")
        error = sync.get("error") if state not in ("idle", "signed out") else None
        self.sync_error.setText(error or "")
        self.sync_error.setVisible(bool(error))

