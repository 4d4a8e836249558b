"""Backup settings: a small JSON file in the data dir, read by the window, `mirari backup` and migrations.

Beside the database, not in the window's QSettings, because a migration (local_schema.prepare) writes
its "before migration" archive into the chosen folder and the command line lists the same folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from local_schema import settings_file
from local_schema.settings_file import clamp

FILE_NAME = "backup.json"
DEFAULT_FOLDER = "backups"  # inside the data dir


@dataclass
class BackupSettings:
    automatic: bool = True  # the window backs up every `every_minutes` when something changed, and on quit
    every_minutes: int = 30
    folder: str = ""  # "" = <data dir>/backups
    keep_daily: int = 12  # thinning (Anki's defaults): the newest backup of each of the last 12 days,
    keep_weekly: int = 10  # ... of 10 weeks before those,
    keep_monthly: int = 9  # ... and of 9 months before those; today's and yesterday's are all kept

    def validated(self) -> BackupSettings:
        """Every number in a sane range (a hand-edited file must not make a backup every second)."""
        d = BackupSettings()
        return BackupSettings(
            automatic=bool(self.automatic),
            every_minutes=clamp(self.every_minutes, 5, 24 * 60, d.every_minutes),
            folder=str(self.folder or "") if "\0" not in str(self.folder or "") else "",
            keep_daily=clamp(self.keep_daily, 0, 366, d.keep_daily),
            keep_weekly=clamp(self.keep_weekly, 0, 520, d.keep_weekly),
            keep_monthly=clamp(self.keep_monthly, 0, 1200, d.keep_monthly),
        )


def load_settings(data_dir: str | Path) -> BackupSettings:
    return settings_file.load(Path(data_dir) / FILE_NAME, BackupSettings)


def save_settings(data_dir: str | Path, settings: BackupSettings) -> BackupSettings:
    return settings_file.save(Path(data_dir) / FILE_NAME, settings)


def default_backups_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / DEFAULT_FOLDER


def backups_dir(data_dir: str | Path, settings: BackupSettings | None = None) -> Path:
    """The folder archives go to: the one chosen in Settings, else `<data dir>/backups`. Not created here."""
    settings = settings or load_settings(data_dir)
    return Path(settings.folder).expanduser() if settings.folder else default_backups_dir(data_dir)
