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

from local_schema import changes, write_tracking
from local_schema.changes import ChangedTables
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



# (tables written, origin): origin is "local" for the app's own writes, "sync" for rows a cycle applied.
# `tables` is a ChangedTables (a frozenset, so listeners written for plain sets keep working).
ChangeListener = Callable[[frozenset[str], str], None]
_TOUCHED = "mirari_tables_touched"  # Session.info key: the set a write() block's transaction fills


def _attach_sink(session: OrmSession, _transaction: object, connection: Connection) -> None:
    """A Session began its transaction: a write() block collects what it writes, any other session nothing."""
    tracker = write_tracking.tracker_of(connection)
    if tracker is not None:
        tracker.sink = session.info.get(_TOUCHED)


event.listen(Session, "after_begin", _attach_sink)


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
    _detach_sink(conn)  # a new transaction collects nothing until a write() block's session says so
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return  # e.g. PRAGMA wal_checkpoint or VACUUM, which must run outside a transaction
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {'IMMEDIATE' if mode == 'IMMEDIATE' else 'DEFERRED'}")


def _detach_sink(conn: Connection) -> None:
    tracker = write_tracking.tracker_of(conn)
    if tracker is not None:
        tracker.sink = None


def _on_commit(conn: Connection) -> None:
    _detach_sink(conn)  # everything the transaction wrote has run; the connection may serve others next
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
    def write(self) -> Iterator[Session]:
        """The one write path: a Session in a BEGIN IMMEDIATE transaction, committed when the block ends.

            with db.write() as session:
                node = session.get(MemoryNode, node_id)
                node.strength = 0.8
                session.add(node)

        IMMEDIATE takes the write lock before the first read, so a sync commit landing between this
        block's read and its write makes it wait (busy timeout) instead of failing at once with
        "database is locked" on the lock upgrade. An exception rolls everything back. Do not commit
        inside the block.

        After the commit, every table the transaction wrote — through the ORM, raw SQL, a foreign-key
        cascade or a trigger; bookkeeping tables (changes.INTERNAL) left out — is told to the change
        listeners (origin "local") and recorded in the current operation's collector (changes.collect).
        Nobody lists tables by hand: SQLite reports what was written (local_schema/write_tracking.py).
        """
        touched: set[str] = set()
        session = Session(self._immediate_engine, expire_on_commit=False)
        session.info[_TOUCHED] = touched
        with session:
            yield session
            session.commit()
        if touched:
            done = ChangedTables(touched)
            changes.record(done)
            self.notify_changed(done, "local")

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
        tables = ChangedTables(tables, rows or getattr(tables, "rows", None), origin)
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
        rollback restores it regardless. Do not commit inside the block. What is written inside the
        block came from elsewhere: write() does not report it as a local change either (the sync
        engine announces what it applied, with the row ids).
        """
        target.execute(_SUPPRESS)
        conn = target.connection() if isinstance(target, OrmSession) else target
        tracker = write_tracking.tracker_of(conn)
        if tracker is not None:
            tracker.paused += 1
        try:
            yield target
        except BaseException:
            try:
                target.execute(_UNSUPPRESS)
            except Exception:  # transaction already failed: its rollback restores the flag
                log.debug("could not clear the capture flag after an error; rollback will", exc_info=True)
            raise
        finally:
            if tracker is not None:
                tracker.paused -= 1
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
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000,
                      "cached_statements": write_tracking.STATEMENT_CACHE,
                      "factory": write_tracking.TrackedConnection},  # knows which tables each statement writes
        # The connection used last is handed out next: its page cache is warm, and the others' caches stay
        # small (each connection has its own; rotating through the pool filled every one of them).
        pool_use_lifo=True,
    )
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "checkout", _on_checkout)
    event.listen(engine, "begin", _on_begin)
    event.listen(engine, "commit", _on_commit)
    event.listen(engine, "rollback", _detach_sink)
    event.listen(engine, "before_cursor_execute", write_tracking.before_cursor_execute)
    event.listen(engine, "after_cursor_execute", write_tracking.after_cursor_execute)
    with engine.connect() as conn:  # makes the -wal/-shm exist so their modes can be fixed now
        conn.exec_driver_sql("SELECT 1").close()
    restrict_modes(path)
    return LocalDatabase(path, engine)
