"""Restoring an archive over a database: staged, checked, then swapped — never half restored.

1. `stage()` verifies the archive and, in the same pass, writes its snapshot and attachments to staging
   files beside the database (`<db>.restore-staging-<stamp>`, `<stem>.files.restore-staging-<stamp>`).
   A refused archive leaves nothing behind and changes nothing.
2. The caller may adjust the staged database (`Staged.connect()`; agent/backup settles its sync state).
3. `Staged.commit()` checks the staged file again, writes a marker (`<db>.restore.json`) naming every
   file it is about to move, moves the live database (its -wal, -shm) and attachments folder aside,
   moves the staged ones in, and removes the marker: that removal is the commit. The aside copies are
   deleted afterwards (the caller made a "before restore" archive of them first).

Killed anywhere in step 3, the marker is still there, and the next open of the database
(`local_schema.prepare`) calls `undo_interrupted_restore`, which puts back whatever was moved: the data
is exactly as it was before the restore. The database must be closed by everyone meanwhile (the
caller holds the data dir's app lock and the database's sync lock).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from local_schema import paths
from local_schema.backup.archive import ArchiveProblem, Progress, utc_stamp
from local_schema.backup.verify import Verification, space_for, verify_archive
from local_schema.files import replace
from local_schema.safety import SIDECAR_SUFFIXES, integrity_problems

log = logging.getLogger(__name__)

MARKER_SUFFIX = ".restore.json"
STAGING = "restore-staging"
ASIDE = "before-restore"


class RestoreRefused(ArchiveProblem):
    """The archive cannot be restored (damaged, foreign, newer, no room); nothing was changed."""

    def __init__(self, reason: str, verification: Verification | None = None):
        super().__init__(reason)
        self.verification = verification


def marker_path(database: Path) -> Path:
    database = Path(database)
    return database.with_name(database.name + MARKER_SUFFIX)


def _quiet(_done: int, _total: int, _text: str) -> None:
    pass


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _merge(staged: Path, live: Path) -> None:
    """Move the staged files that the live folder lacks into it (content-addressed: same name, same bytes)."""
    for root, _dirs, files in os.walk(staged):
        for name in files:
            source = Path(root) / name
            target = live / source.relative_to(staged)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                replace(source, target)


def _fsync_tree(path: Path) -> None:
    """Make what was written under `path` (a file or a folder) durable before the swap relies on it."""
    targets = [path] if path.is_file() else [Path(root) / name for root, _dirs, files in os.walk(path)
                                             for name in files]
    for target in targets:
        with open(target, "r+b") as fh:  # Windows flushes only a handle open for writing
            os.fsync(fh.fileno())


def _write_marker(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    replace(tmp, path)
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass
class Staged:
    """A verified archive unpacked beside the database, not in place yet."""

    archive: Path
    database: Path
    manifest: dict
    stamp: str
    database_file: Path  # the staged snapshot
    files: Path  # the staged attachments folder (may be empty)

    def connect(self) -> sqlite3.Connection:
        """A connection to the staged database (autocommit; close it before `commit`)."""
        return sqlite3.connect(self.database_file, isolation_level=None)

    def discard(self) -> None:
        _remove(self.database_file)
        _remove(self.files)

    def commit(self, progress: Progress | None = None, *, keep_aside: bool = False,
               merge_files: bool = False) -> list[Path]:
        """Check the staged database, then swap it (and the attachments) in. Returns the aside copies
        kept (`keep_aside`: when no "before restore" archive could be made); else they are deleted.
        `merge_files` (recovery of a damaged database): the archive's attachments are added to the live
        folder where missing instead of replacing it; nothing of the live folder is removed."""
        progress = progress or _quiet
        conn = sqlite3.connect(self.database_file)
        try:
            problems = integrity_problems(conn, thorough=False)
        finally:
            conn.close()
        if problems is not None:
            self.discard()
            raise RestoreRefused(f"the restored database failed its check ({problems}); nothing was changed")
        _fsync_tree(self.database_file)
        _fsync_tree(self.files)
        database = self.database
        live_files = paths.attachments_dir(database)
        if merge_files:
            _merge(self.files, live_files)
        aside_db = database.with_name(f"{database.name}.{ASIDE}-{self.stamp}")
        plan = {
            "database": database.name,
            "had_database": database.exists(),
            "had_files": live_files.exists(),
            "merged_files": merge_files,  # the live folder stays where it is (files were only added)
            "staged_database": self.database_file.name,
            "staged_files": self.files.name,
            "aside_database": aside_db.name,
            "aside_files": f"{live_files.name}.{ASIDE}-{self.stamp}",
        }
        marker = marker_path(database)
        _write_marker(marker, plan)
        steps = 5
        progress(0, steps, "Putting the restored data in place…")
        for suffix in SIDECAR_SUFFIXES:  # a stale -wal must never meet the restored file
            sidecar = Path(f"{database}{suffix}")
            if sidecar.exists():
                replace(sidecar, Path(f"{aside_db}{suffix}"))
        progress(1, steps, "Putting the restored data in place…")
        if plan["had_database"]:
            replace(database, aside_db)
        progress(2, steps, "Putting the restored data in place…")
        if plan["had_files"] and not merge_files:
            replace(live_files, live_files.with_name(plan["aside_files"]))
        progress(3, steps, "Putting the restored data in place…")
        replace(self.database_file, database)
        progress(4, steps, "Putting the restored data in place…")
        if merge_files:
            _remove(self.files)
        else:
            replace(self.files, live_files)
        marker.unlink()  # the commit
        progress(5, steps, "Restored")
        aside = [aside_db, *(Path(f"{aside_db}{s}") for s in SIDECAR_SUFFIXES),
                 live_files.with_name(plan["aside_files"])]
        aside = [p for p in aside if p.exists()]
        if not keep_aside:
            for path in aside:
                _remove(path)
            return []
        return aside


def stage(archive: Path, database: Path, *, latest_schema: int | None = None, progress: Progress | None = None,
          check: Callable[[], None] | None = None) -> Staged:
    """Verify `archive` and unpack it beside `database` (see the module docstring). Raises
    RestoreRefused with the reason when it cannot be restored; nothing is left behind then."""
    database = Path(database)
    undo_interrupted_restore(database)
    stamp = utc_stamp(datetime.now(UTC))
    staged_db = database.with_name(f"{database.name}.{STAGING}-{stamp}")
    staged_files = paths.attachments_dir(database).with_name(f"{paths.attachments_dir(database).name}.{STAGING}-{stamp}")
    database.parent.mkdir(parents=True, exist_ok=True)
    for pattern in (f"{database.name}.{STAGING}-*", f"{paths.attachments_dir(database).name}.{STAGING}-*"):
        for leftover in database.parent.glob(pattern):  # of a restore killed before its swap began
            _remove(leftover)
    from local_schema.backup.verify import read_manifest

    try:
        manifest = read_manifest(archive)
    except ArchiveProblem as exc:
        raise RestoreRefused(str(exc)) from None
    if not space_for(manifest, database.parent):
        raise RestoreRefused(f"not enough free space beside {database.name} to unpack this backup "
                             f"({sum(m['size'] for m in manifest['members']) / 1e6:,.0f} MB); nothing was changed")
    staged_files.mkdir(mode=0o700)
    try:
        verification = verify_archive(archive, latest_schema=latest_schema, database_to=staged_db,
                                      attachments_to=staged_files, progress=progress, check=check)
    except BaseException:
        _remove(staged_db)
        _remove(staged_files)
        raise
    if not verification.sound:
        _remove(staged_db)
        _remove(staged_files)
        raise RestoreRefused(verification.reason, verification)
    return Staged(Path(archive), database, verification.manifest or {}, stamp, staged_db, staged_files)


def undo_interrupted_restore(database: Path) -> bool:
    """Put back what a restore killed half-way had moved (see the module docstring). True if it did."""
    database = Path(database)
    marker = marker_path(database)
    if not marker.exists():
        return False
    try:
        plan = json.loads(marker.read_text(encoding="utf-8"))
        names = [plan[k] for k in ("database", "staged_database", "staged_files", "aside_database", "aside_files")]
        had_database, had_files = bool(plan["had_database"]), bool(plan["had_files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # Written atomically, so this is a damaged disk or a hand-edited file: leave everything for a person.
        raise ArchiveProblem(f"an interrupted restore left {marker} and it cannot be read ({exc}); "
                             "nothing was changed") from exc
    folder = database.parent
    if any(Path(name).name != name or name in ("", ".", "..") for name in names):
        raise ArchiveProblem(f"{marker} names files outside {folder}; nothing was changed")
    live_files = paths.attachments_dir(database)
    aside_db, aside_files = folder / plan["aside_database"], folder / plan["aside_files"]
    trash = folder / plan["staged_database"]
    log.warning("undoing a restore of %s that was interrupted", database)
    if had_database and aside_db.exists() or not had_database:
        # The live file (if any) is the restored one, or a file opened from it: drop it and its sidecars.
        for suffix in ("", *SIDECAR_SUFFIXES):
            live = Path(f"{database}{suffix}")
            if live.exists():
                replace(live, Path(f"{trash}{suffix}"))
        if had_database:
            replace(aside_db, database)
    for suffix in SIDECAR_SUFFIXES:
        kept = Path(f"{aside_db}{suffix}")
        if kept.exists():
            replace(kept, Path(f"{database}{suffix}"))
    if plan.get("merged_files"):
        pass  # files were only added to the live folder: they are harmless where they are
    elif had_files and aside_files.exists() or not had_files:
        if live_files.exists():
            _remove(live_files)
        if had_files:
            replace(aside_files, live_files)
    for leftover in (trash, *(Path(f"{trash}{s}") for s in SIDECAR_SUFFIXES), folder / plan["staged_files"]):
        with contextlib.suppress(OSError):
            _remove(leftover)
    marker.unlink()
    return True
