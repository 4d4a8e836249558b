"""Verifying a `.mirari-backup` archive: every hash, the snapshot opened and checked, the counts compared.

A verification never trusts the archive: it may be truncated, damaged, edited, from a newer MIRARI, or
not a backup at all (any file can be given). Each problem is a sentence; the first one says why the
archive is refused. With `database_to` / `attachments_to` the members are written there while they are
checked (a restore stages them this way, in one pass); otherwise the snapshot goes to a temporary copy
that is opened, checked and deleted. Nothing is written anywhere else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import re
import sqlite3
import struct
import tempfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from local_schema.backup import deflate
from local_schema.backup.archive import (
    ATTACHMENTS,
    CHUNK,
    COMMENT_LENGTH,
    COMMENT_PREFIX,
    DATABASE,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    Progress,
    manifest_digest,
    table_counts,
)
from local_schema.files import is_device_name
from local_schema.safety import create_private_file, integrity_problems, read_only_uri

MAX_MANIFEST = 64 << 20  # bytes; a manifest listing a million attachments is ~150 MB… of which we allow 64
MAX_NAME = 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# What zipfile raises for a damaged or crafted archive: a damaged deflate stream or CRC, a header claiming
# encryption or an unknown method, a size or offset past the end.
ZIP_ERRORS = (zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError, ValueError, struct.error,
              *deflate.ERRORS)


@dataclass
class Verification:
    path: Path
    manifest: dict | None = None
    problems: list[str] = field(default_factory=list)
    newer: bool = False  # made by a newer MIRARI: this one refuses to restore it

    @property
    def sound(self) -> bool:
        return not self.problems

    @property
    def reason(self) -> str:
        return self.problems[0] if self.problems else "sound"


def _quiet(_done: int, _total: int, _text: str) -> None:
    pass


def _never() -> None:
    pass


def safe_member_path(name: str) -> PurePosixPath | None:
    """The relative path under attachments/ of a member name that may be written to disk, else None
    (absolute, '..', a drive, a backslash, a device name: a crafted archive must not write elsewhere)."""
    if not name.startswith(ATTACHMENTS) or len(name) > MAX_NAME or "\\" in name or "\0" in name or ":" in name:
        return None
    relative = PurePosixPath(name[len(ATTACHMENTS):])
    if relative.is_absolute() or not relative.parts:
        return None
    if any(part in ("", ".", "..") or is_device_name(part) for part in relative.parts):
        return None
    return relative


def _valid_manifest(manifest: object) -> str | None:
    """None if the manifest has the shape we write, else what is wrong with it."""
    if not isinstance(manifest, dict):
        return "manifest.json is not a JSON object"
    if not isinstance(manifest.get("schema_version"), int) or isinstance(manifest.get("schema_version"), bool):
        return "manifest.json has no schema version"
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not all(isinstance(k, str) and isinstance(v, int) for k, v in counts.items()):
        return "manifest.json has no row counts"
    members = manifest.get("members")
    if not isinstance(members, list) or not members:
        return "manifest.json lists no members"
    for member in members:
        if not (isinstance(member, dict) and isinstance(member.get("name"), str)
                and isinstance(member.get("size"), int) and member["size"] >= 0
                and isinstance(member.get("sha256"), str) and _HEX64.match(member["sha256"])):
            return "manifest.json lists a member without its name, size and sha256"
        if member["name"] != DATABASE and safe_member_path(member["name"]) is None:
            return f"manifest.json lists a member with an unsafe name: {member['name'][:80]!r}"
    names = [m["name"] for m in members]
    if len(set(names)) != len(names):
        return "manifest.json lists a member twice"
    if DATABASE not in names:
        return "manifest.json lists no database snapshot"
    return None


def _archive_digest(path: Path, size: int, check: Callable[[], None]) -> str:
    digest, left = hashlib.sha256(), size - COMMENT_LENGTH
    with open(path, "rb") as fh:
        while left > 0:
            check()
            chunk = fh.read(min(CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _read_manifest(zf: zipfile.ZipFile, result: Verification) -> dict | None:
    try:
        info = zf.getinfo(MANIFEST)
    except KeyError:
        result.problems.append("not a MIRARI backup: it has no manifest.json")
        return None
    if info.file_size > MAX_MANIFEST:
        result.problems.append("not a MIRARI backup: its manifest.json is far too large")
        return None
    try:
        with zf.open(info) as fh:
            raw = fh.read(MAX_MANIFEST + 1)
    except (OSError, *ZIP_ERRORS) as exc:
        result.problems.append(f"manifest.json is damaged ({exc})")
        return None
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError included
        result.problems.append("not a MIRARI backup: its manifest.json is not JSON")
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        result.problems.append("not a MIRARI backup: its manifest.json is not a MIRARI manifest")
        return None
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        result.newer = True
        result.problems.append(f"made by a newer MIRARI (backup format v{version}; this one reads up to "
                               f"v{FORMAT_VERSION}): update MIRARI to restore it")
        return None
    if manifest.get("manifest_sha256") != manifest_digest(manifest):
        result.problems.append("manifest.json was changed or damaged: its own sha256 does not match")
    shape = _valid_manifest(manifest)
    if shape is not None:
        result.problems.append(shape)
        return None
    return manifest


READ_AHEAD_FROM = 8 << 20  # bytes: a member this large is inflated on a thread while it is hashed


def _read(fh):
    while chunk := fh.read(CHUNK):
        yield chunk


def _read_ahead(fh):
    """The member's chunks, inflated (and CRC-checked) on a second thread while the caller hashes and
    writes the previous ones: ISA-L, hashlib and the file writes all release the GIL, so on two cores
    the two halves overlap. An error of the reader is raised here, in order; leaving early stops it."""
    chunks: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                chunk = fh.read(CHUNK)
                chunks.put(chunk)
                if not chunk:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed over to the consuming thread
            chunks.put(exc)

    reader = threading.Thread(target=read, name="mirari-verify-read", daemon=True)
    reader.start()
    try:
        while True:
            item = chunks.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                return
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue, then let it end
            with contextlib.suppress(queue.Empty):
                chunks.get(timeout=0.05)
        reader.join()


def _check_member(zf: zipfile.ZipFile, member: dict, target: Path | None, check: Callable[[], None],
                  on_chunk: Callable[[int], None]) -> str | None:
    """Stream one member through sha256 (into `target` if given); None if it matches the manifest."""
    name = member["name"]
    digest, size = hashlib.sha256(), 0
    out = None
    try:
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            create_private_file(target)
            out = open(target, "wb")  # noqa: SIM115 - closed in finally, also on a damaged member
        with zf.open(name) as fh:
            deflate.speed_up_reader(fh)  # before the first read (the read-ahead thread starts with it)
            chunks = _read_ahead(fh) if member["size"] >= READ_AHEAD_FROM else _read(fh)
            try:
                for chunk in chunks:
                    check()
                    size += len(chunk)
                    if size > member["size"]:
                        return f"{name} is damaged: it is larger than the manifest says"
                    digest.update(chunk)
                    if out is not None:
                        out.write(chunk)
                    on_chunk(len(chunk))
            finally:
                chunks.close()  # stops the read-ahead thread before the member is closed
    except ZIP_ERRORS as exc:
        return f"{name} is damaged ({exc})"
    finally:
        if out is not None:
            out.close()
    if size != member["size"]:
        return f"{name} is damaged: {size:,} bytes where the manifest says {member['size']:,}"
    if digest.hexdigest() != member["sha256"]:
        return f"{name} is damaged: its sha256 does not match the manifest"
    return None


def check_snapshot(snapshot: Path, manifest: dict) -> list[str]:
    """Open the snapshot read-only: PRAGMA integrity_check, its schema version and its row counts
    against the manifest."""
    try:
        conn = sqlite3.connect(read_only_uri(snapshot), uri=True)
    except sqlite3.Error as exc:
        return [f"the database snapshot cannot be opened ({exc})"]
    try:
        problems = integrity_problems(conn, thorough=True)
        if problems is not None:
            return [f"the database snapshot fails SQLite's integrity check ({problems})"]
        found: list[str] = []
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != manifest["schema_version"]:
            found.append(f"the database snapshot is schema v{version}, the manifest says "
                         f"v{manifest['schema_version']}")
        counts = table_counts(conn)
        if counts != manifest["counts"]:
            differ = sorted(t for t in set(counts) | set(manifest["counts"])
                            if counts.get(t) != manifest["counts"].get(t))
            shown = ", ".join(f"{t} {counts.get(t, 'missing')} (manifest: {manifest['counts'].get(t, 'none')})"
                              for t in differ[:3])
            found.append(f"the database snapshot's row counts differ from the manifest: {shown}")
        return found
    except sqlite3.DatabaseError as exc:
        return [f"the database snapshot cannot be read ({exc})"]
    finally:
        conn.close()


def verify_archive(path: Path, *, latest_schema: int | None = None, database_to: Path | None = None,
                   attachments_to: Path | None = None, scratch: Path | None = None,
                   progress: Progress | None = None, check: Callable[[], None] | None = None) -> Verification:
    """Check everything about the archive at `path` (see the module docstring). Never raises for a bad
    archive; `check()` may raise to cancel. `latest_schema`: the newest schema this MIRARI knows.
    `scratch`: where the temporary copy of the snapshot goes (a folder on a disk with room: the system's
    temp folder may be memory, and a database can be gigabytes); by default the system's."""
    if latest_schema is None:
        from local_schema.migrations import LATEST_VERSION as latest_schema
    progress, check = progress or _quiet, check or _never
    path = Path(path)
    result = Verification(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        result.problems.append(f"cannot read it ({exc.strerror or exc})")
        return result
    progress(0, 0, "Checking the archive…")
    try:
        zf = zipfile.ZipFile(path)
    except ZIP_ERRORS:
        result.problems.append("the archive is incomplete: its end is missing (truncated?)" if head == b"PK\x03\x04"
                               else "not a MIRARI backup: it is not a ZIP archive")
        return result
    except OSError as exc:
        result.problems.append(f"cannot read it ({exc.strerror or exc})")
        return result
    with zf:
        comment = zf.comment
        manifest = _read_manifest(zf, result)
        if manifest is None:
            return result
        result.manifest = manifest
        if manifest["schema_version"] > latest_schema:
            result.newer = True
            result.problems.append(f"made by a newer MIRARI (schema v{manifest['schema_version']}; this one knows "
                                   f"up to v{latest_schema}): update MIRARI to restore it")
        if len(comment) != COMMENT_LENGTH or not comment.startswith(COMMENT_PREFIX):
            result.problems.append("the archive's checksum is missing: its end was changed")
        in_zip = [info.filename for info in zf.infolist()]
        listed = {m["name"] for m in manifest["members"]}
        if len(set(in_zip)) != len(in_zip):
            result.problems.append("the archive holds a member twice")
        for extra in sorted(set(in_zip) - listed - {MANIFEST})[:3]:
            result.problems.append(f"{extra[:80]} is in the archive but not in its manifest")
        total = sum(m["size"] for m in manifest["members"])
        done = 0

        def advanced(n: int) -> None:
            nonlocal done
            done += n
            progress(done, total, "Checking every file in the backup…")

        database_ok = False
        snapshot_dir = None
        try:
            if database_to is None:
                snapshot_dir = tempfile.TemporaryDirectory(prefix="mirari-verify-", dir=scratch)
                database_to = Path(snapshot_dir.name) / DATABASE
            for member in manifest["members"]:
                name = member["name"]
                if name not in in_zip:
                    result.problems.append(f"{name[:80]} is listed in the manifest but missing from the archive")
                    continue
                target = database_to if name == DATABASE else (
                    attachments_to / safe_member_path(name) if attachments_to is not None else None)
                problem = _check_member(zf, member, target, check, advanced)
                if problem is not None:
                    result.problems.append(problem)
                elif name == DATABASE:
                    database_ok = True
            expected = comment[len(COMMENT_PREFIX):].decode("ascii", "replace")
            if (comment.startswith(COMMENT_PREFIX) and len(comment) == COMMENT_LENGTH
                    and _archive_digest(path, size, check) != expected):
                result.problems.append("the archive was changed or damaged after it was written: "
                                       "its checksum does not match")
            if database_ok:
                progress(total, total, "Opening the database snapshot…")
                result.problems.extend(check_snapshot(database_to, manifest))
        finally:
            if snapshot_dir is not None:
                with contextlib.suppress(OSError):
                    snapshot_dir.cleanup()
    return result


def read_manifest(path: Path) -> dict:
    """The manifest of an archive, checked against its own sha256 only (for listing: fast). Raises
    ArchiveProblem with the reason when it cannot be read."""
    from local_schema.backup.archive import ArchiveProblem

    result = Verification(Path(path))
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = _read_manifest(zf, result)
    except ZIP_ERRORS:
        raise ArchiveProblem("not a complete ZIP archive") from None
    except OSError as exc:
        raise ArchiveProblem(f"cannot read it ({exc.strerror or exc})") from None
    if manifest is None or result.problems:
        raise ArchiveProblem(result.reason)
    return manifest


def space_for(manifest: dict, folder: Path, margin: int = 64 << 20) -> bool:
    """Whether `folder`'s disk has room for the unpacked members (and a margin)."""
    import shutil

    try:
        return shutil.disk_usage(folder).free >= sum(m["size"] for m in manifest["members"]) + margin
    except OSError:
        return True
