"""v13: attachments (synced), their device-local transfer queues, knowledge folders (device-local), and
agent_connections.accepts_images (synced).

Server: supabase/migrations/20261207200000_attachments.sql (the same columns).

- `attachments`: one file of one message (name, MIME type, size, SHA-256, storage path). The bytes are not
  in the database: they are content-addressed files under `local_schema.paths.attachments_dir(db path)`
  and, once uploaded, an object in the project's private Storage bucket at `storage_path`
  ('<user id>/<attachment id>'). A row made while signed out has no owner and no storage path yet; the
  trigger `attachments_storage_path` fills the path when the first sign-in sets the owner. A message's
  delete cascades to its attachments here and is not captured (the server's tombstone trigger does the
  same), as for the messages of a deleted thread.
- `attachment_uploads`: the attachments whose bytes this device still has to upload (device-local; a row
  leaves when the object is stored). `attachment_removals`: what a delete left to clean up — the Storage
  object (only when the delete was made here, not pulled), and the local file once no live attachment
  uses its SHA-256. Filled by a trigger, so every way of deleting (a message, a thread, a pull) is covered.
- `knowledge_sets`, `knowledge_files`, `knowledge_chunks` and the FTS5 index `knowledge_fts` (external
  content, BM25): folders indexed on this device. Never synced, never captured (the files are local).
- `agent_connections.accepts_images` (0/1, default 0): whether the connection's model takes images. Its
  capture trigger is recreated with every synced column the table has at this version (read from the
  table, so a column an earlier version added is kept).

Frozen: never edit; add a version.
"""

from __future__ import annotations

import sqlite3

from local_schema.migrations._capture import (
    NOT_SUPPRESSED_SQL,
    UTC_NOW_SQL,
    UUID4_SQL,
    capture_trigger_statements,
    drop_capture_trigger_statements,
)
from local_schema.migrations._script import run_script

ATTACHMENTS_SQL = f"""
CREATE TABLE attachments (
  id TEXT PRIMARY KEY NOT NULL DEFAULT ({UUID4_SQL}),
  user_id TEXT,
  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  mime_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  storage_path TEXT,
  created_at TEXT NOT NULL DEFAULT ({UTC_NOW_SQL}),
  updated_at TEXT NOT NULL DEFAULT ({UTC_NOW_SQL}),
  deleted_at TEXT
);
CREATE INDEX attachments_message_id ON attachments(message_id);
CREATE INDEX attachments_sha256 ON attachments(sha256);

CREATE TRIGGER attachments_storage_path AFTER UPDATE OF user_id ON attachments
WHEN NEW.user_id IS NOT NULL AND NEW.storage_path IS NULL
BEGIN
  UPDATE attachments SET storage_path = NEW.user_id || '/' || NEW.id WHERE id = NEW.id;
END;

CREATE TABLE attachment_uploads (
  attachment_id TEXT PRIMARY KEY NOT NULL REFERENCES attachments(id) ON DELETE CASCADE,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  last_error TEXT
);

CREATE TABLE attachment_removals (
  id INTEGER PRIMARY KEY,
  attachment_id TEXT NOT NULL,
  storage_path TEXT,
  sha256 TEXT NOT NULL,
  queued_at TEXT NOT NULL DEFAULT ({UTC_NOW_SQL}),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  last_error TEXT
);

CREATE TRIGGER attachments_removal AFTER DELETE ON attachments
BEGIN
  INSERT INTO attachment_removals (attachment_id, storage_path, sha256)
  VALUES (OLD.id, CASE WHEN {NOT_SUPPRESSED_SQL} THEN OLD.storage_path END, OLD.sha256);
END;
"""

KNOWLEDGE_SQL = f"""
CREATE TABLE knowledge_sets (
  id TEXT PRIMARY KEY NOT NULL DEFAULT ({UUID4_SQL}),
  name TEXT NOT NULL UNIQUE,
  folder TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT ({UTC_NOW_SQL}),
  indexed_at TEXT
);

CREATE TABLE knowledge_files (
  id INTEGER PRIMARY KEY,
  set_id TEXT NOT NULL REFERENCES knowledge_sets(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  mtime_ns INTEGER NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  error TEXT,
  UNIQUE (set_id, path)
);

CREATE TABLE knowledge_chunks (
  id INTEGER PRIMARY KEY,
  file_id INTEGER NOT NULL REFERENCES knowledge_files(id) ON DELETE CASCADE,
  start_line INTEGER NOT NULL,
  end_line INTEGER NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX knowledge_chunks_file_id ON knowledge_chunks(file_id);

CREATE VIRTUAL TABLE knowledge_fts USING fts5(
  text, content='knowledge_chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);

-- Segments are merged when 16 pile up at a level (crisismerge), not after every few inserts: a fifth
-- less CPU per indexed megabyte (bench/bench_knowledge.py), searches unaffected at 10,000 files.
INSERT INTO knowledge_fts (knowledge_fts, rank) VALUES ('automerge', 0);

-- Each term's document count, so a search can leave out words that are in most passages (agent.knowledge.search).
CREATE VIRTUAL TABLE knowledge_vocab USING fts5vocab('knowledge_fts', 'row');

CREATE TRIGGER knowledge_chunks_fts_insert AFTER INSERT ON knowledge_chunks
BEGIN
  INSERT INTO knowledge_fts (rowid, text) VALUES (NEW.id, NEW.text);
END;

CREATE TRIGGER knowledge_chunks_fts_delete AFTER DELETE ON knowledge_chunks
BEGIN
  INSERT INTO knowledge_fts (knowledge_fts, rowid, text) VALUES ('delete', OLD.id, OLD.text);
END;
"""

CAPTURED_ATTACHMENTS_V13 = ("message_id", "name", "mime_type", "size", "sha256", "storage_path", "deleted_at")
_NOT_CAPTURED = {"id", "user_id", "created_at", "updated_at", "deleted_at"}


def _synced_columns(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    """The client columns of `table` as the file has them now, deleted_at last (what capture compares)."""
    names = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    return tuple(n for n in names if n not in _NOT_CAPTURED) + ("deleted_at",)


def upgrade(conn: sqlite3.Connection) -> None:
    run_script(conn, ATTACHMENTS_SQL)
    for statement in capture_trigger_statements("attachments", CAPTURED_ATTACHMENTS_V13,
                                                cascaded_from=("message_id", "messages")):
        conn.execute(statement)
    run_script(conn, KNOWLEDGE_SQL)
    conn.execute("ALTER TABLE agent_connections ADD COLUMN accepts_images BOOLEAN NOT NULL DEFAULT 0")
    for statement in drop_capture_trigger_statements("agent_connections"):
        conn.execute(statement)
    for statement in capture_trigger_statements("agent_connections", _synced_columns(conn, "agent_connections")):
        conn.execute(statement)
