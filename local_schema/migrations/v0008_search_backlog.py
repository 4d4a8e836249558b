"""v8: a backlog of messages not yet in the full-text index, so a big load can index them in chunks.

A first sync stores tens of thousands of messages; indexing each through the FTS5 trigger costs about as
much as storing it, and one 'rebuild' at the end holds the write lock for seconds on a big table. So the
sync engine stores such rows without indexing them and lists their rowids in `messages_fts_backlog`, and
indexes the backlog in short transactions afterwards (`local_schema.search.index_backlog`).

Invariant kept by the triggers below: a message is in `messages_fts` with its current content exactly when
its rowid is not in the backlog. Update and delete of a backlogged message leave the index alone (it holds
nothing for that row; an FTS5 'delete' of content it never indexed would corrupt it), and deleting a
message takes it off the backlog (SQLite may hand its rowid to a new row). Inserts are indexed as before.
An update that names `content` without changing it (an upsert of a pulled row) no longer re-indexes it.

A file left by an interrupted first sync of an older version (`fts_rebuild_needed` = 1: its index misses
rows) has its index emptied and every message put on the backlog. Frozen: never edit; add a version.
"""

from __future__ import annotations

import sqlite3

from local_schema.migrations._script import run_script

SQL = """
CREATE TABLE messages_fts_backlog (
  msg_rowid INTEGER PRIMARY KEY NOT NULL
);

DROP TRIGGER messages_fts_delete;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content)
    SELECT 'delete', OLD.rowid, OLD.content
    WHERE NOT EXISTS (SELECT 1 FROM messages_fts_backlog WHERE msg_rowid = OLD.rowid);
  DELETE FROM messages_fts_backlog WHERE msg_rowid = OLD.rowid;
END;

DROP TRIGGER messages_fts_update;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
WHEN OLD.content IS NOT NEW.content
  AND NOT EXISTS (SELECT 1 FROM messages_fts_backlog WHERE msg_rowid = OLD.rowid)
BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', OLD.rowid, OLD.content);
  INSERT INTO messages_fts (rowid, content) VALUES (NEW.rowid, NEW.content);
END;
"""

INTERRUPTED_REBUILD_SQL = """
INSERT INTO messages_fts (messages_fts) VALUES ('delete-all');
INSERT INTO messages_fts_backlog (msg_rowid) SELECT rowid FROM messages;
UPDATE sync_meta SET value = '0' WHERE key = 'fts_rebuild_needed';
"""


def upgrade(conn: sqlite3.Connection) -> None:
    run_script(conn, SQL)
    flag = conn.execute("SELECT value FROM sync_meta WHERE key = 'fts_rebuild_needed'").fetchone()
    if flag and flag[0] == "1":
        run_script(conn, INTERRUPTED_REBUILD_SQL)
