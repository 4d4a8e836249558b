"""Knowledge sets: a named folder whose text, Markdown, code and PDF files are chunked into FTS5.

Each file is remembered by its path (relative to the folder), mtime, size and SHA-256. `reindex` walks
the folder: an unchanged mtime and size skips the file without reading it; a changed one is read and
hashed, and only different bytes are chunked again; files gone from the folder lose their passages. A
file that cannot be read as text or PDF is remembered with its error (and skipped until it changes).
Writes go in short transactions of about BATCH_BYTES of text, so the window and sync never wait long
for the write lock, and a cancelled reindex keeps every file it finished (the set's `indexed_at` moves
only when a reindex completes).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from agent.attachments.reading import TEXT_TYPES, AttachmentRefused, decode_text, pdf_text
from agent.jobs import JobContext
from agent.knowledge.chunking import chunks
from local_schema.timestamps import utc_now

INDEXED_SUFFIXES = frozenset({*TEXT_TYPES, ".pdf"})
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox",
                          ".mypy_cache", ".pytest_cache", "dist", "build", ".idea", ".vscode"})
MAX_FILE_BYTES = 20 * 1024 * 1024  # a bigger file is remembered as skipped
BATCH_BYTES = 4 * 1024 * 1024  # text per write transaction
NAME_LIMIT = 200
PROGRESS_EVERY = 0.1  # seconds between two progress reports


class KnowledgeError(ValueError):
    """A knowledge command that cannot be done; str() says why."""


@dataclass(frozen=True)
class KnowledgeSet:
    id: str
    name: str
    folder: str
    created_at: str
    indexed_at: str | None
    files: int
    passages: int
    skipped: int  # files that could not be read (their error is kept)
    bytes: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class IndexReport:
    name: str
    files: int = 0  # in the folder (indexable by name)
    read: int = 0  # read and chunked again
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    bytes: int = 0  # bytes read
    passages: int = 0  # passages written
    cancelled: bool = False

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _valid_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name or len(name) > NAME_LIMIT or any(ord(c) < 32 for c in name):
        raise KnowledgeError(f"a knowledge set's name must be 1 to {NAME_LIMIT} printable characters")
    return name


def add_set(db, name: str, folder: str | Path) -> str:
    """Create the set (not indexed yet: call reindex); returns its id."""
    name = _valid_name(name)
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise KnowledgeError(f"{folder} is not a folder")
    with db.write() as session:
        conn = session.connection()
        if conn.exec_driver_sql("SELECT 1 FROM knowledge_sets WHERE name = ?", (name,)).first():
            raise KnowledgeError(f"there is already a knowledge set named {name}")
        return conn.exec_driver_sql("INSERT INTO knowledge_sets (name, folder) VALUES (?, ?) RETURNING id",
                                    (name, str(path.resolve()))).scalar_one()


def set_by_name(db, name: str) -> tuple[str, Path]:
    with db.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT id, folder FROM knowledge_sets WHERE name = ?",
                                   (" ".join(str(name).split()),)).first()
    if row is None:
        raise KnowledgeError(f"no knowledge set named {name}")
    return row[0], Path(row[1])


def remove_set(db, name: str) -> None:
    set_id, _ = set_by_name(db, name)
    with db.write() as session:
        session.connection().exec_driver_sql("DELETE FROM knowledge_sets WHERE id = ?", (set_id,))


def list_sets(db) -> list[KnowledgeSet]:
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT s.id, s.name, s.folder, s.created_at, s.indexed_at,"
            " (SELECT count(*) FROM knowledge_files f WHERE f.set_id = s.id AND f.error IS NULL),"
            " (SELECT count(*) FROM knowledge_chunks c JOIN knowledge_files f ON f.id = c.file_id"
            "   WHERE f.set_id = s.id),"
            " (SELECT count(*) FROM knowledge_files f WHERE f.set_id = s.id AND f.error IS NOT NULL),"
            " (SELECT coalesce(sum(size), 0) FROM knowledge_files f WHERE f.set_id = s.id AND f.error IS NULL)"
            " FROM knowledge_sets s ORDER BY s.name").fetchall()
    return [KnowledgeSet(*row) for row in rows]


def skipped_files(db, name: str) -> list[tuple[str, str]]:
    set_id, _ = set_by_name(db, name)
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(
            "SELECT path, error FROM knowledge_files WHERE set_id = ? AND error IS NOT NULL ORDER BY path",
            (set_id,))]


def walk(folder: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(relative POSIX path, stat) of every indexable file, in a stable order; symlinked folders are not
    followed (no loops), hidden and tool folders are left out."""
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for file_name in sorted(files):
            if Path(file_name).suffix.lower() not in INDEXED_SUFFIXES or file_name.startswith("."):
                continue
            path = Path(current) / file_name
            try:
                info = path.stat()
            except OSError:
                continue
            yield path.relative_to(folder).as_posix(), info


