"""v14: a skill may name the tools it needs (`skills.tools`, synced; issue 22, docs/skills.md).

Server: supabase/migrations/20261208300000_skill_tools.sql (the same column and bounds).

- `skills.tools`: a JSON array (TEXT, default '[]') of "server/tool" names, at most 32, each at most 128
  characters (agent/skills/tools.py validates them before a write; the server checks the same). Only
  names: they never enable or run anything on this device.
- Capture: the skills update trigger is extended in place with the column (v12's way), so it keeps
  whatever columns another version added to it.
- Pull cursor: skills are pulled again (a small table), so a list another device (already on this
  version) stored on the server arrives for rows this device pulled before.

Frozen: never edit; add a version.
"""

from __future__ import annotations

import sqlite3

from local_schema.migrations._script import run_script
from local_schema.migrations.v0012_tools import extended_update_trigger

SQL = """
ALTER TABLE skills ADD COLUMN tools TEXT NOT NULL DEFAULT '[]'
  CHECK (json_valid(tools) AND json_type(tools) = 'array' AND json_array_length(tools) <= 32);
DELETE FROM sync_cursors WHERE table_name = 'skills';
"""


def upgrade(conn: sqlite3.Connection) -> None:
    run_script(conn, SQL)
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'skills_capture_update'"
                       ).fetchone()
    if row is None:
        raise ValueError("skills_capture_update is missing")
    conn.execute("DROP TRIGGER skills_capture_update")
    conn.execute(extended_update_trigger(row[0], ("tools",)))
