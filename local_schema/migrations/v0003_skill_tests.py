"""v3: skills carry their test cases and the last test result (synced; server migration
20261130150000_skill_tests.sql).

`test_cases` is a JSON array (default []), `last_test` a JSON object or NULL; like the other JSON
columns they are stored as TEXT. The skills capture triggers are recreated so an update of either
column is pushed, and the skills pull cursor is reset so the columns arrive for rows pulled before.
Frozen: never edit; add a version.
"""

from __future__ import annotations

import sqlite3

from local_schema.migrations._capture import capture_trigger_statements, drop_capture_trigger_statements
from local_schema.migrations._script import run_script

SQL = """
ALTER TABLE skills ADD COLUMN test_cases TEXT NOT NULL DEFAULT '[]';
ALTER TABLE skills ADD COLUMN last_test TEXT;
-- Pull skills again from the start: rows pulled before this version lack the two columns, and another
-- device may already have filled them on the server.
DELETE FROM sync_cursors WHERE table_name = 'skills';
"""

CAPTURED_SKILLS_V3 = (
    "name",
    "description",
    "category",
    "status",
    "score",
    "version",
    "template_prompt",
    "test_cases",
    "last_test",
    "deleted_at",
)


def upgrade(conn: sqlite3.Connection) -> None:
    run_script(conn, SQL)
    for statement in drop_capture_trigger_statements("skills"):
        conn.execute(statement)
    for statement in capture_trigger_statements("skills", CAPTURED_SKILLS_V3):
        conn.execute(statement)