def _text_of(path: Path, rel: str, data: bytes) -> str:
    if rel.lower().endswith(".pdf"):
        return pdf_text(data, rel)
    return decode_text(data, rel)


class _Batch:
    """Files read and waiting to be written, flushed in one short transaction."""

    def __init__(self, db, set_id: str):
        self.db, self.set_id = db, set_id
        self.files: list[tuple] = []  # (rel, mtime_ns, size, sha, error, passages or None)
        self.touch: list[tuple] = []  # (mtime_ns, size, file id): same bytes, new mtime
        self.gone: list[int] = []
        self.text_bytes = 0

    def flush(self) -> int:
        written = 0
        if not (self.files or self.touch or self.gone):
            return 0
        with self.db.write() as session:
            conn = session.connection()
            raw = conn.connection.dbapi_connection
            if self.gone:
                raw.executemany("DELETE FROM knowledge_files WHERE id = ?", [(i,) for i in self.gone])
            if self.touch:
                raw.executemany("UPDATE knowledge_files SET mtime_ns = ?, size = ? WHERE id = ?", self.touch)
            for rel, mtime_ns, size, sha, error, passages in self.files:
                raw.execute("DELETE FROM knowledge_files WHERE set_id = ? AND path = ?", (self.set_id, rel))
                file_id = raw.execute(
                    "INSERT INTO knowledge_files (set_id, path, mtime_ns, size, sha256, error)"
                    " VALUES (?, ?, ?, ?, ?, ?) RETURNING id", (self.set_id, rel, mtime_ns, size, sha, error)
                ).fetchone()[0]
                if passages:
                    raw.executemany("INSERT INTO knowledge_chunks (file_id, start_line, end_line, text)"
                                    " VALUES (?, ?, ?, ?)", [(file_id, *p) for p in passages])
                    written += len(passages)
        self.files, self.touch, self.gone, self.text_bytes = [], [], [], 0
        return written


def reindex(db, name: str, ctx: JobContext | None = None) -> IndexReport:
    """Bring the set's index up to date with its folder (see the module docstring). Cancellable between
    files; what was done stays."""
    from agent.jobs import JobCancelled

    ctx = ctx or JobContext()
    set_id, folder = set_by_name(db, name)
    if not folder.is_dir():
        raise KnowledgeError(f"the folder of {name} is gone: {folder}")
    report = IndexReport(name)
    with db.engine.connect() as conn:
        known = {row[0]: row[1:] for row in conn.exec_driver_sql(
            "SELECT path, id, mtime_ns, size, sha256 FROM knowledge_files WHERE set_id = ?", (set_id,))}
    listing = list(walk(folder))
    report.files = len(listing)
    total = sum(info.st_size for _, info in listing) or 1
    done, reported = 0, 0.0
    batch = _Batch(db, set_id)
    try:
        for rel, info in listing:
            ctx.check()
            if time.monotonic() - reported >= PROGRESS_EVERY:  # not 10,000 repaints for 10,000 files
                ctx.progress(done, total, rel)
                reported = time.monotonic()
            done += info.st_size
            old = known.pop(rel, None)
            if old is not None and old[1] == info.st_mtime_ns and old[2] == info.st_size:
                report.unchanged += 1
                continue
            _read_one(folder, rel, info, old, batch, report)
            if batch.text_bytes >= BATCH_BYTES:
                report.passages += batch.flush()
        batch.gone = [row[0] for row in known.values()]
        report.removed = len(batch.gone)
        report.passages += batch.flush()
    except JobCancelled:
        report.passages += batch.flush()
        report.cancelled = True
        return report
    with db.write() as session:
        session.connection().exec_driver_sql("UPDATE knowledge_sets SET indexed_at = ? WHERE id = ?",
                                             (utc_now(), set_id))
    ctx.progress(total, total, "done")
    return report


def _read_one(folder: Path, rel: str, info: os.stat_result, old, batch: _Batch, report: IndexReport) -> None:
    if info.st_size > MAX_FILE_BYTES:
        batch.files.append((rel, info.st_mtime_ns, info.st_size, "", f"larger than {MAX_FILE_BYTES:,} bytes", None))
        report.skipped += 1
        return
    try:
        data = (folder / rel).read_bytes()
    except OSError as exc:
        batch.files.append((rel, info.st_mtime_ns, info.st_size, "", f"cannot be read: {exc.strerror}", None))
        report.skipped += 1
        return
    report.bytes += len(data)
    sha = hashlib.sha256(data).hexdigest()
    if old is not None and old[3] == sha:  # touched, not changed
        batch.touch.append((info.st_mtime_ns, len(data), old[0]))
        report.unchanged += 1
        return
    try:
        text = _text_of(folder / rel, rel, data)
    except AttachmentRefused as exc:
        batch.files.append((rel, info.st_mtime_ns, len(data), sha, str(exc), None))
        report.skipped += 1
        return
    passages = list(chunks(text))
    batch.files.append((rel, info.st_mtime_ns, len(data), sha, None, passages))
    batch.text_bytes += len(data)
    report.read += 1
