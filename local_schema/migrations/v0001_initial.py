"""v1: the eight synced tables, their indexes, the sync state tables and change capture.

Frozen: never edit a released migration; add a new version instead.
"""

from __future__ import annotations

import sqlite3

from local_schema.migrations._capture import UTC_NOW_SQL, UUID4_SQL, capture_trigger_statements
from local_schema.migrations._script import run_script

_ID = f"id TEXT PRIMARY KEY NOT NULL DEFAULT ({UUID4_SQL})"
_STAMPS = (
    f"created_at TEXT NOT NULL DEFAULT ({UTC_NOW_SQL}),\n"
    f"  updated_at TEXT NOT NULL DEFAULT ({UTC_NOW_SQL}),\n"
    "  deleted_at TEXT"
)

# Local CHECKs are deliberately absent: the server validates; a pulled row must never be refused here
# because the server learned a new enum value first.
TABLES_SQL = f"""
CREATE TABLE agent_connections (
  {_ID},
  user_id TEXT,
  name TEXT NOT NULL,
  provider TEXT NOT NULL,
  base_url TEXT NOT NULL,
  model TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'offline',
  system_prompt TEXT,
  {_STAMPS}
);

CREATE TABLE conversations (
  {_ID},
  user_id TEXT,
  agent_connection_id TEXT REFERENCES agent_connections(id) ON DELETE SET NULL,
  title TEXT,
  {_STAMPS}
);
CREATE INDEX conversations_agent_connection_id ON conversations(agent_connection_id);
CREATE INDEX conversations_updated_at ON conversations(updated_at);

CREATE TABLE messages (
  {_ID},
  user_id TEXT,
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  {_STAMPS}
);
CREATE INDEX messages_conversation_created ON messages(conversation_id, created_at);
CREATE INDEX messages_created_at ON messages(created_at);

CREATE TABLE memory_nodes (
  {_ID},
  user_id TEXT,
  label TEXT NOT NULL,
  category TEXT,
  strength REAL NOT NULL DEFAULT 0.5,
  source TEXT,
  last_referenced_at TEXT,
  {_STAMPS}
);
CREATE INDEX memory_nodes_strength ON memory_nodes(strength);

CREATE TABLE skills (
  {_ID},
  user_id TEXT,
  name TEXT NOT NULL,
  description TEXT,
  category TEXT,
  status TEXT NOT NULL DEFAULT 'suggested',
  score REAL NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 1,
  template_prompt TEXT,
  {_STAMPS}
);
CREATE INDEX skills_status ON skills(status);

CREATE TABLE mirror_reports (
  {_ID},
  user_id TEXT,
  agent_connection_id TEXT REFERENCES agent_connections(id) ON DELETE SET NULL,
  title TEXT,
  strengths TEXT NOT NULL DEFAULT '[]',
  weaknesses TEXT NOT NULL DEFAULT '[]',
  recommendations TEXT NOT NULL DEFAULT '[]',
  suggested_prompt TEXT,
  {_STAMPS}
);
CREATE INDEX mirror_reports_agent_connection_id ON mirror_reports(agent_connection_id);

CREATE TABLE tasks (
  {_ID},
  user_id TEXT,
  connection_id TEXT REFERENCES agent_connections(id) ON DELETE SET NULL,
  title TEXT NOT NULL,
  description TEXT,
  status TEXT NOT NULL DEFAULT 'pending',
  {_STAMPS}
);
CREATE INDEX tasks_connection_id ON tasks(connection_id);

CREATE TABLE templates (
  {_ID},
  author_id TEXT,
  name TEXT NOT NULL,
  description TEXT,
  category TEXT,
  payload TEXT NOT NULL,
  installs INTEGER NOT NULL DEFAULT 0,
  is_public BOOLEAN NOT NULL DEFAULT 0,
  {_STAMPS}
);
"""

SYNC_TABLES_SQL = f"""
CREATE TABLE sync_outbox (
  op_seq INTEGER PRIMARY KEY AUTOINCREMENT,
  op_uuid TEXT NOT NULL,
  table_name TEXT NOT NULL,
  row_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('insert', 'update', 'delete')),
  changed_columns TEXT,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  last_error TEXT,
  created_at TEXT NOT NULL DEFAULT ({UTC_NOW_SQL})
);
CREATE INDEX sync_outbox_state_seq ON sync_outbox(state, op_seq);
CREATE INDEX sync_outbox_row ON sync_outbox(table_name, row_id);

CREATE TABLE sync_cursors (
  table_name TEXT PRIMARY KEY NOT NULL,
  cursor TEXT
);

CREATE TABLE sync_parked (
  op_seq INTEGER PRIMARY KEY,
  table_name TEXT NOT NULL,
  row_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  changed_columns TEXT,
  code TEXT,
  message TEXT,
  parked_at TEXT NOT NULL DEFAULT ({UTC_NOW_SQL}),
  details TEXT
);

CREATE TABLE sync_quarantine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  table_name TEXT NOT NULL,
  row_id TEXT,
  payload TEXT,
  error TEXT,
  quarantined_at TEXT NOT NULL DEFAULT ({UTC_NOW_SQL})
);

CREATE TABLE sync_meta (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT
);
INSERT INTO sync_meta (key, value) VALUES ('capture_suppressed', '0');
"""

# The columns each table's update capture compares, as of v1 (client columns but id, plus deleted_at).
CAPTURED_V1 = {
    "agent_connections": ("name", "provider", "base_url", "model", "status", "system_prompt", "deleted_at"),
    "conversations": ("agent_connection_id", "title", "deleted_at"),
    "messages": ("conversation_id", "role", "content", "deleted_at"),
    "memory_nodes": ("label", "category", "strength", "source", "last_referenced_at", "deleted_at"),
    "skills": (
        "name",
        "description",
        "category",
        "status",
        "score",
        "version",
        "template_prompt",
        "deleted_at",
    ),
    "mirror_reports": (
        "agent_connection_id",
        "title",
        "strengths",
        "weaknesses",
        "recommendations",
        "suggested_prompt",
        "deleted_at",
    ),
    "tasks": ("connection_id", "title", "description", "status", "deleted_at"),
    "templates": ("name", "description", "category", "payload", "installs", "is_public", "deleted_at"),
}


def upgrade(conn: sqlite3.Connection) -> None:
    run_script(conn, TABLES_SQL)
    run_script(conn, SYNC_TABLES_SQL)
    for table, columns in CAPTURED_V1.items():
        for statement in capture_trigger_statements(table, columns):
            conn.execute(statement)
