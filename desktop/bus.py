"""The app-wide change bus (Vorta's application signals, Anki's `operation_did_execute`).

Views subscribe to `changed` and refresh only when a table they show was touched; operations
announce what they wrote. That keeps views from calling each other.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class ChangeBus(QObject):
    # (frozenset of table names, initiator object or None)
    changed = Signal(object, object)
    # a user-facing sentence about something that failed in the background
    error = Signal(str)
    # number of background operations in flight (drives the busy indicator)
    busy_changed = Signal(int)
    # a short status line ("Copied", "Exported to …")
    notice = Signal(str)


bus = ChangeBus()
