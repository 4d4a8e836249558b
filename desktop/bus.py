"""The app-wide change bus (Vorta's application signals, Anki's `operation_did_execute`).

Views subscribe to `changed` and refresh only when a table they show was touched; operations
announce what they wrote. That keeps views from calling each other.

The open database is bridged onto the bus (`connect_database`): every committed write, from any
thread, arrives on the UI thread as `written(tables, origin)`; rows a sync cycle applied also arrive
as `changed(tables, SYNC)`, so every page refreshes from what another device did exactly as it does
from an `Op` of another page. (The app's own writes are announced on `changed` by the `Op` that made
them, with the page as initiator; bridging them too would make every page refresh twice.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

# The initiator of `changed` for rows a sync cycle applied (pages compare initiators with `is`).
SYNC = "sync"


class ChangeBus(QObject):
    # (frozenset of table names, initiator object or None); for sync, initiator is SYNC and the tables
    # are a local_schema.database.ChangedTables whose `rows` holds the ids that landed
    changed = Signal(object, object)
    # every committed write to the open database: (ChangedTables, origin "local" | "sync", the database)
    written = Signal(object, str, object)
    # a user-facing sentence about something that failed in the background
    error = Signal(str)
    # number of background operations in flight, streams included (drives the busy indicator)
    busy_changed = Signal(int)
    # a short status line ("Copied", "Exported to …")
    notice = Signal(str)


bus = ChangeBus()


class _Bridge(QObject):
    """Lives on the UI thread. The database calls `arrived.emit` on the writing thread; the queued
    connection delivers it here, so the bus only ever emits on the UI thread."""

    arrived = Signal(object, str)

    def __init__(self, db) -> None:
        super().__init__()
        self.db = db
        self.arrived.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @Slot(object, str)
    def _deliver(self, tables, origin: str) -> None:
        bus.written.emit(tables, origin, self.db)
        if origin == "sync":
            bus.changed.emit(tables, SYNC)


def connect_database(db) -> Callable[[], None]:
    """Bridge `db`'s change listeners onto the bus. Call on the UI thread; returns the disconnect."""
    bridge = _Bridge(db)

    def listener(tables, origin: str) -> None:
        with contextlib.suppress(RuntimeError):  # the application is shutting down, the bridge is gone
            bridge.arrived.emit(tables, origin)

    db.add_change_listener(listener)

    def disconnect() -> None:
        db.remove_change_listener(listener)
        bridge.deleteLater()

    disconnect.bridge = bridge  # type: ignore[attr-defined]  # kept alive as long as the disconnect is
    return disconnect
