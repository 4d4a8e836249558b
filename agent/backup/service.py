"""Backing up, listing, verifying and restoring the active database of a data dir: the window's Settings →
Backups and `mirari backup` do exactly this.

- `create_backup`: an archive of the active database into the backups folder (or a chosen file), the
  account recorded; MIRARI's own archives in the folder are then thinned (agent.backup.thinning).
- `restore_backup`: with the data dir's app lock (the window holds it and has closed its database; the
  command takes it, refused while a window is open) and the database's sync lock (no `mirari sync`
  meanwhile): verify and unpack beside the database, make a "before restore" archive of the current
  data, settle the staged copy's sync state on an account's device (sync.restored), swap. A damaged,
  foreign or newer archive, or one of another account, is refused and nothing changes.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from agent.backup.thinning import Limits, thin_folder
from local_schema import paths
from local_schema.backup.archive import Archive, ArchiveProblem, create_archive
from local_schema.backup.restore import RestoreRefused, stage, undo_interrupted_restore
from local_schema.backup.settings import backups_dir, load_settings
from local_schema.backup.verify import Verification, read_manifest, verify_archive

Progress = Callable[[int, int, str], None]
SYNC_LOCK_TIMEOUT = 120.0  # a sync cycle in flight is waited for (sync.engine.LOCK_TIMEOUT)
# Tables whose counts a person recognises (the manifest counts every table, search index included).
SHOWN_COUNTS = ("conversations", "messages", "memory_nodes", "skills", "tasks", "mirror_reports",
                "dream_reports", "templates", "agent_connections")


def active_database(data_dir: Path) -> Path:
    from sync.accounts import active_database_path

    return active_database_path(Path(data_dir))


def account_of(data_dir: Path, database: Path) -> dict | None:
    """{"id", "email"} of the account whose database this is, or None for the signed-out one."""
    from sync.accounts import load_state

    account = paths.account_of(database)
    if account is None:
        return None
    state = load_state(Path(data_dir))
    return {"id": account, "email": state.email if state.active_account == account else None}


def thin(data_dir: Path, now: datetime | None = None) -> list[Path]:
    settings = load_settings(data_dir)
    limits = Limits(settings.keep_daily, settings.keep_weekly, settings.keep_monthly)
    folder = backups_dir(data_dir, settings)
    return thin_folder(folder, limits, now or datetime.now().astimezone()) if folder.is_dir() else []


def create_backup(data_dir: Path, *, kind: str = "manual", database: Path | None = None,
                  destination: Path | None = None, progress: Progress | None = None,
                  check: Callable[[], None] | None = None, now: datetime | None = None) -> Archive:
    """Archive the active database (or `database`) and thin the folder. Raises ArchiveProblem / OSError."""
    data_dir = Path(data_dir)
    database = Path(database or active_database(data_dir))
    if not database.exists():
        raise ArchiveProblem(f"there is no database to back up yet ({database})")
    archive = create_archive(database, backups_dir(data_dir), kind=kind, account=account_of(data_dir, database),
                             destination=destination, progress=progress, check=check, now=now)
    if destination is None:
        thin(data_dir, now.astimezone() if now else None)
    return archive


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


@dataclass
class BackupEntry:
    path: Path
    size: int
    manifest: dict | None
    problem: str | None = None  # the manifest cannot be read: a damaged or foreign file

    @property
    def created_at(self) -> str | None:
        return (self.manifest or {}).get("created_at")

    @property
    def kind(self) -> str | None:
        return (self.manifest or {}).get("kind")

    @property
    def account(self) -> str | None:
        account = (self.manifest or {}).get("account")
        if not isinstance(account, dict):
            return None
        return account.get("email") or account.get("id")

    def counts(self) -> dict[str, int]:
        """The person's tables' rows, and the attachments' files."""
        manifest = self.manifest or {}
        counts = {t: n for t, n in manifest.get("counts", {}).items() if t in SHOWN_COUNTS}
        counts["attachments"] = sum(1 for m in manifest.get("members", ()) if m.get("name", "").startswith("attachments/"))
        return counts

    def summary(self) -> str:
        counts = self.counts()
        parts = [_count(counts.get(t, 0), one, many) for t, one, many in (
            ("conversations", "thread", "threads"), ("messages", "message", "messages"),
            ("memory_nodes", "memory", "memories"), ("tasks", "task", "tasks"))]
        if counts.get("attachments"):
            parts.append(_count(counts["attachments"], "file", "files"))
        return " · ".join(parts)

    def to_json(self) -> dict:
        return {"path": str(self.path), "created_at": self.created_at, "size": self.size, "kind": self.kind,
                "account": self.account, "schema_version": (self.manifest or {}).get("schema_version"),
                "app_version": (self.manifest or {}).get("app_version"),
                "counts": self.counts() if self.manifest else {}, "problem": self.problem}


def list_backups(data_dir: Path, folder: Path | None = None) -> list[BackupEntry]:
    """Every `.mirari-backup` in the backups folder, newest first (by the time in its manifest)."""
    folder = Path(folder or backups_dir(data_dir))
    entries = []
    for path in folder.glob("*.mirari-backup") if folder.is_dir() else ():
        try:
            size = path.stat().st_size
        except OSError:
            continue
        try:
            entries.append(BackupEntry(path, size, read_manifest(path)))
        except ArchiveProblem as exc:
            entries.append(BackupEntry(path, size, None, str(exc)))
    return sorted(entries, key=lambda e: (e.created_at or "", e.path.name), reverse=True)


