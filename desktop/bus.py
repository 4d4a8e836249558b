"""The app-wide change bus (Vorta's application signals, Anki's `operation_did_execute`).

Views subscribe to `changed` and refresh only when a table they show was touched. That keeps views
from calling each other. Who announces what:
- the app's own writes: the `Op`, `Job` or stream that made them, once when it ends, with its initiator
  (desktop/background.py; `LocalDatabase.write()` knows the tables, nobody lists them by hand);
- rows a sync cycle applied: `changed(tables, SYNC)`, the tables' `rows` holding the ids that landed;
- a write made outside any of those (a test, a seeder, a future UI-thread write): `changed(tables, None)`.

The open database is bridged onto the bus (`connect_database`): its change listener runs on the writing
thread and posts to the UI thread (desktop.background.post). What must hear every commit as it happens,
on any thread (the sync scheduler, the backup timer), is a change listener of the database itself.

`changed` carries table names only. A theme switch is `theme_changed`, a key-store change `keys_changed`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

# The initiator of `changed` for rows a sync cycle applied (pages compare initiators with `is`).
SYNC = "sync"


class ChangeBus(QObject):
    # (frozenset of table names, initiator object or None); the tables are a
    # local_schema.changes.ChangedTables; for sync, initiator is SYNC and `rows` holds the ids that landed
    changed = Signal(object, object)
    # the colours in use changed (a desktop.theme.Colors): redraw what the palette does not reach
    theme_changed = Signal(object)
    # the key store changed how or whether it keeps API keys (its mode: "keychain", "file", "memory", …)
    keys_changed = Signal(str)
    # a user-facing sentence about something that failed in the background
    error = Signal(str)
    # number of background operations in flight, streams included (drives the busy indicator)
    busy_changed = Signal(int)
    # a short status line ("Copied", "Exported to …")
    notice = Signal(str)


bus = ChangeBus()


def connect_database(db) -> Callable[[], None]:
    """Bridge `db`'s change listener onto the bus. Call on the UI thread; returns the disconnect.

    A write made inside a background operation is announced by that operation when it ends (one
    broadcast per op, job or stream); only writes made outside one are announced here."""
    from desktop.background import post
    from local_schema import changes

    connected = [True]  # what was posted before the disconnect is dropped, not delivered

    def deliver(tables, origin: str) -> None:
        if not connected[0]:
            return
        bus.changed.emit(tables, SYNC if origin == "sync" else None)

    def listener(tables, origin: str) -> None:  # the writing thread
        announce = origin == "sync" or not changes.collecting()
        if announce:
            post(lambda: deliver(tables, origin))

    db.add_change_listener(listener)

    def disconnect() -> None:
        connected[0] = False
        db.remove_change_listener(listener)

    return disconnect
