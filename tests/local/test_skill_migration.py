"""v3 on a file that already has skills: the rows keep their data, gain empty test cases, the skills
cursor starts over (so the new columns are pulled for old rows), and edits of the new columns sync."""

from __future__ import annotations

import json
import sqlite3

from local_schema.database import open_database
from local_schema.migrations import migrate
from local_schema.models import Skill
from tests.outbox_ops import pending_ops

SKILL_ID = "2d9b7e4f-5b8c-4f3a-9c75-8e3f4a5b6c7d"


def test_v2_skills_upgrade_and_their_new_columns_are_captured(db_path):
    db_path.parent.mkdir(parents=True, exist_ok=True)
    raw = sqlite3.connect(db_path, isolation_level=None)
    migrate(raw, target=2)
    with raw:
        raw.execute("INSERT INTO skills (id, name, template_prompt, version) VALUES (?, 'Bullets', 'Use •.', 3)",
                    (SKILL_ID,))
        raw.execute("DELETE FROM sync_outbox")  # as if pushed
        raw.executemany("INSERT INTO sync_cursors (table_name, cursor) VALUES (?, '2026-01-01T00:00:00+00:00')",
                        [("skills",), ("tasks",)])
    raw.close()

    db = open_database(db_path)
    try:
        with db.session() as s:
            skill = s.get(Skill, SKILL_ID)
            assert (skill.name, skill.version, skill.test_cases, skill.last_test) == ("Bullets", 3, [], None)
            cursors = dict(s.connection().exec_driver_sql("SELECT table_name, cursor FROM sync_cursors").all())
        assert cursors == {"tasks": "2026-01-01T00:00:00+00:00"}
        cases = [{"prompt": "p", "expectations": [{"kind": "is_json"}]}]
        with db.write() as s:
            skill = s.get(Skill, SKILL_ID)
            skill.test_cases, skill.last_test = cases, {"version": 3, "with_rate": 1, "without_rate": 0}
            s.add(skill)
        with db.session() as s:
            (op,) = pending_ops(s)
            stored = s.connection().exec_driver_sql("SELECT test_cases FROM skills").scalar()
        assert (op.kind, sorted(op.changed_columns)) == ("update", ["last_test", "test_cases"])
        assert json.loads(stored) == cases
    finally:
        db.close()
