"""What every screen shares: the data dir, the open database, GUI settings, the key store and the window's
app-wide services (long jobs, sync, dreams, backups).

Passed explicitly to each page (no global `mw` as in Anki), so tests can build any page on its own. A page
never reaches into another page or into the window: it asks for another page with `ctx.navigate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.settings_store import AppSettings

if TYPE_CHECKING:
    from desktop.backup_controller import BackupController
    from desktop.dream_controller import DreamController
    from desktop.jobs import JobRunner
    from desktop.sync_controller import SyncController
    from local_schema.database import LocalDatabase
    from sync.filelock import FileLock
    from sync.secrets import SecretStore


def _nowhere(_page: str, **_where) -> bool:
    return False  # a page built on its own (tests): there is no window to navigate


@dataclass
class AppContext:
    data_dir: Path
    settings: AppSettings
    db: LocalDatabase | None = None
    secrets: SecretStore | None = None
    app_lock: FileLock | None = None  # sync.accounts.app_lock, held while the database is open
    account_email: str | None = None  # whose database is open; None for the signed-out one
    jobs: JobRunner | None = None  # long work (reviews, tests, dreams) with progress + Cancel
    sync: SyncController | None = None  # automatic sync of the open database
    dream: DreamController | None = None  # dreams while you are away (idle watch, gates, one at a time)
    backups: BackupController | None = None  # backups, restore, export all
    # ctx.navigate("console", message=id) / (…, thread=id) / ("mirror", record=id): show that page (built on
    # first show) and hand it the record; False when the page cannot show it. The window sets it.
    navigate: Callable[..., bool] = _nowhere
    extras: dict[str, Any] = field(default_factory=dict)  # window-wide objects made on first use (tools_runtime)

    def close_data(self) -> None:
        """Close the database, then let go of the data folder — in that order, because a command-line
        first sign-in may move the file as soon as the lock is free."""
        if self.db is not None:
            self.db.close()
        if self.app_lock is not None:
            self.app_lock.release()
            self.app_lock = None
