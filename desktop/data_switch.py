"""Changing whose database the open window shows: sign in (the first one claims the signed-out rows and
moves the file), sign out with "remove local data", switching account.

The window cannot move or delete a file it has open, and nothing may write to the old database after
it is closed. So, in this order:
1. on the UI thread: the pages stop (a streaming reply is stopped and its text stored), long jobs are
   cancelled, and we wait until no background work is left (`desktop.ops` counts streams too);
2. off the UI thread: the sync scheduler stops (a cycle in flight is cut short and waited for), the
   bus bridge is removed, the database closes — the window keeps holding the data dir's app lock, so no
   other MIRARI process can open the file meanwhile — `change()` runs (e.g. sync.accounts.signed_in
   with app_lock_held=True), and the now-active database opens (whatever `change` did or raised);
3. on the UI thread: the pages are built again on the new database and sync starts for it.
Nothing of the old database survives in a page, so another account's rows are never shown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal

from desktop import ops

log = logging.getLogger(__name__)

QUIET_TIMEOUT_MS = 30_000


class DataSwitch(QObject):
    done = Signal(object)  # change()'s result, after the pages are rebuilt
    failed = Signal(object)  # the exception (the active database is open again if it could be)

    def __init__(self, window, change: Callable[[], Any], label: str):
        super().__init__(window)
        self.window, self.change, self.label = window, change, label
        self._poll = QTimer(self, interval=30)
        self._poll.timeout.connect(self._when_quiet)
        self._clock = QElapsedTimer()
        self._result: Any = None
        self._error: BaseException | None = None

    def start(self) -> DataSwitch:
        self.window.begin_data_switch(self.label)
        self.window.ctx.jobs.cancel_all()
        self._clock.start()
        self._poll.start()
        return self

    def _when_quiet(self) -> None:
        ctx = self.window.ctx
        busy = ops.running_count() + ctx.jobs.active_count()
        if busy and self._clock.elapsed() < QUIET_TIMEOUT_MS:
            return
        self._poll.stop()
        if busy:
            log.warning("switching data with %d background task(s) still running", busy)
        self.window.disconnect_database()
        ops.Op(self.window, self._work, self.label).success(self._reopened).failure(self._reopen_failed).run()

    def _work(self):
        """Pool thread: close, change, reopen. Returns (result, error): the reopen must happen either way."""
        from desktop.app import open_data

        ctx = self.window.ctx
        ctx.sync.stop()
        if ctx.db is not None:
            ctx.db.close()
            ctx.db = None
        result, error = None, None
        try:
            result = self.change()
        except Exception as exc:  # noqa: BLE001 - reported after the database is open again
            log.warning("%s failed: %s", self.label, exc)
            error = exc
        open_data(ctx)
        return result, error

    def _reopened(self, outcome) -> None:
        result, error = outcome
        self.window.database_ready()
        if error is None:
            self.done.emit(result)
        else:
            self.failed.emit(error)

    def _reopen_failed(self, exc: BaseException) -> None:
        self.window.database_failed(exc)
        self.failed.emit(exc)
