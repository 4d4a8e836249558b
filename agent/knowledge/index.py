"""Knowledge sets: a named folder whose text, Markdown, code and PDF files are indexed for search.

The set itself (name, folder) is the person's choice and lives in the database (`knowledge_sets`,
local, never synced). Its index — files, passages, FTS5 — is derived data in files of its own, one per
shard (agent.knowledge.store), written by separate processes (agent.knowledge.worker): `reindex` is what
the window's long job and `mirari knowledge add|reindex` both run. `reindex_here` does the same work on
the calling thread (tests that want it in-process).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from agent.jobs import JobContext
from agent.knowledge import build, store
from agent.knowledge.build import IndexJob, IndexReport
from agent.knowledge.errors import KnowledgeError
from agent.knowledge.files import walk

NAME_LIMIT = 200
SHARD_MIN_BYTES = 8 * 1024 * 1024  # a shard (an indexing process) per this much text, so starting one pays …
MAX_SHARDS = 4  # … up to this many, and never more than the cores

__all__ = ["IndexReport", "KnowledgeError", "KnowledgeSet", "add_set", "list_sets", "reindex", "reindex_here",
           "remove_set", "set_by_name", "skipped_files"]


@dataclass(frozen=True)
class KnowledgeSet:
    id: str
    name: str
    folder: str
    created_at: str
    indexed_at: str | None  # when a reindex last completed (None: never, or the index is gone)
    files: int
    passages: int
    skipped: int  # files that could not be read (their error is kept)
    bytes: int
    problem: str | None = None  # the index cannot be read (damaged): a reindex builds it again

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


def index_files(db, set_id: str) -> list[Path]:
    """The set's index files (one per shard), as they are on disk."""
    return store.shard_files(store.directory_of(db.path), set_id)


def _set_ids(db) -> set[str]:
    with db.engine.connect() as conn:
        return {row[0] for row in conn.exec_driver_sql("SELECT id FROM knowledge_sets")}


def remove_set(db, name: str) -> None:
    """Forget the set and delete its index (the folder's files are not touched)."""
    set_id, _ = set_by_name(db, name)
    with db.write() as session:  # its rows in the v13 tables, of a set indexed by the first version, cascade
        session.connection().exec_driver_sql("DELETE FROM knowledge_sets WHERE id = ?", (set_id,))
    store.remove_set_files(store.directory_of(db.path), set_id)


def _shards_for(folder: Path) -> int:
    size = sum(entry[2] for entry in walk(folder))
    return max(1, min(MAX_SHARDS, os.cpu_count() or 1, size // SHARD_MIN_BYTES))


def _jobs(db, name: str) -> list[IndexJob]:
    """One job per shard. The number of shards is chosen when the set is first indexed here (or its
    index is unreadable) and kept: a file stays in its shard across reindexes."""
    set_id, folder = set_by_name(db, name)
    if not folder.is_dir():
        raise KnowledgeError(f"the folder of {name} is gone: {folder}")
    directory = store.directory_of(db.path)
    store.sweep(directory, _set_ids(db))
    shards = store.shard_count(directory, set_id)
    if shards is None:
        store.remove_set_files(directory, set_id)
        shards = _shards_for(folder)
    store.remove_set_files(directory, set_id, from_shard=shards)  # of an earlier layout
    name = " ".join(str(name).split())
    return [IndexJob(name, set_id, str(folder), str(store.shard_path(directory, set_id, shard)), shard, shards,
                     batch_bytes=build.BATCH_BYTES) for shard in range(shards)]


def reindex(db, name: str, ctx: JobContext | None = None) -> IndexReport:
    """Bring the set's index up to date with its folder, in separate processes (agent.knowledge.worker,
    one per shard): progress and Cancel through `ctx`; a cancelled reindex keeps every file it finished."""
    from agent.knowledge import worker

    return worker.run(_jobs(db, name), ctx)


def reindex_here(db, name: str, ctx: JobContext | None = None) -> IndexReport:
    """The same work on this thread, shard after shard (agent.knowledge.build)."""
    ctx = ctx or JobContext()
    progress = ctx.on_progress

    def report(done: int, total: int, text: str) -> None:
        if progress is not None and not ctx.cancelled:
            progress(done, total, text)
    jobs = _jobs(db, name)
    result = IndexReport(jobs[0].name)
    for job in jobs:
        result = result.add(build.build_index(job, report, lambda: ctx.cancelled))
    return result


@dataclass
class _Counts:
    indexed_at: str | None = None
    files: int = 0
    passages: int = 0
    skipped: int = 0
    bytes: int = 0
    problem: str | None = None
    shards: int = 0  # as the files say


def _counts(path: Path) -> _Counts:
    try:
        conn = store.open_for_reading(path)
    except store.IndexDamaged as exc:
        return _Counts(problem=str(exc))
    if conn is None:
        return _Counts()
    try:
        files, skipped, size = conn.execute(
            "SELECT count(*) FILTER (WHERE error IS NULL), count(*) FILTER (WHERE error IS NOT NULL),"
            " coalesce(sum(size) FILTER (WHERE error IS NULL), 0) FROM files").fetchone()
        passages = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        meta = store.read_meta(conn)
        return _Counts(meta.get("indexed_at"), files, passages, skipped, size, None, int(meta.get("shards") or 1))
    except sqlite3.DatabaseError as exc:
        if not store.is_damage(exc):
            raise
        return _Counts(problem=str(store.mark_damaged(path, exc)))
    finally:
        conn.close()


def list_sets(db) -> list[KnowledgeSet]:
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, name, folder, created_at FROM knowledge_sets ORDER BY name").fetchall()
    sets = []
    for set_id, name, folder, created_at in rows:
        shards = [_counts(path) for path in index_files(db, set_id)]
        complete = bool(shards) and len(shards) == max(c.shards for c in shards) and all(c.indexed_at for c in shards)
        problem = next((c.problem for c in shards if c.problem), None)
        sets.append(KnowledgeSet(set_id, name, folder, created_at,
                                 min(c.indexed_at for c in shards) if complete else None,
                                 sum(c.files for c in shards), sum(c.passages for c in shards),
                                 sum(c.skipped for c in shards), sum(c.bytes for c in shards), problem))
    return sets


def skipped_files(db, name: str) -> list[tuple[str, str]]:
    set_id, _ = set_by_name(db, name)
    found: list[tuple[str, str]] = []
    for path in index_files(db, set_id):
        conn = store.open_for_reading(path)
        if conn is None:
            continue
        try:
            found += [tuple(r) for r in conn.execute("SELECT path, error FROM files WHERE error IS NOT NULL")]
        finally:
            conn.close()
    return sorted(found)
