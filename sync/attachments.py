"""Attachment bytes: the local content-addressed store, and their moves to and from Supabase Storage.

Local copies live under `local_schema.paths.attachments_dir(db.path)` as `<sha256[:2]>/<sha256>` (files
0600, folders 0700): two attachments with the same bytes share one file, and a file's name says what its
bytes must hash to. A file is only ever complete: bytes go to a temp file in the same folder, are flushed
and fsynced, checked, and renamed into place; a crash or an interrupted transfer leaves at most a
`.part` file, which the next write or `tidy()` removes.

Order (docs/attachments.md): the row is pushed first, the bytes are uploaded after it. The bucket's
insert policy only accepts an object for a live attachment row at its path, so nothing is uploaded for a
row the server refused, and another device that sees the row before its bytes simply finds "not there
yet" and retries. Uploads wait in `attachment_uploads` (with their backoff); a delete made here queues
the object's removal in `attachment_removals` (a trigger), which is sent once no delete is waiting in the
outbox (the tombstone reached the server first), and the local file goes once no attachment uses it.
Downloads happen on demand (`fetch`): first view, or `mirari attachments get`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from local_schema import paths
from sync.errors import SyncError, backoff_delay
from sync.storage import StorageFailed

log = logging.getLogger(__name__)

BUCKET = "attachments"
PART = ".part"
CHUNK = 1 << 20
UPLOAD_BACKOFF_CAP = 300.0  # seconds between two tries of one upload, at most
FETCH_ATTEMPTS = 4


class AttachmentError(SyncError):
    """An attachment's bytes cannot be had (not here, not on the server, or not what the row says)."""


# -- the local store ---------------------------------------------------------------------------------

def store_root(db) -> Path:
    return paths.attachments_dir(Path(db.path))


