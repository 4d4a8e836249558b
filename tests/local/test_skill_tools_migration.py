"""Local migration v14: skills.tools (synced) — existing skills get [], a change is captured with the
columns earlier versions gave the trigger, the skills pull cursor (only it) is reset, a non-array refused."""

from __future__ import annotations

import json
import sqlite3

import pytest

from local_schema.migrations import migrate

SKILL = "2b8a6d3f-4a7b-4e2f-8b64-7d2e3f4a5b6c"


def _file_at(path, version: int) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=version)
    return conn


def test_upgrade_keeps_skills_gives_them_no_tools_and_pulls_skills_again(tmp_path):
    conn = _file_at(tmp_path / "local.sqlite3", 13)
    try:
        conn.executemany("INSERT INTO sync_cursors (table_name, cursor) VALUES (?, '2026-01-01T00:00:00+00:00')",
                         [("skills",), ("messages",)])
        conn.execute("INSERT INTO skills (id, name, template_prompt, created_at, updated_at) "
                     "VALUES (?, 'S', 'p', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')", (SKILL,))
        migrate(conn)
        assert conn.execute("SELECT tools, version FROM skills").fetchone() == ("[]", 1)
        assert {t for (t,) in conn.execute("SELECT table_name FROM sync_cursors")} == {"messages"}
        conn.execute("DELETE FROM sync_outbox")
        conn.execute("UPDATE skills SET tools = ?, source = 'template:x' WHERE id = ?", ('["fx/add"]', SKILL))
        [(changed,)] = conn.execute("SELECT changed_columns FROM sync_outbox").fetchall()
        assert sorted(json.loads(changed)) == ["source", "tools"]  # v7's source kept, tools added
        for bad in ('"fx/add"', '{"a": 1}', json.dumps([f"s/t{i}" for i in range(33)])):
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute("UPDATE skills SET tools = ? WHERE id = ?", (bad, SKILL))
    finally:
        conn.close()
