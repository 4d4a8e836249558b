"""What every screen shares: the data dir, the open database, GUI settings and the key store.

Passed explicitly to each page (no global `mw` as in Anki), so tests can build any page on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.settings_store import AppSettings


@dataclass
class AppContext:
    data_dir: Path
    settings: AppSettings
    db: Any = None  # local_schema.database.LocalDatabase once opened
    secrets: Any = None  # sync.secrets store
    app_lock: Any = None  # sync.accounts.app_lock, held while the database is open
    account_email: str | None = None  # whose database is open; None for the signed-out one
    jobs: Any = None  # desktop.jobs.JobRunner: long work (reviews, tests, dreams) with progress + Cancel
    sync: Any = None  # desktop.sync_controller.SyncController: automatic sync of the open database
    backups: Any = None  # desktop.backup_controller.BackupController: backups, restore, export all
    extras: dict = field(default_factory=dict)

    def close_data(self) -> None:
        """Close the database, then let go of the data folder — in that order, because a command-line
        first sign-in may move the file as soon as the lock is free."""
        if self.db is not None:
            self.db.close()
        if self.app_lock is not None:
            self.app_lock.release()
            self.app_lock = None
