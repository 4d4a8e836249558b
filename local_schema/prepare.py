"""Getting a database file ready to open: an interrupted restore undone, integrity check, a "before
migration" archive, migrations (plain sqlite3).

Kept apart from `database` (SQLAlchemy) so that a caller needing only a quick look at a prepared file —
`mirari sync` with nothing to do — never pays for importing SQLAlchemy.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from local_schema import migrations
from local_schema.migrations import SchemaTooNew, user_version
from local_schema.safety import (
    DatabaseCorrupt,
    backups_of,
    create_private_file,
    integrity_problems,
    read_only_uri,
)

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
# Of a new database file (an existing one keeps its own: changing it means rewriting the whole file).
# SQLite's default is 4 KB; a model's reply is often longer, and a row that does not fit its page goes on
# a chain of overflow pages. 16 KB pages keep most replies in one page and make the id index's B-tree
# shallower: SQLite stores a pulled message in about a quarter less CPU (docs/sync.md, "Why it is built
# this way").
PAGE_SIZE = 16384
RESTORE_MARKER = ".restore.json"  # = local_schema.backup.restore.MARKER_SUFFIX (a test keeps them equal)


def _undo_interrupted_restore(path: Path) -> None:
    """A restore killed half-way left its marker: put the database back as it was (the backup module is
    imported only then, so an ordinary open does not pay for it)."""
    if Path(f"{path}{RESTORE_MARKER}").exists():
        from local_schema.backup.restore import undo_interrupted_restore

        undo_interrupted_restore(path)


def _archive_before_migrating(conn: sqlite3.Connection, path: Path, current: int) -> Path:
    """A "before migration" archive of the file (local_schema.backup) in the backups folder chosen in
    Settings, else the default one; without it, no migration runs."""
    from local_schema import paths
    from local_schema.backup.archive import create_archive
    from local_schema.backup.settings import backups_dir, default_backups_dir

    data_dir = paths.data_dir_of(path)
    account = paths.account_of(path)
    chosen, default = backups_dir(data_dir), default_backups_dir(data_dir)
    for folder in dict.fromkeys((chosen, default)):
        try:
            archive = create_archive(path, folder, kind="before migration", source=conn,
                                     account={"id": account, "email": None} if account else None)
        except OSError as exc:
            if folder == default:
                raise
            log.warning("cannot write to the backups folder %s (%s): using %s", folder, exc, default)
            continue
        log.info("backed up %s (schema v%d) to %s before migrating", path, current, archive.path)
        return archive.path
    raise AssertionError("unreachable")


def _has_content(conn: sqlite3.Connection) -> bool:
    return user_version(conn) > 0 or conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0


def _check_integrity(path: Path, thorough: bool = True) -> None:
    """PRAGMA integrity_check (quick_check unless `thorough`) on a read-only connection, so a damaged file
    (and its -wal) stay untouched."""
    conn = sqlite3.connect(read_only_uri(path), uri=True)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        try:
            problems = integrity_problems(conn, thorough)
        except sqlite3.OperationalError:
            raise  # locked or busy: not a verdict on the file
        except sqlite3.DatabaseError as exc:  # e.g. "file is not a database"
            problems = str(exc)
    finally:
        conn.close()
    if problems is not None:
        newest = backups_of(path)
        raise DatabaseCorrupt(path, problems, newest[0] if newest else None)


def prepare_file(path: Path, *, thorough: bool = True) -> None:
    """Integrity check, backup, migrations: everything that must happen before the engine exists.

    `thorough=False`: quick_check instead of integrity_check (see safety.integrity_problems), for a
    command that opens the file again and again (`mirari sync` from a timer); the app's start keeps the
    full check."""
    _undo_interrupted_restore(path)
    create_private_file(path)
    _check_integrity(path, thorough)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        if path.stat().st_size == 0:  # nothing written yet: the page size can still be chosen
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE:d}")
        conn.execute("PRAGMA journal_mode = WAL")
        current = user_version(conn)
        if current > migrations.LATEST_VERSION:
            raise SchemaTooNew(
                f"{path} has schema v{current}, newer than this MIRARI understands (v{migrations.LATEST_VERSION}); "
                "update MIRARI to open it"
            )
        if current < migrations.LATEST_VERSION:
            if _has_content(conn):
                _archive_before_migrating(conn, path, current)
            migrations.migrate(conn)
        # Only a crash between flag and commit could leave it set; a committed '1' is repaired here.
        conn.execute("UPDATE sync_meta SET value = '0' WHERE key = 'capture_suppressed' AND value <> '0'")
    finally:
        conn.close()
