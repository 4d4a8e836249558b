"""Opening the local database: integrity check, backup, migrations, then a configured SQLAlchemy engine.

Transactions: Python 3.11's sqlite3 only emits BEGIN before DML, so SELECTs and DDL would run outside
the transaction. The engine therefore turns the driver's transaction control off and emits BEGIN itself
(SQLAlchemy's documented recipe), which makes every Session/Connection transaction real and atomic:
a row change and its outbox entry (written by a trigger) commit or roll back together.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import URL, Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from local_schema.migrations import SchemaTooNew
from local_schema.prepare import BUSY_TIMEOUT_MS, prepare_file
from local_schema.safety import DatabaseCorrupt, restrict_modes

__all__ = ["BUSY_TIMEOUT_MS", "ChangeListener", "ChangedTables", "DatabaseCorrupt",
           "LocalDatabase", "SchemaTooNew", "open_database"]

log = logging.getLogger(__name__)

_BEGIN_OPTION = "mirari_begin"  # execution option: "DEFERRED" (default) or "IMMEDIATE"

_SUPPRESS = text("UPDATE sync_meta SET value = '1' WHERE key = 'capture_suppressed'")
_UNSUPPRESS = text("UPDATE sync_meta SET value = '0' WHERE key = 'capture_suppressed'")

T = TypeVar("T", Session, Connection)



class ChangedTables(frozenset):
    """The tables a write touched (a frozenset of names), with the row ids where the writer knows them.

    `rows` maps a table to the ids of the rows written; a table absent from `rows` changed in ways not
    listed row by row (treat every row of it as possibly changed). A sync cycle fills `rows`, so an open
    transcript can tell whether the rows that landed concern it.
    """

    rows: Mapping[str, frozenset[str]]

    def __new__(cls, tables: Iterable[str], rows: Mapping[str, Iterable[str]] | None = None):
        self = super().__new__(cls, tables)
        self.rows = {t: frozenset(ids) for t, ids in (rows or {}).items()}
        return self

    def ids(self, table: str) -> frozenset[str] | None:
        """The ids written in `table`, or None when unknown (or the table was not written)."""
        return self.rows.get(table)


# (tables written, origin): origin is "local" for the app's own writes, "sync" for rows a cycle applied.
# `tables` is a ChangedTables (a frozenset, so listeners written for plain sets keep working).
ChangeListener = Callable[[frozenset[str], str], None]
_TOUCHED = "mirari_tables_touched"  # Session.info key: tables flushed inside a write() block


def _collect_touched(session: OrmSession, _flush_context: object, _instances: object) -> None:
    touched = session.info.get(_TOUCHED)
    if touched is None:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table:
            touched.add(table)


event.listen(Session, "before_flush", _collect_touched)


class CaptureSuppressionLeak(RuntimeError):
    """A transaction tried to commit while change capture was still suppressed."""


def _configure(dbapi_conn: sqlite3.Connection) -> None:
    dbapi_conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
    dbapi_conn.execute("PRAGMA journal_mode = WAL")
    dbapi_conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no committed data
    dbapi_conn.execute("PRAGMA foreign_keys = ON")
    # Makes INSERT OR REPLACE fire delete triggers for the row it replaces, so neither the outbox nor
    # the FTS index misses that delete. (Prefer INSERT ... ON CONFLICT DO UPDATE for upserts anyway.)
    dbapi_conn.execute("PRAGMA recursive_triggers = ON")


def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    dbapi_conn.isolation_level = None  # the driver emits no BEGIN; _on_begin does
    _configure(dbapi_conn)


def _on_checkout(dbapi_conn: sqlite3.Connection, _record: object, _proxy: object) -> None:
    # SQLAlchemy resets a connection's isolation level after an AUTOCOMMIT use by handing transaction
    # control back to the driver (isolation_level = ""); take it back so _on_begin stays in charge.
    dbapi_conn.isolation_level = None


def _on_begin(conn: Connection) -> None:
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return  # e.g. PRAGMA wal_checkpoint or VACUUM, which must run outside a transaction
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {'IMMEDIATE' if mode == 'IMMEDIATE' else 'DEFERRED'}")


def _on_commit(conn: Connection) -> None:
    # The applying-remote flag must never outlive its transaction; committing it would silently
    # switch change capture off for good. applying_remote() clears it before any commit.
    flag = conn.exec_driver_sql("SELECT value FROM sync_meta WHERE key = 'capture_suppressed'").scalar()
    if flag == "1":
        # Roll the transaction back here so neither the flag nor the half-applied remote change lands.
        conn.connection.dbapi_connection.rollback()
        raise CaptureSuppressionLeak(
            "commit inside applying_remote(): the transaction was rolled back; "
            "leave the applying_remote block before committing"
        )


class LocalDatabase:
    """An open local mirror. Thread-safe: each Session/Connection takes its own pooled SQLite connection."""

    def __init__(self, path: Path, engine: Engine):
        self.path = path
        self.engine = engine
        self._immediate_engine = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        self._listeners: list[ChangeListener] = []
        self._listeners_lock = threading.Lock()

    def session(self, *, immediate: bool = False) -> Session:
        """A SQLModel Session (use as a context manager; commit explicitly).

        `immediate=True` starts the transaction with BEGIN IMMEDIATE, taking the write lock up front:
        use it for read-then-write transactions that may race another writer, so the busy timeout
        applies instead of an immediate SQLITE_BUSY on lock upgrade. Objects stay usable after commit
        (expire_on_commit=False), so they can be handed to other layers.
        """
        bind = self._immediate_engine if immediate else self.engine
        return Session(bind, expire_on_commit=False)

    @contextmanager
    def write(self, *, tables: Iterable[str] = ()) -> Iterator[Session]:
        """The one write path: a Session in a BEGIN IMMEDIATE transaction, committed when the block ends.

            with db.write() as session:
                node = session.get(MemoryNode, node_id)
                node.strength = 0.8
                session.add(node)

        IMMEDIATE takes the write lock before the first read, so a sync commit landing between this
        block's read and its write makes it wait (busy timeout) instead of failing at once with
        "database is locked" on the lock upgrade. An exception rolls everything back. After the commit,
        change listeners hear which tables were written: those flushed through the ORM plus `tables`
        (declare the tables a raw SQL statement in the block wrote). Do not commit inside the block.
        """
        touched: set[str] = set(tables)
        session = Session(self._immediate_engine, expire_on_commit=False)
        session.info[_TOUCHED] = touched
        with session:
            yield session
            session.commit()
        if touched:
            self.notify_changed(frozenset(touched), "local")

    def add_change_listener(self, listener: ChangeListener) -> None:
        """Call `listener(tables, origin)` after each committed write; it runs on the writing thread."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def remove_change_listener(self, listener: ChangeListener) -> None:
        with self._listeners_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def notify_changed(self, tables: Iterable[str], origin: str = "local",
                       rows: Mapping[str, Iterable[str]] | None = None) -> None:
        """Tell the listeners that `tables` changed (the sync engine calls this with origin "sync" and
        the ids of the rows it applied in `rows`)."""
        tables = ChangedTables(tables, rows)
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(tables, origin)
            except Exception:  # a broken listener must never turn a committed write into an error
                log.exception("change listener %r failed", listener)

    @contextmanager
    def applying_remote(self, target: T) -> Iterator[T]:
        """Suppress change capture for what `target` (a Session or Connection) writes inside the block.

        The flag is set inside the current transaction and cleared again before the block ends, so
        other connections never see it and it is never committed; on an exception the caller's
        rollback restores it regardless. Do not commit inside the block.
        """
        target.execute(_SUPPRESS)
        try:
            yield target
        except BaseException:
            try:
                target.execute(_UNSUPPRESS)
            except Exception:  # transaction already failed: its rollback restores the flag
                log.debug("could not clear the capture flag after an error; rollback will", exc_info=True)
            raise
        target.execute(_UNSUPPRESS)

    def vacuum(self) -> None:
        """Compact the file, then re-index search (VACUUM may renumber the rowids FTS refers to)."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM")
        from local_schema.search import rebuild_search_index

        with self.engine.begin() as conn:
            rebuild_search_index(conn)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> LocalDatabase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalDatabase({str(self.path)!r})"


def open_database(path: str | Path, *, prepared: bool = False) -> LocalDatabase:
    """Open (creating if needed) the local database at `path`: check, back up, migrate, configure.

    Raises DatabaseCorrupt (with the recovery path in its message) if the integrity check fails,
    SchemaTooNew if a newer MIRARI wrote the file, MigrationError if a migration step failed.
    Runs a full integrity check, so call it off the UI thread. `prepared=True`: this process has just
    run `local_schema.prepare.prepare_file` on it (the sync engine's idle check), so it is not run twice.
    """
    path = Path(path).expanduser().resolve()
    if not prepared:
        prepare_file(path)
    engine = create_engine(
        # URL.create, not an f-string: a URL string would read '?', '#' or '%xx' in a user-chosen
        # data dir as URL syntax and open a different file than the one just checked and migrated.
        URL.create("sqlite", database=str(path)),
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        # The connection used last is handed out next: its page cache is warm, and the others' caches stay
        # small (each connection has its own; rotating through the pool filled every one of them).
        pool_use_lifo=True,
    )
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "checkout", _on_checkout)
    event.listen(engine, "begin", _on_begin)
    event.listen(engine, "commit", _on_commit)
    with engine.connect() as conn:  # makes the -wal/-shm exist so their modes can be fixed now
        conn.exec_driver_sql("SELECT 1").close()
    restrict_modes(path)
    return LocalDatabase(path, engine)