def verify_backup(path: Path, data_dir: Path | None = None, progress: Progress | None = None,
                  check: Callable[[], None] | None = None) -> Verification:
    """Verify an archive; its snapshot's temporary copy goes into the data dir (a real disk with room,
    where the database itself lives; the system's temp folder may be memory)."""
    return verify_archive(Path(path), scratch=Path(data_dir) if data_dir else None, progress=progress, check=check)


@dataclass
class Restored:
    archive: Path
    manifest: dict
    before: Path | None  # the "before restore" archive of the data as it was
    held: int = 0  # rows whose waiting changes were held (an account's device)
    kept_aside: list[Path] = field(default_factory=list)  # the old files, when no archive could be made

    def summary(self) -> str:
        text = f"Restored the backup of {self.manifest.get('created_at', '?')[:19].replace('T', ' ')} UTC."
        if self.before is not None:
            text += f" The data as it was is kept in {self.before.name}."
        elif self.kept_aside:
            text += f" The data as it was (damaged) is kept as {self.kept_aside[0].name}."
        if self.held:
            text += (f" {self.held:,} change(s) that were waiting in the backup are held as refused "
                     "(from a restored backup): Retry or Discard them in the Sync panel.")
        return text


def check_account(data_dir: Path, manifest: dict) -> None:
    """Raise RestoreRefused when the backup holds another account's data than the active database's."""
    from sync.accounts import load_state

    state = load_state(Path(data_dir))
    _check_account(manifest, state.active_account, state.email)


def _check_account(manifest: dict, target_account: str | None, email: str | None) -> None:
    account = manifest.get("account") if isinstance(manifest.get("account"), dict) else None
    owner = account.get("id") if account else None
    if owner is None or owner == target_account:
        return
    whose = account.get("email") or owner
    now = f"you are signed in as {email}" if target_account and email else "this data is not that account's"
    raise RestoreRefused(f"this backup holds the data of the account {whose}, and {now}: sign in to that "
                         "account, then restore it (nothing was changed)")


@contextlib.contextmanager
def _data_locked(data_dir: Path, database: Path, app_lock_held: bool):
    from sync.accounts import app_lock
    from sync.errors import SyncError
    from sync.filelock import FileLock, LockTimeout

    lock = None
    if not app_lock_held:
        lock = app_lock(data_dir)
        try:
            lock.acquire(timeout=0)
        except LockTimeout:
            raise SyncError("MIRARI is open on this data folder: restore from Settings → Backups in its window, "
                            "or close it first (nothing was changed)") from None
    sync_lock = FileLock(Path(f"{database}.sync-lock"))
    try:
        sync_lock.acquire(SYNC_LOCK_TIMEOUT)
        try:
            yield
        finally:
            sync_lock.release()
    finally:
        if lock is not None:
            lock.release()


def restore_backup(data_dir: Path, archive: Path, *, app_lock_held: bool = False, progress: Progress | None = None,
                   check: Callable[[], None] | None = None, now: datetime | None = None) -> Restored:
    """Restore `archive` over the active database (see the module docstring). Raises RestoreRefused (with
    the reason; nothing changed), SyncError (the window has the data open), OSError."""
    from sync.accounts import load_state
    from sync.restored import settle_restored

    data_dir, archive = Path(data_dir), Path(archive)
    state = load_state(data_dir)
    database = paths.database_path(data_dir, state.active_account)
    try:
        manifest = read_manifest(archive)
    except ArchiveProblem as exc:
        raise RestoreRefused(f"{archive.name}: {exc}") from None
    _check_account(manifest, state.active_account, state.email)
    moment = now or datetime.now(UTC)
    with _data_locked(data_dir, database, app_lock_held):
        undo_interrupted_restore(database)
        # The "before restore" archive of the current data is made while the archive is checked and
        # unpacked (both mostly wait on SQLite, ISA-L and hashing, which release the GIL).
        with ThreadPoolExecutor(1, thread_name_prefix="mirari-before-restore") as pool:
            before_job = pool.submit(_before_restore, data_dir, database, progress, check) if database.exists() else None
            try:
                staged = stage(archive, database, progress=progress, check=check)
            except BaseException:
                if before_job is not None:
                    made = _outcome(before_job)
                    if made is not None:  # nothing was restored: no "before restore" backup either
                        made.path.unlink(missing_ok=True)
                raise
            try:
                before = before_job.result() if before_job is not None else None
                held = 0
                if state.active_account:
                    conn = staged.connect()
                    try:
                        held = settle_restored(conn, state.active_account, moment.isoformat(timespec="microseconds"))
                    finally:
                        conn.close()
                # A current file too damaged to archive is kept aside as it is instead.
                aside = staged.commit(progress, keep_aside=database.exists() and before is None)
            except BaseException:
                staged.discard()
                raise
    with contextlib.suppress(OSError):
        thin(data_dir)
    return Restored(archive, manifest, before.path if before else None, held, aside)


def _before_restore(data_dir: Path, database: Path, progress: Progress | None,
                    check: Callable[[], None] | None) -> Archive | None:
    """The "before restore" archive, or None when the current file is too damaged to be archived."""
    try:
        return create_archive(database, backups_dir(data_dir), kind="before restore",
                              account=account_of(data_dir, database), progress=progress, check=check)
    except (ArchiveProblem, sqlite3.DatabaseError):
        return None


def _outcome(job) -> Archive | None:
    try:
        return job.result()
    except BaseException:  # noqa: BLE001 - the restore's own error is the one to report
        return None


def before(data_dir: Path, kind: str, progress: Progress | None = None,
           check: Callable[[], None] | None = None) -> Archive | None:
    """The archive MIRARI makes before an import (kind "before import") or another change of many rows;
    None when there is no database yet."""
    database = active_database(data_dir)
    if not database.exists():
        return None
    return create_backup(data_dir, kind=kind, database=database, progress=progress, check=check)
