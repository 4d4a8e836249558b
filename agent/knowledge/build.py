"""Bringing a set's index up to date with its folder (what the indexing process runs).

Each file is remembered by its path, mtime, size and SHA-256: an unchanged mtime and size is not read;
a changed file is read and hashed, and only different bytes are chunked again; files gone from the
folder lose their passages. A file that cannot be read as text or PDF is remembered with its error.

Two threads, so both cores work: a reader (read, hash, decode, chunk: Python) feeds a bounded queue,
the writer inserts. SQLite releases the GIL while FTS5 tokenises and writes, which is most of the time,
so the reader runs meanwhile. Writes go in transactions of about `batch_bytes` of text, the FTS5 rows
of a batch in one INSERT … SELECT; a cancel (checked before each file) or a crash keeps every batch
committed, and `indexed_at` moves only when a pass completes.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from agent.attachments.reading import AttachmentRefused
from agent.knowledge import store
from agent.knowledge.chunking import chunks
from agent.knowledge.errors import KnowledgeError
from agent.knowledge.files import text_of, walk
from local_schema.timestamps import utc_now

MAX_FILE_BYTES = 20 * 1024 * 1024  # a bigger file is remembered as skipped
BATCH_BYTES = 16 * 1024 * 1024  # text per write transaction
PROGRESS_EVERY = 0.1  # seconds between two progress reports
READ_AHEAD_BYTES = 1024 * 1024  # the reader hands over files in parcels of about this much text …
READ_AHEAD_PARCELS = 32  # … and stays at most this many parcels ahead of the writer (more than a batch: it reads on while a batch commits)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class IndexJob:
    """What the indexing process is asked to do (sent to it as JSON)."""

    name: str
    set_id: str
    folder: str
    index: str  # the shard's index file (agent.knowledge.store.shard_path)
    shard: int = 0  # this process indexes the files of this shard …
    shards: int = 1  # … of this many (agent.knowledge.store.shard_of)
    batch_bytes: int = BATCH_BYTES

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class IndexReport:
    name: str
    files: int = 0  # in the folder (indexable by name; of this shard, for one shard's report)
    read: int = 0  # read and chunked again
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    bytes: int = 0  # bytes read
    passages: int = 0  # passages written
    cancelled: bool = False
    rebuilt: bool = False  # the index file was made anew (first index, or the old one was unusable)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def add(self, other: IndexReport) -> IndexReport:
        """The report of a set from its shards' reports."""
        counts = ("files", "read", "unchanged", "removed", "skipped", "bytes", "passages")
        return IndexReport(self.name, *(getattr(self, c) + getattr(other, c) for c in counts),
                           cancelled=self.cancelled or other.cancelled, rebuilt=self.rebuilt or other.rebuilt)


@dataclass
class _Read:
    """One file as the reader hands it over."""

    rel: str
    mtime_ns: int
    size: int
    old_id: int | None  # the file's row, if it had one
    old_sha256: str = ""
    sha256: str = ""
    error: str | None = None
    passages: list | None = None  # (start line, end line, text)
    touched: bool = False  # same bytes, new mtime: only the row changes


def _never() -> bool:
    return False


def build_index(job: IndexJob, progress: Progress | None = None, cancelled: Callable[[], bool] = _never) -> IndexReport:
    """Bring `job`'s index up to date; a damaged file found on the way is built again from nothing."""
    folder = Path(job.folder)
    if not folder.is_dir():
        raise KnowledgeError(f"the folder of {job.name} is gone: {folder}")
    try:
        return _Pass(job, progress, cancelled).run()
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY:
            raise KnowledgeError(f"{job.name} is being indexed by another process; try again when it has finished") from None
        if not store.is_damage(exc):
            raise
        if not store.remove_index(Path(job.index)):
            raise store.damaged(exc) from None
        return _Pass(job, progress, cancelled).run()


