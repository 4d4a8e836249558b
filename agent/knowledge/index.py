"""Knowledge sets: a named folder whose text, Markdown, code and PDF files are indexed for search.

The set itself (name, folder) is the person's choice and lives in the database (`knowledge_sets`,
local, never synced). Its index — files, passages, FTS5 — is derived data in a file of its own
(agent.knowledge.store), written by a separate process (agent.knowledge.worker): `reindex` is what the
window's long job and `mirari knowledge add|reindex` both run. `reindex_here` does the same work on
the calling thread (the child's work, and tests that want it in-process).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from agent.jobs import JobContext
from agent.knowledge import build, store
from agent.knowledge.build import IndexJob, IndexReport
from agent.knowledge.errors import KnowledgeError

NAME_LIMIT = 200

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
    with db.write(tables=["knowledge_sets"]) as session:
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


def index_of(db, set_id: str) -> Path:
    return store.index_path(Path(db.path), set_id)


def _set_ids(db) -> set[str]:
    with db.engine.connect() as conn:
        return {row[0] for row in conn.exec_driver_sql("SELECT id FROM knowledge_sets")}


def remove_set(db, name: str) -> None:
    """Forget the set and delete its index (the folder's files are not touched)."""
    set_id, _ = set_by_name(db, name)
    # The tables v13 kept the index in are listed for the cascade of a set indexed before the index had
    # a file of its own.
    with db.write(tables=["knowledge_sets", "knowledge_files", "knowledge_chunks"]) as session:
        session.connection().exec_driver_sql("DELETE FROM knowledge_sets WHERE id = ?", (set_id,))
    store.remove_index(index_of(db, set_id))


def _job(db, name: str) -> IndexJob:
    set_id, folder = set_by_name(db, name)
    if not folder.is_dir():
        raise KnowledgeError(f"the folder of {name} is gone: {folder}")
    store.sweep(store.index_path(Path(db.path), set_id).parent, _set_ids(db))
    return IndexJob(" ".join(str(name).split()), set_id, str(folder), str(index_of(db, set_id)),
                    batch_bytes=build.BATCH_BYTES)


def reindex(db, name: str, ctx: JobContext | None = None) -> IndexReport:
    """Bring the set's index up to date with its folder, in a separate process (agent.knowledge.worker):
    progress and Cancel through `ctx`; a cancelled reindex keeps every file it finished."""
    from agent.knowledge import worker

    return worker.run(_job(db, name), ctx)


def reindex_here(db, name: str, ctx: JobContext | None = None) -> IndexReport:
    """The same work on this thread (agent.knowledge.build)."""
    ctx = ctx or JobContext()
    progress = ctx.on_progress

    def report(done: int, total: int, text: str) -> None:
        if progress is not None and not ctx.cancelled:
            progress(done, total, text)
    return build.build_index(_job(db, name), report, lambda: ctx.cancelled)


def _counts(path: Path) -> tuple[str | None, int, int, int, int, str | None]:
    """(indexed_at, files, passages, skipped, bytes, problem) of an index file."""
    try:
        conn = store.open_for_reading(path)
    except store.IndexDamaged as exc:
        return None, 0, 0, 0, 0, str(exc)
    if conn is None:
        return None, 0, 0, 0, 0, None
    try:
        files, skipped, size = conn.execute(
            "SELECT count(*) FILTER (WHERE error IS NULL), count(*) FILTER (WHERE error IS NOT NULL),"
            " coalesce(sum(size) FILTER (WHERE error IS NULL), 0) FROM files").fetchone()
        passages = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return store.read_meta(conn).get("indexed_at"), files, passages, skipped, size, None
    except sqlite3.DatabaseError as exc:
        if not store.is_damage(exc):
            raise
        return None, 0, 0, 0, 0, str(store.mark_damaged(path, exc))
    finally:
        conn.close()


def list_sets(db) -> list[KnowledgeSet]:
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, name, folder, created_at FROM knowledge_sets ORDER BY name").fetchall()
    sets = []
    for set_id, name, folder, created_at in rows:
        indexed_at, files, passages, skipped, size, problem = _counts(index_of(db, set_id))
        sets.append(KnowledgeSet(set_id, name, folder, created_at, indexed_at, files, passages, skipped, size, problem))
    return sets


def skipped_files(db, name: str) -> list[tuple[str, str]]:
    set_id, _ = set_by_name(db, name)
    conn = store.open_for_reading(index_of(db, set_id))
    if conn is None:
        return []
    try:
        return [tuple(r) for r in conn.execute("SELECT path, error FROM files WHERE error IS NOT NULL ORDER BY path")]
    finally:
        conn.close()
