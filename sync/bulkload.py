"""Storing many pulled rows fast: what a batch of server rows does not need while it is written.

- Change capture: the rows come from the server, so capture is suppressed anyway, but SQLite still runs
  every capture trigger's WHEN for every row. For a batch, the table's capture triggers are dropped and
  recreated from their own stored SQL *inside the batch's transaction*: no other connection ever sees
  them missing (a rollback restores them too).
- Per-row upkeep of derived data with a set-based equivalent (`SET_BASED`: the message counts of
  local migration v7, the Atlas's duplicate-key index of v10): the trigger is left out the same way and, right after each INSERT statement, one
  statement does the same for all the rows it inserted (new rowids are handed out above the largest one,
  and only this transaction writes, so the rows above the largest rowid before the statement are the
  ones it inserted). Done per statement, before anything may update or delete those rows.
- The full-text index, on a table's first sync: the index trigger is left out too, and the new rows go
  on the search backlog (local migration v8), again right after each INSERT statement. The backlog is
  indexed afterwards in short transactions (`index_backlog`), so the write lock is never held for long.
- Secondary indexes, on a table's first sync: dropped before the load and built once after it (built
  from sorted data instead of updated row by row). Their SQL waits in sync_meta, so a crash in between
  rebuilds them next time. A missing index changes how fast a query runs, never what it returns.
"""

from __future__ import annotations

import json
import logging
import operator
import time
from collections.abc import Callable
from functools import cache

from local_schema.search import index_backlog as index_backlog_chunk
from sync.dbutil import get_meta, quote, set_meta, write_tx
from sync.heads import INDEX_META

log = logging.getLogger(__name__)

MIN_BATCH = 200  # rows: below this, dropping and recreating triggers costs more than it saves
FTS_INSERT_TRIGGERS = {"messages": "messages_fts_insert"}
BACKLOG_SECONDS = 0.2  # aim per search-backlog transaction (the window's busy timeout is 5 s)
BACKLOG_MAX_ROWS = 5_000  # and a bound whatever the last chunk measured (an FTS5 merge can make one slow)


def _norm(sql: str) -> str:
    return sql.strip().rstrip(";").strip()


@cache
def _inert() -> dict[str, tuple[str, str, str | None]]:
    """trigger name -> (its SQL as the latest migration created it, the column it looks at, the one value of
    that column it acts on): such a trigger does nothing for rows whose column holds anything else, so it
    may be left out for an insert of such rows. (Server rows carry their seq and their parent.)"""
    from local_schema.migrations import v0009_message_authorship as v9
    from local_schema.migrations import v0011_message_trees as v11

    return {"messages_seq_fill": (_norm(v9.SEQ_FILL_SQL), "seq", None),
            "messages_parent_fill": (_norm(v11.PARENT_FILL_SQL), "parent_id", v11.FOLLOWS_LAST)}


@cache
def _set_based() -> dict[str, tuple[str, str]]:
    """trigger name -> (its SQL as the migration created it, the statement doing the same for every row
    with rowid > ?). A trigger whose stored SQL differs (a later migration changed it) is left alone."""
    from local_schema.migrations import v0007_observatory_and_templates as v7
    from local_schema.migrations import v0010_memory_dedup_index as v10

    bucket = v7.bucket_sql("created_at")
    return {
        "message_counts_insert": (
            _created(v7.SQL, "message_counts_insert"),
            f"INSERT INTO message_counts (bucket, live) SELECT {bucket}, count(*) FROM messages "
            "WHERE rowid > ? AND deleted_at IS NULL GROUP BY 1 "
            "ON CONFLICT (bucket) DO UPDATE SET live = live + excluded.live"),
        "memory_dedup_keys_insert": (
            _created(v10.SQL, "memory_dedup_keys_insert"),
            "INSERT INTO memory_dedup_keys (node_id, key) SELECT id, NULL FROM memory_nodes WHERE rowid > ? "
            "ON CONFLICT (node_id) DO UPDATE SET key = NULL"),
    }


def _created(script: str, trigger: str) -> str:
    from local_schema.migrations._script import split_statements

    return _norm(next(sql for sql in split_statements(script) if sql.startswith(f"CREATE TRIGGER {trigger} ")))


def _triggers(conn, table: str, names: list[str]) -> list[tuple[str, str]]:
    sql = ("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND "
           f"(name LIKE ? ESCAPE '\\' OR name IN ({','.join('?' * len(names))}))")
    prefix = table.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "\\_capture\\_%"
    return conn.exec_driver_sql(sql, (table, prefix, *names)).fetchall()