class _Pass:
    def __init__(self, job: IndexJob, progress: Progress | None, cancelled: Callable[[], bool]):
        self.job, self.progress, self.cancelled = job, progress, cancelled
        self.folder = Path(job.folder)
        self.report = IndexReport(job.name)
        self.conn: sqlite3.Connection | None = None
        self.pending: list[_Read] = []  # read, waiting for the next commit
        self.pending_text = 0

    def run(self) -> IndexReport:
        job = self.job
        self.conn, self.report.rebuilt = store.open_for_writing(Path(job.index), job.set_id, job.folder, job.shard,
                                                                job.shards)
        try:
            return self._run()
        finally:
            self.conn.close()

    def _run(self) -> IndexReport:
        report = self.report
        known = {row[0]: row[1:] for row in self.conn.execute("SELECT path, id, mtime_ns, size, sha256 FROM files")}
        listing = walk(self.folder)
        if self.job.shards > 1:
            listing = [entry for entry in listing if store.shard_of(entry[0], self.job.shards) == self.job.shard]
        report.files = len(listing)
        plan = []
        for rel, mtime_ns, size in listing:
            old = known.pop(rel, None)
            if old is not None and old[1] == mtime_ns and old[2] == size:
                report.unchanged += 1
            else:
                plan.append(_Read(rel, mtime_ns, size, old[0] if old else None, old[3] if old else ""))
        gone = [row[0] for row in known.values()]
        total = sum(item.size for item in plan) or 1
        parcels: queue.Queue = queue.Queue(READ_AHEAD_PARCELS)
        stop = threading.Event()
        reader = threading.Thread(target=self._reader, args=(plan, parcels, stop), name="knowledge-reader", daemon=True)
        reader.start()
        done, reported = 0, 0.0
        try:
            while (parcel := parcels.get()) is not None:
                if isinstance(parcel, BaseException):
                    raise parcel
                for item in parcel:
                    if self.cancelled():
                        report.cancelled = True
                        break
                    if self.progress is not None and time.monotonic() - reported >= PROGRESS_EVERY:
                        self.progress(done, total, item.rel)  # not 10,000 repaints for 10,000 files
                        reported = time.monotonic()
                    done += item.size
                    self._write(item)
                if report.cancelled:
                    break
            if report.cancelled:
                self._commit()
            else:
                self._commit(gone, complete=True)
                report.removed = len(gone)
        finally:
            stop.set()
            _drain(parcels)
            reader.join()
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the folder stays the index's size
        if self.progress is not None and not report.cancelled:
            self.progress(total, total, "done")
        return report

    # -- reading (its own thread) ------------------------------------------------------------------
    def _reader(self, plan: list[_Read], parcels: queue.Queue, stop: threading.Event) -> None:
        try:
            parcel, size = [], 0
            for item in plan:
                if stop.is_set():
                    return
                self._read(item)
                parcel.append(item)
                size += item.size
                if size >= READ_AHEAD_BYTES:
                    _put(parcels, parcel, stop)
                    parcel, size = [], 0
            _put(parcels, parcel, stop)
            _put(parcels, None, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the writer, which raises it
            _put(parcels, exc, stop)

    def _read(self, item: _Read) -> None:
        if item.size > MAX_FILE_BYTES:
            item.error = f"larger than {MAX_FILE_BYTES:,} bytes"
            return
        try:
            with open(os.path.join(self.job.folder, item.rel), "rb") as handle:
                data = handle.read()  # sized from fstat: read(limit) would allocate the limit for every file
        except OSError as exc:
            item.error = f"cannot be read: {exc.strerror}"
            return
        item.size = len(data)
        if item.size > MAX_FILE_BYTES:  # grew since it was listed
            item.error = f"larger than {MAX_FILE_BYTES:,} bytes"
            return
        item.sha256 = hashlib.sha256(data).hexdigest()  # releases the GIL for big buffers
        if item.old_id is not None and item.old_sha256 == item.sha256:
            item.touched = True
            return
        try:
            item.passages = list(chunks(text_of(item.rel, data)))
        except AttachmentRefused as exc:
            item.error = str(exc)

    # -- writing (this thread) ---------------------------------------------------------------------
    def _write(self, item: _Read) -> None:
        report = self.report
        report.bytes += item.size if item.sha256 else 0
        if item.touched:
            report.unchanged += 1
        elif item.error is not None:
            report.skipped += 1
        else:
            report.read += 1
            report.passages += len(item.passages)
            self.pending_text += sum(len(text) for _, _, text in item.passages)
        self.pending.append(item)
        if self.pending_text >= self.job.batch_bytes:
            self._commit()

    def _commit(self, gone: list[int] = (), complete: bool = False) -> None:
        """One transaction: the pending files (the write lock is held only while they are written)."""
        conn, pending = self.conn, self.pending
        conn.execute("BEGIN IMMEDIATE")
        try:
            touched = [(item.mtime_ns, item.size, item.old_id) for item in pending if item.touched]
            conn.executemany("UPDATE files SET mtime_ns = ?, size = ? WHERE id = ?", touched)
            fresh = [item for item in pending if not item.touched]
            self._remove([item.old_id for item in fresh if item.old_id is not None] + list(gone))
            file_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM files").fetchone()[0]
            first = chunk_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM chunks").fetchone()[0]
            files, passages = [], []
            for item in fresh:
                files.append((file_id, item.rel, item.mtime_ns, item.size, item.sha256, item.error))
                for start, end, text in item.passages or ():
                    passages.append((chunk_id, file_id, start, end, text))
                    chunk_id += 1
                file_id += 1
            conn.executemany("INSERT INTO files (id, path, mtime_ns, size, sha256, error) VALUES (?, ?, ?, ?, ?, ?)", files)
            conn.executemany("INSERT INTO chunks (id, file_id, start_line, end_line, text) VALUES (?, ?, ?, ?, ?)", passages)
            # One statement for the batch: FTS5 tokenises it in C with the GIL released.
            conn.execute("INSERT INTO fts (rowid, text) SELECT id, text FROM chunks WHERE id >= ?", (first,))
            if complete:
                conn.execute("UPDATE meta SET value = ? WHERE key = 'indexed_at'", (utc_now(),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")  # this batch only; every committed one stays
            raise
        self.pending, self.pending_text = [], 0

    def _remove(self, file_ids: list[int]) -> None:
        """Files' rows, passages and their FTS5 entries (the old text is what FTS5 must be told)."""
        for start in range(0, len(file_ids), 500):
            some = file_ids[start:start + 500]
            marks = ",".join("?" * len(some))
            self.conn.execute(f"INSERT INTO fts (fts, rowid, text) SELECT 'delete', id, text FROM chunks"
                              f" WHERE file_id IN ({marks})", some)
            self.conn.execute(f"DELETE FROM chunks WHERE file_id IN ({marks})", some)
            self.conn.execute(f"DELETE FROM files WHERE id IN ({marks})", some)


def _put(parcels: queue.Queue, item, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            parcels.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _drain(parcels: queue.Queue) -> None:
    while True:
        try:
            parcels.get_nowait()
        except queue.Empty:
            return
