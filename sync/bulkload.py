"""First sync of a big table into an empty one: build the full-text index once at the end, not per row.

Indexing each message through its FTS5 trigger costs about as much as storing it; one FTS5 'rebuild'
after the load costs a fraction (sync-anchors §4.10: build secondary indexes after the bulk load).
While a page is written the index trigger is dropped and recreated from its own stored SQL *inside
the page's transaction*, so no other connection ever sees it missing: app writes during the first sync
are indexed as usual, and the final rebuild covers everything. A flag in sync_meta, committed with the
first such page, makes the rebuild happen even if the process dies before the end.
"""

from __future__ import annotations

from local_schema.search import rebuild_search_index
from sync.dbutil import get_meta, set_meta

INDEX_TRIGGERS = {"messages": "messages_fts_insert"}
FLAG = "fts_rebuild_needed"


def deferrable(conn, table: str) -> str | None:
    """The index trigger's SQL if `table` is empty and has one (so a bulk load may skip it), else None."""
    name = INDEX_TRIGGERS.get(table)
    if name is None or conn.exec_driver_sql(f'SELECT EXISTS (SELECT 1 FROM "{table}")').scalar():
        return None
    row = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                               (name,)).fetchone()
    return row[0] if row else None


def write_without_index(conn, table: str, trigger_sql: str, write) -> None:
    """Run `write()` in the current transaction with the index trigger of `table` absent."""
    set_meta(conn, FLAG, "1")
    conn.exec_driver_sql(f'DROP TRIGGER "{INDEX_TRIGGERS[table]}"')
    write()
    conn.exec_driver_sql(trigger_sql)


def rebuild_if_needed(conn) -> bool:
    if get_meta(conn, FLAG) != "1":
        return False
    rebuild_search_index(conn)
    set_meta(conn, FLAG, "0")
    return True