class TriggersAside:
    """For one transaction writing server rows into `table`: the triggers those rows do not need are
    dropped when it starts and recreated from their own stored SQL by `restore()`, just before it commits
    (a rollback restores them without it). Every INSERT of new rows in between goes through `insert()`,
    every UPDATE through `update()`, and `catch_up()` must run before anything deletes rows: the work of
    the set-aside insert triggers is done for all rows inserted so far (rowid above the mark) at the
    latest then, so an update or delete trigger never meets a row whose insert was not accounted for."""

    def __init__(self, conn, table: str, *, first_sync: bool):
        self.conn, self.table = conn, table
        fts = FTS_INSERT_TRIGGERS.get(table) if first_sync else None
        candidates = [*_set_based(), *_inert()] + ([fts] if fts else [])
        self.triggers = []
        self.after: list[str] = []  # statements over `rowid > ?` run after each insert
        # (column, the value it acts on, name, SQL): needed again for a row holding that value
        self.inert: list[tuple[str, str | None, str, str]] = []
        for name, sql in _triggers(conn, table, candidates):
            if name in _set_based():
                created, statement = _set_based()[name]
                if _norm(sql) != created:
                    continue  # changed since: its per-row work is not known to equal the statement
                self.after.append(statement)
            elif name in _inert():
                created, column, acts_on = _inert()[name]
                if _norm(sql) != created:
                    continue
                self.inert.append((column, acts_on, name, sql))
            elif name == fts:
                self.after.append(f"INSERT INTO {table}_fts_backlog (msg_rowid) SELECT rowid FROM {quote(table)} "
                                  "WHERE rowid > ?")
            self.triggers.append((name, sql))
        for name, _ in self.triggers:
            conn.exec_driver_sql(f"DROP TRIGGER {quote(name)}")
        self.done = self._top() if self.after else None  # rows up to this rowid are accounted for

    def _top(self) -> int:
        return self.conn.exec_driver_sql(f"SELECT coalesce(max(rowid), 0) FROM {quote(self.table)}").scalar()

    def catch_up(self) -> None:
        """Do the set-aside insert triggers' work for the rows inserted since the last time (one statement
        each for all of them)."""
        if not self.after:
            return
        top = self._top()
        if top > self.done:
            for statement in self.after:
                self.conn.exec_driver_sql(statement, (self.done,))
            self.done = top

    def needs_triggers(self, columns: tuple[str, ...], values: list[tuple]) -> bool:
        """Whether an INSERT of `values` (in `columns` order) needs one of the set-aside triggers back (see
        `insert`); if not, it may run without going through `insert`."""
        return bool(self._needed(columns, values))

    def _needed(self, columns: tuple[str, ...], values: list[tuple]) -> list[tuple[str, str]]:
        return [(name, sql) for column, acts_on, name, sql in self.inert
                if column not in columns or acts_on in map(operator.itemgetter(columns.index(column)), values)]

    def insert(self, write: Callable[[], None], columns: tuple[str, ...], values: list[tuple]) -> None:
        """Run `write()`, an INSERT of new rows (`values` in `columns` order)."""
        needed = self._needed(columns, values)
        for _, sql in needed:  # a row this trigger acts on: it runs as usual for this statement
            self.conn.exec_driver_sql(sql)
        write()
        for name, _ in needed:
            self.conn.exec_driver_sql(f"DROP TRIGGER {quote(name)}")

    def update(self, write: Callable[[], None]) -> None:
        """Run `write()`, an UPDATE of known rows. Its triggers run as usual: set-based count updates were
        slower here than the per-row trigger (docs/sync.md, "Why it is built this way")."""
        self.catch_up()
        write()

    def restore(self) -> None:
        self.catch_up()
        for _, sql in self.triggers:
            self.conn.exec_driver_sql(sql)


def defer_indexes(conn, table: str) -> None:
    """Drop the table's plain secondary indexes (never a unique one: that is a constraint), remembering
    them in sync_meta in the same transaction."""
    found = []
    for _, name, unique, origin, _partial in conn.exec_driver_sql(f"PRAGMA index_list({quote(table)})").fetchall():
        if origin == "c" and not unique:
            sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?",
                                       (name,)).scalar()
            found.append([name, sql])
    if not found:
        return
    # sync_meta INDEX_META + table: the [name, CREATE INDEX sql] pairs to build once the load is done.
    previous = json.loads(get_meta(conn, INDEX_META + table) or "[]")
    set_meta(conn, INDEX_META + table, json.dumps(previous + found))
    for name, _ in found:
        conn.exec_driver_sql(f"DROP INDEX {quote(name)}")


def restore_indexes(db) -> None:
    """Build every deferred index, one per transaction (each holds the write lock for one CREATE INDEX)."""
    with db.engine.connect() as conn:
        keys = [k for (k,) in conn.exec_driver_sql("SELECT key FROM sync_meta WHERE substr(key, 1, ?) = ?",
                                                    (len(INDEX_META), INDEX_META))]
    for key in keys:
        while True:
            with write_tx(db) as conn:
                waiting = json.loads(get_meta(conn, key) or "[]")
                if not waiting:
                    set_meta(conn, key, None)
                    break
                name, sql = waiting[0]
                if not conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
                                            (name,)).fetchone():
                    conn.exec_driver_sql(sql)
                set_meta(conn, key, json.dumps(waiting[1:]) if waiting[1:] else None)


def index_backlog(db, progress: Callable[[str, int], None] = lambda *_: None) -> int:
    """Index the search backlog in transactions of about BACKLOG_SECONDS each. Returns rows indexed."""
    total, chunk = 0, 2000
    while True:
        started = time.monotonic()
        with write_tx(db) as conn:
            done = index_backlog_chunk(conn, chunk)
        if not done:
            return total
        total += done
        progress("index", total)
        took = time.monotonic() - started
        # Toward the time aim, at most doubling: a row costs FTS5 a little more as the index grows.
        chunk = max(500, min(2 * chunk, BACKLOG_MAX_ROWS, int(chunk * BACKLOG_SECONDS / max(took, 1e-3))))


def finish(db, progress: Callable[[str, int], None] = lambda *_: None) -> None:
    """What a first sync left to do (also after a crash): deferred indexes, then the search backlog."""
    restore_indexes(db)
    index_backlog(db, progress)
