"""v2: full-text search over messages and the local record of connection checks.

`messages_fts` is an external-content FTS5 index (the text is stored once, in messages) kept current
by triggers; existing messages are indexed by the 'rebuild' at the end. Frozen: never edit; add a version.
"""

from __future__ import annotations

import sqlite3

from local_schema.migrations._script import run_script

SQL = """
CREATE VIRTUAL TABLE messages_fts USING fts5(
  content,
  content = 'messages',
  content_rowid = 'rowid',
  tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
BEGIN
  INSERT INTO messages_fts (rowid, content) VALUES (NEW.rowid, NEW.content);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', OLD.rowid, OLD.content);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', OLD.rowid, OLD.content);
  INSERT INTO messages_fts (rowid, content) VALUES (NEW.rowid, NEW.content);
END;

INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

-- Local only, never synced: when a connection was last tested and what went wrong.
CREATE TABLE connection_checks (
  connection_id TEXT PRIMARY KEY NOT NULL REFERENCES agent_connections(id) ON DELETE CASCADE,
  checked_at TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT
);
"""


def upgrade(conn: sqlite3.Connection) -> None:
    run_script(conn, SQL)
