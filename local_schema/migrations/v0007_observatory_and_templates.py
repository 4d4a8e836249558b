"""v7: `skills.source` (synced: "installed from"), the local record of installed templates, and live
message counts that keep the Observatory fast.

- `skills.source` mirrors the server column added by supabase/migrations/…170000_skills_source.sql;
  the skills capture triggers are recreated so an edit of it is pushed (with v3's columns), and the
  skills pull cursor is reset so rows pulled before this version get the column's value.
- `installed_templates` is local only (never synced): the name of each template installed on this
  device, so "installed from" can say more than an id for another author's template.
- `message_counts`: live (not deleted) messages per UTC quarter hour of `created_at`, kept by triggers
  on every insert, delete and change of `created_at`/`deleted_at` — the app's writes and sync's alike,
  in the same transaction. Counting 100,000 messages (even through an index) took 20-60 ms; summing a
  few thousand buckets takes well under one. Quarter hours, because every time zone's midnight falls
  on one (offsets are multiples of 15 minutes: +05:45, +08:45, …), so local days are whole buckets.

Frozen: never edit; add a version.
"""

from __future__ import annotations

import sqlite3

from local_schema.migrations._capture import capture_trigger_statements, drop_capture_trigger_statements
from local_schema.migrations._script import run_script

SKILLS_CAPTURED_V7 = ("name", "description", "category", "status", "score", "version", "template_prompt",
                      "test_cases", "last_test", "source", "deleted_at")

def bucket_sql(column: str) -> str:
    """The quarter hour of a timestamp column: 'YYYY-MM-DDTHH:' and 0-3 ('2026-05-01T12:2' = 12:30-12:45
    UTC). Text order is time order, as for the timestamps themselves."""
    return (f"substr({column}, 1, 14) || (CAST(substr({column}, 15, 2) AS INTEGER) / 15)")


SQL_TEMPLATE = """
ALTER TABLE skills ADD COLUMN source TEXT;
DELETE FROM sync_cursors WHERE table_name = 'skills';

CREATE TABLE installed_templates (
  template_id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  author_id TEXT,
  origin TEXT NOT NULL DEFAULT 'catalogue',
  installed_at TEXT NOT NULL
);

CREATE TABLE message_counts (
  bucket TEXT PRIMARY KEY NOT NULL,
  live INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO message_counts (bucket, live)
  SELECT {bucket_of_created_at}, count(*) FROM messages WHERE deleted_at IS NULL GROUP BY 1;

CREATE TRIGGER message_counts_insert AFTER INSERT ON messages WHEN NEW.deleted_at IS NULL
BEGIN
  INSERT INTO message_counts (bucket, live) VALUES ({new_bucket}, 1)
    ON CONFLICT (bucket) DO UPDATE SET live = live + 1;
END;

CREATE TRIGGER message_counts_delete AFTER DELETE ON messages WHEN OLD.deleted_at IS NULL
BEGIN
  UPDATE message_counts SET live = live - 1 WHERE bucket = {old_bucket};
END;

CREATE TRIGGER message_counts_update AFTER UPDATE OF created_at, deleted_at ON messages
WHEN OLD.created_at IS NOT NEW.created_at OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)
BEGIN
  UPDATE message_counts SET live = live - 1 WHERE OLD.deleted_at IS NULL AND bucket = {old_bucket};
  INSERT INTO message_counts (bucket, live) SELECT {new_bucket}, 1 WHERE NEW.deleted_at IS NULL
    ON CONFLICT (bucket) DO UPDATE SET live = live + 1;
END;
"""


SQL = SQL_TEMPLATE.format(bucket_of_created_at=bucket_sql("created_at"), new_bucket=bucket_sql("NEW.created_at"),
                          old_bucket=bucket_sql("OLD.created_at"))


def upgrade(conn: sqlite3.Connection) -> None:
    run_script(conn, SQL)
    for statement in drop_capture_trigger_statements("skills"):
        conn.execute(statement)
    for statement in capture_trigger_statements("skills", SKILLS_CAPTURED_V7):
        conn.execute(statement)
