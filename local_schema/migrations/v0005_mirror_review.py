"""v5: what a Mirror review keeps beside its four columns (server: 20261130160000_mirror_review.sql).

`details` (JSON object: reviewer, logs, memory used, skill scores), `previous_prompt` (the connection's
prompt before Apply, for Undo) and `applied_at`. New synced columns mean new capture triggers: the
update trigger compares a frozen column list, so it is dropped and created again with the new one.
The mirror_reports pull cursor is reset so the columns arrive for rows pulled before this version.
Frozen: never edit; add a version.
"""

from __future__ import annotations

import sqlite3

from local_schema.migrations._capture import capture_trigger_statements, drop_capture_trigger_statements

CAPTURED_MIRROR_REPORTS_V5 = (
    "agent_connection_id",
    "title",
    "strengths",
    "weaknesses",
    "recommendations",
    "suggested_prompt",
    "details",
    "previous_prompt",
    "applied_at",
    "deleted_at",
)


def upgrade(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE mirror_reports ADD COLUMN details TEXT NOT NULL DEFAULT '{}'")
    conn.execute("ALTER TABLE mirror_reports ADD COLUMN previous_prompt TEXT")
    conn.execute("ALTER TABLE mirror_reports ADD COLUMN applied_at TEXT")
    # Pull mirror reports again from the start: another device may already have filled the new columns.
    conn.execute("DELETE FROM sync_cursors WHERE table_name = 'mirror_reports'")
    for statement in drop_capture_trigger_statements("mirror_reports"):
        conn.execute(statement)
    for statement in capture_trigger_statements("mirror_reports", CAPTURED_MIRROR_REPORTS_V5):
        conn.execute(statement)
