"""Keeping the local database file safe: private file modes, integrity check, recovery.

Backups are `.mirari-backup` archives in the backups folder (local_schema.backup: made with SQLite's
online backup API, since a plain file copy of a WAL database can miss committed pages still in the -wal
file). Older versions left `<name>.<UTC stamp>.v<N>.bak` copies beside the database; recovery still
uses them. A damaged file is never deleted: recovery moves it (and its -wal/-shm) aside.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from local_schema.files import replace

SIDECAR_SUFFIXES = ("-wal", "-shm")
FILE_MODE = 0o600


class DatabaseCorrupt(RuntimeError):
    """The database file failed its integrity check. Nothing was changed; see `recover_database`."""

    def __init__(self, path: Path, details: str, backup: Path | None):
        self.path = Path(path)
        self.details = details
        self.backup = backup
        if backup is not None:
            remedy = (
                f"recover_database() moves it aside and restores the newest backup {backup.name} "
                "(local changes made after that backup are lost unless they were synced)"
            )
        else:
            remedy = (
                "no backup exists; recover_database() moves it aside and starts a fresh database "
                "(synced data comes back on the next sign-in)"
            )
        super().__init__(
            f"the local database {self.path} is damaged ({details}). Nothing was changed; {remedy}."
        )


@dataclass(frozen=True)
class RecoveryResult:
    moved_aside: Path | None  # where the damaged file went (None if there was no file)
    restored_from: Path | None  # the backup now in place, or None for a fresh start


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists, so SQLite never creates it world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    restrict_modes(path)


def restrict_modes(path: Path) -> None:
    """chmod 0600 the database and whichever of its -wal/-shm files exist (SQLite copies the db's mode)."""
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SIDECAR_SUFFIXES)):
        if candidate.exists():
            os.chmod(candidate, FILE_MODE)


def integrity_problems(conn: sqlite3.Connection, thorough: bool = True) -> str | None:
    """None if the file is sound, else a short description of what PRAGMA integrity_check found.

    `thorough=False` runs PRAGMA quick_check: every page, b-tree and record is still checked, but not
    that each index holds exactly its table's rows — a third of the time on a big file."""
    try:
        rows = [row[0] for row in conn.execute(f"PRAGMA {'integrity_check' if thorough else 'quick_check'}")]
    except sqlite3.OperationalError:
        raise  # locked or busy: not a verdict on the file
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if rows == ["ok"]:
        return None
    return "; ".join(rows[:5]) + (" …" if len(rows) > 5 else "")


def _stamp_of(backup: Path) -> str:
    """The UTC stamp in a backup's name (`<name>.<stamp>.v<N>.bak`, `<stem>.<stamp>.<kind>.mirari-backup`)."""
    parts = backup.name.split(".")
    return next((p for p in parts if len(p) >= 16 and p[8:9] == "T" and p.endswith("Z")), "")


def backups_of(path: Path) -> list[Path]:
    """The backups of `path`, newest first: its archives in the backups folder (local_schema.backup) and
    the `.bak` copies older versions left beside it."""
    path = Path(path)
    found = list(path.parent.glob(f"{path.name}.*.v*.bak"))
    try:
        from local_schema import paths
        from local_schema.backup.archive import SUFFIX, parse_name
        from local_schema.backup.settings import backups_dir, default_backups_dir

        data_dir = paths.data_dir_of(path)
        for folder in dict.fromkeys((backups_dir(data_dir), default_backups_dir(data_dir))):
            for archive in folder.glob(f"{path.stem}.*{SUFFIX}"):
                parsed = parse_name(archive.name)
                if parsed is not None and parsed[0] == path.stem:
                    found.append(archive)
    except OSError:  # an unreachable backups folder (a drive not plugged in): the copies beside it remain
        pass
    return sorted(found, key=_stamp_of, reverse=True)


def _copy_with_backup_api(source: sqlite3.Connection, destination: Path) -> None:
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    create_private_file(partial)
    target = sqlite3.connect(partial)
    try:
        source.backup(target)
        # A standalone copy: rollback journal, so the file is self-contained.
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()
    replace(partial, destination)  # atomic: a crash never leaves a half-written file behind


def read_only_uri(path: Path) -> str:
    """A `mode=ro` SQLite URI for `path`, percent-encoded so '#', '?' or '%' in a folder name stay part
    of the file name (a bare `file:{path}` would cut the path there and miss the file)."""
    return f"{Path(path).resolve().as_uri()}?mode=ro"


def _sound(candidate: Path) -> bool:
    try:
        conn = sqlite3.connect(read_only_uri(candidate), uri=True)
    except sqlite3.Error:
        return False
    try:
        return integrity_problems(conn) is None
    finally:
        conn.close()


def recover_database(path: Path) -> RecoveryResult:
    """Move a damaged database (and its -wal/-shm) aside and restore the newest sound backup, if any:
    an archive (verified in full) or an older version's `.bak` copy.

    Without a sound backup the path is left empty, so the next `open_database` starts a fresh database.
    The damaged file is kept as `<name>.<UTC stamp>.corrupt` for manual rescue.
    """
    path = Path(path)
    stamp = utc_stamp()
    moved: Path | None = None
    if path.exists():
        moved = path.with_name(f"{path.name}.{stamp}.corrupt")
        replace(path, moved)
    for suffix in SIDECAR_SUFFIXES:
        sidecar = Path(f"{path}{suffix}")
        if sidecar.exists():
            # A stale -wal next to a different main file would be replayed into it: never leave one.
            replace(sidecar, Path(f"{moved or path.with_name(f'{path.name}.{stamp}.corrupt')}{suffix}"))
    for backup in backups_of(path):
        if backup.name.endswith(".bak"):
            if not _sound(backup):
                continue
            source = sqlite3.connect(read_only_uri(backup), uri=True)
            try:
                _copy_with_backup_api(source, path)
            finally:
                source.close()
            return RecoveryResult(moved_aside=moved, restored_from=backup)
        if _restore_archive(backup, path):
            return RecoveryResult(moved_aside=moved, restored_from=backup)
    return RecoveryResult(moved_aside=moved, restored_from=None)


def _restore_archive(archive: Path, path: Path) -> bool:
    """Put the archive's database at `path` (empty: the damaged file was moved aside) and add its
    attachments where missing. False if the archive is not sound or too new (the next one is tried)."""
    from local_schema.backup.archive import ArchiveProblem
    from local_schema.backup.restore import stage

    try:
        staged = stage(archive, path)
        staged.commit(merge_files=True)
    except (ArchiveProblem, OSError, sqlite3.Error):
        return False
    return True
