"""v10: an index of the Memory Atlas's duplicate keys, so "is this fact already there?" is one lookup.

The no-duplicates rule (`agent.memory.text.dedup_key`) compared a new label with every live node, in
Python: a template of 2,000 memories against an Atlas of 50,000 was 100 million comparisons inside
one write transaction. `memory_dedup_keys` holds each node's key, and the lookup is an index search.

The key is computed in Python, so SQLite cannot keep it by itself. The triggers below only mark a key
as missing: a new node gets a row with key NULL, a node whose label (or id) changes gets its key
cleared, a deleted node loses its row. Whoever looks a key up first computes the missing ones
(`agent.memory.atlas`), inside its own write transaction. Every writer is covered — the app, sync's pulls,
raw SQL — because all of them fire the triggers. Local only: never synced, never captured.

Existing nodes start with key NULL and get their keys at the first lookup. Changing `dedup_key` needs a
migration that sets every key back to NULL. Frozen: never edit; add a version.
"""

from __future__ import annotations

import sqlite3

from local_schema.migrations._script import run_script

SQL = """
CREATE TABLE memory_dedup_keys (
  node_id TEXT PRIMARY KEY NOT NULL,
  key TEXT
) WITHOUT ROWID;
CREATE INDEX memory_dedup_keys_key ON memory_dedup_keys (key);

INSERT INTO memory_dedup_keys (node_id, key) SELECT id, NULL FROM memory_nodes;

CREATE TRIGGER memory_dedup_keys_insert AFTER INSERT ON memory_nodes
BEGIN
  INSERT INTO memory_dedup_keys (node_id, key) VALUES (NEW.id, NULL)
    ON CONFLICT (node_id) DO UPDATE SET key = NULL;
END;

CREATE TRIGGER memory_dedup_keys_update AFTER UPDATE OF id, label ON memory_nodes
WHEN OLD.id IS NOT NEW.id OR OLD.label IS NOT NEW.label
BEGIN
  DELETE FROM memory_dedup_keys WHERE node_id = OLD.id;
  INSERT INTO memory_dedup_keys (node_id, key) VALUES (NEW.id, NULL)
    ON CONFLICT (node_id) DO UPDATE SET key = NULL;
END;

CREATE TRIGGER memory_dedup_keys_delete AFTER DELETE ON memory_nodes
BEGIN
  DELETE FROM memory_dedup_keys WHERE node_id = OLD.id;
END;
"""


def upgrade(conn: sqlite3.Connection) -> None:
    run_script(conn, SQL)
