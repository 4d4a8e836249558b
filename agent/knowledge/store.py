"""The search index of one knowledge set: SQLite files of its own, `<set id>.<shard>.sqlite3` in
`local_schema.paths.knowledge_dir(database)` (beside the database: `local.knowledge/`, `accounts/<id>.knowledge/`).

A big set is split into shards (`shards` in each file's meta; a file belongs to shard
crc32(path) % shards), each written by its own indexing process, so indexing uses every core: FTS5 has
one writer per file and cannot merge two indexes (a merge would tokenise everything again). A search
asks every shard and merges by BM25.

An index is derived, device-local, rebuildable data, so it lives apart from the person's database and
gets settings their data must never have: `synchronous=OFF` (no fsync: a power cut may lose the last
commits or damage the file; a reindex repairs either), a 64 MB page cache, WAL so searches read while
the indexer writes. The indexer (a separate process, agent.knowledge.worker) therefore never takes the
database's write lock: chat saves and sync never wait for it. Not in backups or exports: rebuilt from
the folder by a reindex.

A file that cannot be used — missing, of another format, of another set or folder, or damaged — is
deleted and built again by the next reindex. Damage is what SQLite calls SQLITE_CORRUPT / SQLITE_NOTADB:
found by the reindex's `PRAGMA quick_check` (~0.1 s per 50 MB of text) or while it writes, or by a
search, which says so and leaves a `<set id>.damaged` marker for the next reindex (FTS5's own
structures can be damaged where quick_check does not look).

No triggers: the indexer writes the FTS5 rows itself, in one statement per batch (a trigger makes FTS5
flush its in-memory terms at every statement: twice the CPU per megabyte).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import zlib
from pathlib import Path

from agent.knowledge.errors import KnowledgeError
from local_schema import paths

FORMAT = 1  # PRAGMA user_version: a file of another format is built again
SUFFIX = ".sqlite3"
SIDE_FILES = ("-wal", "-shm", "-journal")
BUSY_MS = 10_000
WRITER_CACHE_KB = 64 * 1024
FTS_HASH_BYTES = 32 * 1024 * 1024  # terms held in memory before FTS5 writes a segment (default 1 MB)
TOKENIZER = "unicode61 remove_diacritics 2"  # a search tokenises its query with it too (agent.knowledge.ranking)

SCHEMA = f"""
BEGIN;
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT) WITHOUT ROWID;
CREATE TABLE files (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,          -- relative to the set's folder, POSIX separators
  mtime_ns INTEGER NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  error TEXT                          -- why the file is skipped (kept until it changes)
);
CREATE TABLE chunks (
  id INTEGER PRIMARY KEY,
  file_id INTEGER NOT NULL,
  start_line INTEGER NOT NULL,
  end_line INTEGER NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX chunks_file_id ON chunks (file_id);
CREATE VIRTUAL TABLE fts USING fts5 (
  text, content='chunks', content_rowid='id', tokenize='{TOKENIZER}'
);
-- Segments merge when 16 pile up at a level (crisismerge), not after every few commits.
INSERT INTO fts (fts, rank) VALUES ('automerge', 0);
INSERT INTO fts (fts, rank) VALUES ('hashsize', {FTS_HASH_BYTES});
-- Each term's passage count: a search leaves out words found in most passages (agent.knowledge.search).
CREATE VIRTUAL TABLE vocab USING fts5vocab ('fts', 'row');
PRAGMA user_version = {FORMAT};
"""


class IndexDamaged(KnowledgeError):
    """The index file is damaged; a reindex builds it again."""


def directory_of(database: Path) -> Path:
    return paths.knowledge_dir(Path(database))


def shard_path(directory: Path, set_id: str, shard: int) -> Path:
    return directory / f"{set_id}.{shard}{SUFFIX}"


def shard_of(rel: str, shards: int) -> int:
    """The shard a file belongs to: stable across runs and machines (not Python's salted hash)."""
    return zlib.crc32(rel.encode("utf-8", "surrogatepass")) % shards if shards > 1 else 0


def shard_files(directory: Path, set_id: str) -> list[Path]:
    """The set's index files, by shard number."""
    if not directory.is_dir():
        return []
    found = []
    for entry in os.scandir(directory):
        parts = entry.name.split(".")
        if len(parts) == 3 and parts[0] == set_id and parts[1].isdigit() and f".{parts[2]}" == SUFFIX:
            found.append((int(parts[1]), Path(entry.path)))
    return [path for _, path in sorted(found)]


def shard_count(directory: Path, set_id: str) -> int | None:
    """How many shards the set's index has (from any readable file of it), or None if it has none."""
    for path in shard_files(directory, set_id):
        with contextlib.suppress(KnowledgeError, sqlite3.Error, ValueError, TypeError):
            conn = open_for_reading(path)
            if conn is not None:
                try:
                    return int(_meta(conn).get("shards"))
                finally:
                    conn.close()
    return None


def is_damage(exc: BaseException) -> bool:
    """SQLite's "database disk image is malformed" (FTS5's own corruption included) or "file is not a
    database" — not a busy or I/O error, which a retry may get past."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code is not None and code & 0xFF in (
        sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def damage_marker(path: Path) -> Path:
    return path.with_suffix(".damaged")


def mark_damaged(path: Path, exc: BaseException) -> IndexDamaged:
    """Remember that the index is damaged (the next reindex builds it again); the error to raise."""
    with contextlib.suppress(OSError):  # the reindex's quick_check may still find it
        damage_marker(path).write_text(f"{exc}\n", encoding="utf-8")
    return damaged(exc)


def remove_index(path: Path) -> bool:
    """Delete an index file, its WAL and damage marker; True when nothing is left. A file another
    process holds open on Windows stays (sweep removes it later)."""
    left = False
    for file in [path, *(Path(f"{path}{side}") for side in SIDE_FILES), damage_marker(path)]:
        try:
            file.unlink(missing_ok=True)
        except OSError:
            left = True
    return not left


def remove_set_files(directory: Path, set_id: str, *, from_shard: int = 0) -> bool:
    """Delete the set's index files (those of shard `from_shard` and up); True when nothing is left."""
    return all([remove_index(path) for path in shard_files(directory, set_id)
                if int(path.name.split(".")[1]) >= from_shard])


def sweep(directory: Path, set_ids: set[str]) -> None:
    """Remove the files of sets that no longer exist (a set removed while its file was open, a restored
    database with other sets)."""
    if not directory.is_dir():
        return
    for entry in os.scandir(directory):
        if entry.name.split(".", 1)[0] not in set_ids:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
    return conn


def _meta(conn: sqlite3.Connection) -> dict[str, str | None]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def _usable(conn: sqlite3.Connection, path: Path, expected: dict[str, str]) -> bool:
    if damage_marker(path).exists() or conn.execute("PRAGMA user_version").fetchone()[0] != FORMAT:
        return False
    meta = _meta(conn)
    if any(meta.get(key) != value for key, value in expected.items()):
        return False
    return conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"


def open_for_writing(path: Path, set_id: str, folder: str, shard: int = 0,
                     shards: int = 1) -> tuple[sqlite3.Connection, bool]:
    """(connection, made anew): the shard's index, or a new empty one in place of a file that is missing,
    damaged, of another format, folder or number of shards."""
    expected = {"set_id": set_id, "folder": folder, "shard": str(shard), "shards": str(shards)}
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists():
        conn = None
        try:
            conn = _connect(path)
            if _usable(conn, path, expected):
                _writer_settings(conn)
                return conn, False
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
        if conn is not None:
            conn.close()
        if not remove_index(path):
            raise KnowledgeError(f"the old search index {path} cannot be replaced (is another program using it?)")
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # private before SQLite writes a byte (its WAL inherits the mode)
    conn = _connect(path)
    _writer_settings(conn)
    conn.executescript(SCHEMA)  # one transaction, left open for the meta rows
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [*expected.items(), ("indexed_at", None)])
    conn.execute("COMMIT")
    return conn, True


def _writer_settings(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KB}")
    conn.execute("PRAGMA temp_store = MEMORY")


def open_for_reading(path: Path) -> sqlite3.Connection | None:
    """The set's index for a search or a count, or None when there is none yet (never indexed here, or
    of an older format: a reindex builds it). Raises IndexDamaged for a damaged file."""
    if not path.is_file():
        return None
    if damage_marker(path).exists():
        raise damaged(damage_marker(path).read_text(encoding="utf-8", errors="replace").strip())
    conn = None
    try:
        conn = _connect(path)
        conn.execute("PRAGMA query_only = ON")
        if conn.execute("PRAGMA user_version").fetchone()[0] != FORMAT:
            conn.close()
            return None
        return conn
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        if is_damage(exc):
            raise mark_damaged(path, exc) from None
        raise


def damaged(exc: BaseException | str) -> IndexDamaged:
    return IndexDamaged(f"the search index is damaged ({exc}): reindex to build it again")


def read_meta(conn: sqlite3.Connection) -> dict[str, str | None]:
    return _meta(conn)
