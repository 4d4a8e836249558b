"""Which tables a transaction wrote, as SQLite itself sees it: ORM flushes, raw SQL, foreign-key cascades
and trigger bodies alike.

SQLite calls a connection's authorizer while it *prepares* a statement, once for each action the
statement may perform, including what its triggers and ON DELETE CASCADE / SET NULL actions do; the
INSERT, UPDATE and DELETE actions name their table. That is known at prepare time, so a table is
reported when a statement *may* write it (a DELETE that matched no row still reports its table and its
children's tables): a view refreshes once too often at worst, never once too few.

Python's sqlite3 keeps the last `STATEMENT_CACHE` prepared statements of a connection and re-uses
them by SQL text without preparing again, so the authorizer stays silent for a repeated statement. The
tracker therefore remembers, per connection, the tables of each statement text it has seen prepared,
in an LRU at least as large as Python's own cache and used in the same order: a statement Python still
has cached is always one the tracker still knows.

One tracker per connection (`TrackedConnection.tracker`, the sqlite3 connection class the engine
opens): the engine events call `before` and `after` around each statement; `LocalDatabase.write()` attaches a set (the *sink*) that collects what
its transaction wrote, from BEGIN until COMMIT or ROLLBACK. Writes made while change capture is
suppressed (`applying_remote`: what a sync cycle applies) are rows from elsewhere, not local changes:
they are not collected (the sync engine announces them itself).
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections import OrderedDict

from local_schema.changes import is_internal

log = logging.getLogger(__name__)

STATEMENT_CACHE = 128  # Python's sqlite3 default, passed explicitly so the mirror below can match it
_KNOWN = 2 * STATEMENT_CACHE
_WRITES = frozenset({sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE})
# Only for a statement Python re-used without the tracker having seen it prepared (run on the raw
# driver connection first, e.g. by sync): its target tables from the text, without cascades.
_TARGET = re.compile(r"\b(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)"
                     r"\s+[\"`\[]?(\w+)", re.IGNORECASE)


class WriteTracker:
    """The per-connection state. Runs on whichever thread uses the connection (one at a time)."""

    __slots__ = ("_known", "_sql", "_tables", "_calls", "sink", "paused")

    def __init__(self) -> None:
        self._known: OrderedDict[str, frozenset[str]] = OrderedDict()  # statement text -> tables it writes
        self._sql: str | None = None  # a statement being prepared now (not known yet)
        self._tables: set[str] = set()
        self._calls = 0
        self.sink: set[str] | None = None  # the write() transaction's collected tables, while one is open
        self.paused = 0  # > 0 inside applying_remote()

    # -- SQLite's callback (prepare time) ----------------------------------------------------------------
    def authorize(self, action: int, table: str | None, _column: str | None, _database: str | None,
                  _trigger: str | None) -> int:
        if self._sql is not None:
            self._calls += 1
            if action in _WRITES and table and not is_internal(table):
                self._tables.add(table)
        return sqlite3.SQLITE_OK

    # -- around each statement (engine events) ----------------------------------------------------------
    def before(self, sql: str) -> None:
        if self._sql is not None:
            self._settle(attribute=False)  # the previous statement failed before `after`
        known = self._known.get(sql)
        if known is None:
            self._sql, self._calls = sql, 0
            self._tables = set()
        else:
            self._known.move_to_end(sql)
            self._attribute(known)

    def after(self) -> None:
        if self._sql is not None:
            self._settle(attribute=True)

    def _settle(self, *, attribute: bool) -> None:
        sql, self._sql = self._sql, None
        if self._calls:
            tables = frozenset(self._tables)
        else:  # prepared before the tracker could watch: read the target from the text
            tables = frozenset(t for t in _TARGET.findall(sql) if not is_internal(t))
            log.debug("statement re-used unseen; tables from its text: %s", sorted(tables))
        self._known[sql] = tables
        if len(self._known) > _KNOWN:
            self._known.popitem(last=False)
        if attribute:
            self._attribute(tables)

    def _attribute(self, tables: frozenset[str]) -> None:
        if tables and self.sink is not None and not self.paused:
            self.sink.update(tables)


class TrackedConnection(sqlite3.Connection):
    """A sqlite3 connection that carries its tracker (passed to sqlite3.connect as `factory`): reaching
    it from the statement hooks through the cursor costs one attribute read."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tracker = WriteTracker()
        self.set_authorizer(self.tracker.authorize)


def tracker_of(conn) -> WriteTracker | None:
    """The tracker under a SQLAlchemy Connection (None for a connection not opened as TrackedConnection)."""
    return getattr(conn.connection.driver_connection, "tracker", None)


def before_cursor_execute(_conn, cursor, statement, _parameters, _context, _executemany) -> None:
    tracker = getattr(cursor.connection, "tracker", None)
    if tracker is not None:
        tracker.before(statement)


def after_cursor_execute(_conn, cursor, _statement, _parameters, _context, _executemany) -> None:
    tracker = getattr(cursor.connection, "tracker", None)
    if tracker is not None:
        tracker.after()
