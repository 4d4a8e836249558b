"""Keeping the local database file safe: private file modes, integrity check, backups, recovery.

Backups are made with SQLite's online backup API (a plain file copy of a WAL database can miss
committed pages still in the -wal file) and are named `<name>.<UTC stamp>.v<N>.bak`, N being the schema
version the copy holds. A damaged file is never deleted: recovery moves it (and its -wal/-shm) aside.
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


def backups_of(path: Path) -> list[Path]:
    """The backups of `path`, newest first (the stamp in the name sorts chronologically)."""
    path = Path(path)
    return sorted(path.parent.glob(f"{path.name}.*.v*.bak"), reverse=True)


def _copy_with_backup_api(source: sqlite3.Connection, destination: Path) -> None:
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    create_private_file(partial)
    target = sqlite3.connect(partial)
    try:
        source.backup(target)
        # A standalone copy: rollback journal, so the .bak is one self-contained file.
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()
    replace(partial, destination)  # atomic: a crash never leaves a half-written .bak behind


def backup_database(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    """Write `<name>.<UTC stamp>.v<version>.bak` next to `path` from the open connection; return its path."""
    path = Path(path)
    destination = path.with_name(f"{path.name}.{utc_stamp()}.v{version}.bak")
    _copy_with_backup_api(conn, destination)
    return destination


def prune_backups(path: Path, keep: int = 5) -> list[Path]:
    """Delete all but the `keep` newest backups of `path` (each is a full copy); return what was removed."""
    removed = backups_of(path)[keep:]
    for old in removed:
        old.unlink(missing_ok=True)
    return removed


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
    """Move a damaged database (and its -wal/-shm) aside and restore the newest sound backup, if any.

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
        if not _sound(backup):
            continue
        source = sqlite3.connect(read_only_uri(backup), uri=True)
        try:
            _copy_with_backup_api(source, path)
        finally:
            source.close()
        return RecoveryResult(moved_aside=moved, restored_from=backup)
    return RecoveryResult(moved_aside=moved, restored_from=None)
