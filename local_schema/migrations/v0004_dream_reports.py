"""v4: Dream Mode reports (rite VII), synced like the other tables, with change capture.

Frozen: never edit a released migration; add a new version instead.
"""

from __future__ import annotations

import sqlite3

from local_schema.migrations._capture import UTC_NOW_SQL, UUID4_SQL, capture_trigger_statements
from local_schema.migrations._script import run_script

SQL = f"""
CREATE TABLE dream_reports (
  id TEXT PRIMARY KEY NOT NULL DEFAULT ({UUID4_SQL}),
  user_id TEXT,
  agent_connection_id TEXT REFERENCES agent_connections(id) ON DELETE SET NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'running',
  started_at TEXT NOT NULL,
  finished_at TEXT,
  summary TEXT,
  budget TEXT NOT NULL DEFAULT '{{}}',
  findings TEXT NOT NULL DEFAULT '[]',
  proposals TEXT NOT NULL DEFAULT '[]',
  created_at TEXT NOT NULL DEFAULT ({UTC_NOW_SQL}),
  updated_at TEXT NOT NULL DEFAULT ({UTC_NOW_SQL}),
  deleted_at TEXT
);
CREATE INDEX dream_reports_agent_connection_id ON dream_reports(agent_connection_id);
CREATE INDEX dream_reports_started_at ON dream_reports(started_at);
"""

CAPTURED_V4 = ("agent_connection_id", "kind", "status", "started_at", "finished_at", "summary", "budget",
               "findings", "proposals", "deleted_at")


def upgrade(conn: sqlite3.Connection) -> None:
    run_script(conn, SQL)
    for statement in capture_trigger_statements("dream_reports", CAPTURED_V4):
        conn.execute(statement)