def blob_path(root: Path, sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise AttachmentError(f"not a SHA-256: {sha256!r}")
    return root / sha256[:2] / sha256


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # Windows cannot open a folder to sync it; its renames are journaled
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Part:
    """A temp file beside where a blob will live, renamed into place only when complete and checked."""

    def __init__(self, root: Path):
        self.folder = _private_dir(root)
        self.path = self.folder / f".{secrets.token_hex(8)}{PART}"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self.hash, self.size = hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.file.write(data)
        self.hash.update(data)
        self.size += len(data)
        return len(data)

    def commit(self, root: Path, expected: str | None = None) -> str:
        """fsync, check, rename to its content address; returns the SHA-256."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        digest = self.hash.hexdigest()
        if expected is not None and digest != expected:
            self.discard()
            raise AttachmentError(f"the bytes hash to {digest[:12]}…, not {expected[:12]}… as the attachment says")
        target = blob_path(root, digest)
        _private_dir(target.parent)
        os.replace(self.path, target)
        _fsync_dir(target.parent)
        return digest

    def discard(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.path.unlink(missing_ok=True)


def put_stream(root: Path, source: BinaryIO, max_size: int | None = None) -> tuple[str, int]:
    """Copy `source` into the store; (sha256, size). More than `max_size` bytes is refused, nothing kept."""
    part = _Part(root)
    try:
        while chunk := source.read(CHUNK):
            part.write(chunk)
            if max_size is not None and part.size > max_size:
                raise AttachmentError(f"larger than the limit of {max_size:,} bytes")
        size = part.size
        return part.commit(root), size
    except BaseException:
        part.discard()
        raise


def put_bytes(root: Path, data: bytes) -> str:
    import io

    return put_stream(root, io.BytesIO(data))[0]


def local_copy(root: Path, sha256: str, size: int | None = None) -> Path | None:
    """The stored file for `sha256` if it is there and whole (its size; the name was checked when written)."""
    path = blob_path(root, sha256)
    try:
        stat = path.stat()
    except OSError:
        return None
    return path if size is None or stat.st_size == size else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# -- what is waiting ---------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


_UPLOADS_DUE = """
SELECT a.id, a.storage_path, a.sha256, a.size, a.mime_type, u.attempts
  FROM attachment_uploads u JOIN attachments a ON a.id = u.attachment_id
 WHERE a.user_id IS NOT NULL AND a.storage_path IS NOT NULL AND a.deleted_at IS NULL
   AND (u.next_attempt_at IS NULL OR u.next_attempt_at <= ?)
   AND NOT EXISTS (SELECT 1 FROM sync_outbox o WHERE o.table_name = 'attachments' AND o.row_id = a.id
                    AND o.state IN ('pending', 'parked'))
 ORDER BY a.created_at
"""

_REMOVALS_DUE = """
SELECT id, storage_path FROM attachment_removals
 WHERE storage_path IS NOT NULL AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
   AND NOT EXISTS (SELECT 1 FROM sync_outbox WHERE kind = 'delete' AND state = 'pending')
 ORDER BY id LIMIT 100
"""


@dataclass
class TransferReport:
    uploaded: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # attachment id or path -> why

    def to_dict(self) -> dict:
        return {"uploaded": len(self.uploaded), "removed": len(self.removed), "failed": dict(self.failed)}


def has_work(db) -> bool:
    """Uploads or removals waiting (whatever their backoff): a sync cycle has bytes to move."""
    with db.engine.connect() as conn:
        return bool(conn.exec_driver_sql(
            "SELECT EXISTS (SELECT 1 FROM attachment_uploads) OR EXISTS (SELECT 1 FROM attachment_removals)"
        ).scalar())


def _retry_later(db, table: str, key_column: str, key, attempts: int, error: str) -> None:
    delay = backoff_delay(attempts, cap=UPLOAD_BACKOFF_CAP)
    with db.write() as session:
        session.connection().exec_driver_sql(
            f"UPDATE {table} SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE {key_column} = ?",
            (attempts + 1, _stamp(_now() + timedelta(seconds=delay)), error[:500], key))


def upload_due(db, client, report: TransferReport | None = None) -> TransferReport:
    """Upload every attachment whose row is on the server and whose backoff is over."""
    report = report or TransferReport()
    root = store_root(db)
    with db.engine.connect() as conn:
        due = conn.exec_driver_sql(_UPLOADS_DUE, (_stamp(_now()),)).fetchall()
    for attachment_id, storage_path, sha256, size, mime_type, attempts in due:
        source = local_copy(root, sha256, size)
        try:
            if source is None:
                raise AttachmentError("its bytes are not on this device any more")
            with open(source, "rb") as f:
                client.upload(BUCKET, storage_path, f, size, mime_type)
        except (StorageFailed, AttachmentError, OSError) as exc:
            report.failed[attachment_id] = str(exc)
            _retry_later(db, "attachment_uploads", "attachment_id", attachment_id, attempts, str(exc))
            continue
        with db.write() as session:
            session.connection().exec_driver_sql("DELETE FROM attachment_uploads WHERE attachment_id = ?",
                                                 (attachment_id,))
        report.uploaded.append(attachment_id)
    return report


def remove_due(db, client, report: TransferReport | None = None) -> TransferReport:
    """Remove the objects of attachments deleted here, once their tombstones have left the outbox."""
    report = report or TransferReport()
    with db.engine.connect() as conn:
        due = conn.exec_driver_sql(_REMOVALS_DUE, (_stamp(_now()),)).fetchall()
    if not due:
        return report
    try:
        client.remove(BUCKET, sorted({path for _, path in due}))
    except StorageFailed as exc:
        for removal_id, path in due:
            report.failed[path] = str(exc)
            with db.engine.connect() as conn:
                attempts = conn.exec_driver_sql("SELECT attempts FROM attachment_removals WHERE id = ?",
                                                (removal_id,)).scalar() or 0
            _retry_later(db, "attachment_removals", "id", removal_id, attempts, str(exc))
        return report
    with db.write() as session:
        session.connection().exec_driver_sql(
            f"DELETE FROM attachment_removals WHERE id IN ({','.join('?' * len(due))})",
            tuple(removal_id for removal_id, _ in due))
    report.removed.extend(path for _, path in due)
    return report


def tidy(db) -> int:
    """Local clean-up, no network: delete the files no attachment uses any more, forget removals that
    need no server call (a pulled delete, a row never uploaded), and drop stale `.part` files.
    Returns the files deleted."""
    root = store_root(db)
    with db.engine.connect() as conn:
        queued = conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM attachment_removals)").scalar()
    gone: list[str] = []
    if queued:
        gone = _forget_local_removals(db)
    deleted = 0
    for sha in gone:
        try:
            blob_path(root, sha).unlink()
            deleted += 1
        except (FileNotFoundError, AttachmentError):
            pass
    if root.is_dir():
        cutoff = time.time() - 3600  # a .part an hour old belongs to no transfer still running
        for part in root.glob(f".*{PART}"):  # temp files are made in the root folder only
            try:
                if part.stat().st_mtime < cutoff:
                    part.unlink()
            except OSError:
                pass
    return deleted


def _forget_local_removals(db) -> list[str]:
    """The SHA-256s no attachment uses any more; the removals that need no server call are forgotten."""
    with db.write() as session:
        conn = session.connection()
        gone = [sha for (sha,) in conn.exec_driver_sql(
            "SELECT DISTINCT r.sha256 FROM attachment_removals r"
            " WHERE NOT EXISTS (SELECT 1 FROM attachments a WHERE a.sha256 = r.sha256)").fetchall()]
        conn.exec_driver_sql("DELETE FROM attachment_removals WHERE storage_path IS NULL")
    return gone


def transfer(db, client) -> TransferReport:
    """One round of bytes sync: uploads due, removals due, local clean-up. Never raises for a transfer's
    trouble (it is recorded on its row and retried with backoff)."""
    report = TransferReport()
    upload_due(db, client, report)
    tidy(db)  # first: it needs the removals' SHA-256s, which remove_due forgets
    remove_due(db, client, report)
    return report


# -- downloads on demand -----------------------------------------------------------------------------

def fetch(db, client, attachment_id: str, *, attempts: int = FETCH_ATTEMPTS,
          sleep: Callable[[float], None] = time.sleep) -> Path:
    """The attachment's bytes on this device: the local copy, else downloaded from Storage (checked
    against the row's size and SHA-256, retried with backoff). Raises AttachmentError with the reason."""
    from local_schema.models import Attachment

    with db.session() as session:
        row = session.get(Attachment, attachment_id)
    if row is None or row.deleted_at is not None:
        raise AttachmentError(f"no attachment {attachment_id}")
    root = store_root(db)
    found = local_copy(root, row.sha256, row.size)
    if found is not None:
        return found
    if client is None:
        raise AttachmentError(f"{row.name} is not on this device, and you are signed out: sign in to download it")
    if not row.storage_path:
        raise AttachmentError(f"{row.name} has not been uploaded from the device that attached it")
    last = ""
    for attempt in range(attempts):
        if attempt:
            sleep(backoff_delay(attempt - 1, base=0.5, cap=8.0))
        part = _Part(root)
        try:
            client.download_to(BUCKET, row.storage_path, part, row.size)
            if part.size != row.size:
                raise AttachmentError(f"the download stopped after {part.size:,} of {row.size:,} bytes")
            part.commit(root, expected=row.sha256)
            return blob_path(root, row.sha256)
        except StorageFailed as exc:
            part.discard()
            last = ("it is not on the server yet (the device that attached it has not uploaded it)"
                    if exc.not_found else str(exc))
            if not exc.transient and not exc.not_found:
                break
        except AttachmentError as exc:
            part.discard()
            last = str(exc)
        except BaseException:
            part.discard()
            raise
    raise AttachmentError(f"{row.name} could not be downloaded: {last}")
