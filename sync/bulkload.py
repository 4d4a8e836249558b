"""Storing many pulled rows fast: what a batch of server rows does not need while it is written.

- Change capture: the rows come from the server, so capture is suppressed anyway, but SQLite still runs
  every capture trigger's WHEN for every row. For a batch, the table's capture triggers are dropped and
  recreated from their own stored SQL *inside the batch's transaction*: no other connection ever sees
  them missing (a rollback restores them too).
- The full-text index, on a table's first sync: the index trigger is left out the same way, and the new
  rows' rowids go on the search backlog (local migration v8) in the same transaction. The backlog is
  indexed afterwards in short transactions (`index_backlog`), so the write lock is never held for long.
- Secondary indexes, on a table's first sync: dropped before the load and built once after it (built
  from sorted data instead of updated row by row). Their SQL waits in sync_meta, so a crash in between
  rebuilds them next time. A missing index changes how fast a query runs, never what it returns.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from local_schema.search import index_backlog as index_backlog_chunk
from sync.dbutil import get_meta, quote, set_meta, write_tx
from sync.heads import INDEX_META

log = logging.getLogger(__name__)

MIN_BATCH = 200  # rows: below this, dropping and recreating triggers costs more than it saves
FTS_INSERT_TRIGGERS = {"messages": "messages_fts_insert"}
BACKLOG_SECONDS = 0.25  # aim per search-backlog transaction (the window's busy timeout is 5 s)


def _triggers(conn, table: str, names: list[str] | None = None) -> list[tuple[str, str]]:
    sql = ("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND "
           "(name LIKE ? ESCAPE '\\'" + (f" OR name IN ({','.join('?' * len(names))})" if names else "") + ")")
    prefix = table.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "\\_capture\\_%"
    return conn.exec_driver_sql(sql, (table, prefix, *(names or ()))).fetchall()


class TriggersAside:
    """For one transaction writing server rows into `table`: the triggers those rows do not need are
    dropped when it starts and recreated from their own stored SQL by `restore()`, just before it commits
    (a rollback restores them without it). On a first sync the rows inserted meanwhile go on the search
    backlog: new rowids are handed out above the largest one, and only this transaction writes, so every
    rowid above the one noted at the start is a row inserted here without indexing it."""

    def __init__(self, conn, table: str, *, first_sync: bool):
        self.conn, self.table = conn, table
        self.fts = FTS_INSERT_TRIGGERS.get(table) if first_sync else None
        self.triggers = _triggers(conn, table, [self.fts] if self.fts else None)
        self.top = (conn.exec_driver_sql(f"SELECT coalesce(max(rowid), 0) FROM {quote(table)}").scalar()
                    if self.fts else None)
        for name, _ in self.triggers:
            conn.exec_driver_sql(f"DROP TRIGGER {quote(name)}")

    def restore(self) -> None:
        if self.fts is not None:
            self.conn.exec_driver_sql(f"INSERT INTO {self.table}_fts_backlog (msg_rowid) "
                                      f"SELECT rowid FROM {quote(self.table)} WHERE rowid > ?", (self.top,))
        for _, sql in self.triggers:
            self.conn.exec_driver_sql(sql)


def write_batch(conn, table: str, rows: int, write: Callable[[], None]) -> None:
    """Run `write()` (one statement's worth of server rows) without the capture triggers if it is big."""
    if rows < MIN_BATCH:
        write()
        return
    aside = TriggersAside(conn, table, first_sync=False)
    write()  # an exception leaves the triggers to the caller's rollback
    aside.restore()


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
        # Grow or shrink the next chunk toward the time aim (FTS5 cost per row is roughly constant).
        chunk = max(500, min(100_000, int(chunk * BACKLOG_SECONDS / max(took, 1e-3))))


def finish(db, progress: Callable[[str, int], None] = lambda *_: None) -> None:
    """What a first sync left to do (also after a crash): deferred indexes, then the search backlog."""
    restore_indexes(db)
    index_backlog(db, progress)
