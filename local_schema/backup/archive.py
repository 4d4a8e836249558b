"""Writing a `.mirari-backup` archive: a ZIP of a consistent snapshot, the attachments' files, a manifest.

    database.sqlite3      SQLite's online backup of the database (never a copy of the live file), made
                          standalone (rollback journal), deflated
    attachments/<path>    every file under the database's attachments folder, stored as they are
    manifest.json         app and schema version, created at, kind, account, device, row counts per
                          table, size and sha256 of every member, and `manifest_sha256` over the rest of it

The ZIP comment holds `mirari-backup sha256:<hex>`: the sha256 of every byte of the file before the
comment, so one flipped byte anywhere (a member, a header, the directory) is caught, and a truncated
file has no comment at all. Everything is streamed in 1 MiB chunks, members as ZIP64 when they need it:
a multi-GB database never sits in memory. The archive is written under a temporary name and renamed
when complete, so a crash or a kill never leaves a half archive under a backup's name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import sqlite3
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from local_schema import paths
from local_schema.backup import deflate
from local_schema.files import replace
from local_schema.safety import create_private_file, integrity_problems, read_only_uri

log = logging.getLogger(__name__)

SUFFIX = ".mirari-backup"
FORMAT = "mirari.backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "database.sqlite3"
ATTACHMENTS = "attachments/"
COMMENT_PREFIX = b"mirari-backup sha256:"
COMMENT_LENGTH = len(COMMENT_PREFIX) + 64
CHUNK = 1 << 20
KINDS = ("automatic", "before migration", "before restore", "before import", "manual")
PARTIAL = ".partial"  # an archive being written; SNAPSHOT: a snapshot waiting to be archived
SNAPSHOT = ".backup-snapshot"
STALE_AFTER_S = 6 * 3600  # leftovers of a killed backup older than this are removed by the next one
_NAME = re.compile(r"^(?P<stem>.+)\.(?P<stamp>\d{8}T\d{12}Z)\.(?P<kind>[a-z-]+)" + re.escape(SUFFIX) + "$")

Progress = Callable[[int, int, str], None]


class ArchiveProblem(Exception):
    """An archive could not be made, or is not a sound MIRARI backup; str() says why in a sentence."""


@dataclass(frozen=True)
class Archive:
    path: Path
    manifest: dict

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def _quiet(_done: int, _total: int, _text: str) -> None:
    pass


def _never() -> None:
    pass


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def archive_name(database: Path, kind: str, moment: datetime) -> str:
    """`<database stem>.<UTC stamp>.<kind>.mirari-backup`: grouped per database, sorted by time."""
    if kind not in KINDS:
        raise ValueError(f"unknown backup kind {kind!r}")
    return f"{Path(database).stem}.{utc_stamp(moment)}.{kind.replace(' ', '-')}{SUFFIX}"


def parse_name(name: str) -> tuple[str, str, str] | None:
    """(database stem, UTC stamp, kind) of an archive name made by `archive_name`, else None."""
    found = _NAME.match(name)
    if found is None or found["kind"].replace("-", " ") not in KINDS:
        return None
    return found["stem"], found["stamp"], found["kind"].replace("-", " ")


def manifest_digest(manifest: dict) -> str:
    """sha256 of the manifest's canonical JSON without its own `manifest_sha256`."""
    rest = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    canonical = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mirari-desktop")
    except PackageNotFoundError:
        return "0+unknown"


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per ordinary table (virtual tables are counted through their shadow tables)."""
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "AND coalesce(sql, '') NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name")]
    quoted = {name: '"' + name.replace('"', '""') + '"' for name in names}
    return {name: conn.execute(f"SELECT count(*) FROM {quoted[name]}").fetchone()[0] for name in names}


class _HashingSink:
    """The archive file as zipfile sees it: write-only, without seek or tell, so zipfile streams each
    member with a data descriptor and every byte passes here exactly once. All of them are hashed except
    the last COMMENT_LENGTH (the comment, which will hold that hash)."""

    def __init__(self, raw):
        self.raw = raw
        self.hash = hashlib.sha256()
        self.tail = b""

    def write(self, data) -> int:
        data = bytes(data)
        self.raw.write(data)
        held = self.tail + data
        if len(held) > COMMENT_LENGTH:
            self.hash.update(memoryview(held)[:-COMMENT_LENGTH])
            held = held[-COMMENT_LENGTH:]
        self.tail = held
        return len(data)

    def flush(self) -> None:
        self.raw.flush()


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    return moment.astimezone(UTC).timetuple()[:6]


def _add_file(zf: zipfile.ZipFile, source: Path, name: str, moment: datetime, *, compress: bool,
              check: Callable[[], None], on_chunk: Callable[[int], None]) -> dict:
    info = zipfile.ZipInfo(name, date_time=_zip_time(moment))
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o600 << 16
    info.file_size = source.stat().st_size  # decides ZIP64 up front (a streamed member cannot go back)
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as src, zf.open(info, "w") as out:
        if compress:
            deflate.speed_up_writer(out)
        while chunk := src.read(CHUNK):
            check()
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
            on_chunk(len(chunk))
    return {"name": name, "size": size, "sha256": digest.hexdigest()}


def attachment_files(folder: Path | None) -> list[tuple[Path, str]]:
    """(file, its name in the archive) for every regular file under `folder`, sorted; none if it is missing."""
    if folder is None or not Path(folder).is_dir():
        return []
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                found.append((path, ATTACHMENTS + path.relative_to(folder).as_posix()))
    return found


def take_snapshot(source: sqlite3.Connection, destination: Path) -> None:
    """Copy the database through SQLite's online backup API in one step (one read transaction: a
    consistent state, commits still in the -wal included, writers never blocked) and make the copy a
    standalone file (rollback journal)."""
    destination.unlink(missing_ok=True)
    create_private_file(destination)
    target = sqlite3.connect(destination, isolation_level=None)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()


class _SnapshotLook(threading.Thread):
    """Checks the snapshot (quick_check) and counts its rows on a thread of its own while the main
    thread compresses it (SQLite and ISA-L both release the GIL: on two cores the check costs nothing)."""

    def __init__(self, snapshot: Path):
        super().__init__(name="mirari-backup-check", daemon=True)
        self.snapshot = snapshot
        self.version: int = 0
        self.counts: dict[str, int] = {}
        self.problem: str | None = None

    def run(self) -> None:
        try:
            conn = sqlite3.connect(read_only_uri(self.snapshot), uri=True)
            try:
                found = integrity_problems(conn, thorough=False)
                if found is not None:
                    self.problem = f"the database itself is damaged ({found}); nothing was backed up"
                    return
                self.version = conn.execute("PRAGMA user_version").fetchone()[0]
                self.counts = table_counts(conn)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            self.problem = f"the database snapshot cannot be read ({exc}); nothing was backed up"

    def result(self) -> tuple[int, dict[str, int]]:
        self.join()
        if self.problem is not None:
            raise ArchiveProblem(self.problem)
        return self.version, self.counts


def remove_stale_leftovers(folder: Path, pattern: str, older_than_s: float = STALE_AFTER_S) -> None:
    """Delete what a killed backup or restore left behind (never a finished archive)."""
    cutoff = time.time() - older_than_s
    for path in Path(folder).glob(pattern):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            log.debug("could not remove the leftover %s", path, exc_info=True)


def _fsync_dir(folder: Path) -> None:
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def create_archive(database: Path, folder: Path, *, kind: str, account: dict | None = None,
                   source: sqlite3.Connection | None = None, destination: Path | None = None,
                   attachments: Path | None = None, progress: Progress | None = None,
                   check: Callable[[], None] | None = None, now: datetime | None = None) -> Archive:
    """Back up `database` into `folder` (or to `destination`) and return the archive.

    `source`: an open connection to read from (a migration's own); by default a read-only one is opened.
    `attachments`: the folder whose files go in (default: the database's, paths.attachments_dir).
    `check()` may raise to cancel (between chunks); nothing is left behind then. `progress(done, total,
    text)` reports bytes written. Raises ArchiveProblem (damaged database) or OSError (disk full, …)."""
    database = Path(database)
    progress, check = progress or _quiet, check or _never
    moment = now or datetime.now(UTC)
    if destination is None:
        destination = Path(folder) / archive_name(database, kind, moment)
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_leftovers(destination.parent, f"*{SUFFIX}*{PARTIAL}")
    remove_stale_leftovers(database.parent, f"*{SNAPSHOT}")
    snapshot = database.with_name(f"{database.name}.{os.getpid()}.{utc_stamp(moment)}{SNAPSHOT}")
    partial = destination.with_name(f"{destination.name}.{os.getpid()}{PARTIAL}")
    files = attachment_files(paths.attachments_dir(database) if attachments is None else attachments)
    look: _SnapshotLook | None = None
    try:
        progress(0, 0, "Taking a snapshot of the database…")
        opened = source is None
        conn = sqlite3.connect(read_only_uri(database), uri=True) if opened else source
        try:
            take_snapshot(conn, snapshot)
        finally:
            if opened:
                conn.close()
        check()
        look = _SnapshotLook(snapshot)
        look.start()
        total = snapshot.stat().st_size + sum(path.stat().st_size for path, _ in files)
        done = 0

        def advanced(n: int) -> None:
            nonlocal done
            done += n
            progress(done, total, "Writing the backup…")

        members = []
        create_private_file(partial)
        with open(partial, "r+b") as raw:
            sink = _HashingSink(raw)
            with zipfile.ZipFile(sink, "w", allowZip64=True) as zf:
                members.append(_add_file(zf, snapshot, DATABASE, moment, compress=True, check=check,
                                         on_chunk=advanced))
                for path, name in files:
                    members.append(_add_file(zf, path, name, moment, compress=False, check=check,
                                             on_chunk=advanced))
                version, counts = look.result()
                manifest = {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "app_version": app_version(),
                    "schema_version": version,
                    "created_at": moment.astimezone(UTC).isoformat(timespec="microseconds"),
                    "kind": kind,
                    "database": database.stem,
                    "account": account,
                    "device": platform.node()[:200],
                    "counts": counts,
                    "members": members,
                }
                manifest["manifest_sha256"] = manifest_digest(manifest)
                info = zipfile.ZipInfo(MANIFEST, date_time=_zip_time(moment))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o600 << 16
                zf.writestr(info, json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
                zf.comment = COMMENT_PREFIX + b"0" * 64
            raw.seek(-64, os.SEEK_END)
            raw.write(sink.hash.hexdigest().encode("ascii"))
            raw.flush()
            os.fsync(raw.fileno())
        replace(partial, destination)
        _fsync_dir(destination.parent)
        progress(total, total, "Backed up")
        return Archive(destination, manifest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        if look is not None:
            look.join()  # it reads the snapshot (Windows cannot delete an open file)
        snapshot.unlink(missing_ok=True)
