"""Skills edited on one device appear on another after sync: fields, status, test cases, the last
test result, and the version the server counted — which the editing device already showed."""

from __future__ import annotations

from agent.skills.cases import cases_hash
from agent.skills.forge import SkillDraft, create_suggested, dismiss, edit_skill, move_skill
from local_schema.models import Skill
from tests.sync.helpers import server_rows

CASES = [{"prompt": "Summarise: tea is nice.", "expectations": [{"kind": "contains", "value": "•"}]}]


def _skill(dev, skill_id) -> Skill | None:
    with dev.session() as s:
        return s.get(Skill, skill_id)


def test_skills_edited_on_one_device_appear_on_the_other(devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    skill = create_suggested(a.db, SkillDraft("Bullets", "Answer in bullets.", test_cases=CASES))
    # Before the first push: the insert carries the row whole, so these count locally and on the server.
    assert edit_skill(a.db, skill.id, template_prompt="Answer in • bullets.").version == 2
    a.sync()
    b.sync()
    assert _skill(b, skill.id).version == 2 and _skill(b, skill.id).test_cases == CASES

    # Device B: two prompt edits before it syncs reach the server as one update: one version.
    assert edit_skill(b.db, skill.id, template_prompt="Answer in • bullets, at most 3.").version == 3
    assert edit_skill(b.db, skill.id, template_prompt="Answer in • bullets, at most 5.",
                      category="writing").version == 3
    move_skill(b.db, skill.id, "accepted")
    result = {"version": 3, "cases_hash": cases_hash(CASES), "with_rate": 1.0, "without_rate": 0.0,
              "delta": 1.0, "runs": 1, "results": [{"with": 1, "without": 0, "failed": []}]}
    with b.db.write() as s:  # what agent.skills.runner stores at the end of a run
        row = s.get(Skill, skill.id)
        row.last_test, row.score = result, 1.0
        s.add(row)
    b.sync()
    (on_server,) = [r for r in server_rows(supabase_stack, "skills", user[2]) if str(r["id"]) == skill.id]
    assert on_server["version"] == 3  # the server's trigger counted exactly what B showed
    a.sync()
    on_a, on_b = _skill(a, skill.id), _skill(b, skill.id)
    for dev_row in (on_a, on_b):
        assert (dev_row.version, dev_row.status, dev_row.category, dev_row.score) == (3, "accepted", "writing", 1.0)
        assert dev_row.template_prompt == "Answer in • bullets, at most 5."
        assert dev_row.last_test == result and dev_row.test_cases == CASES
    assert a.rows("skills") == b.rows("skills")

    # Back on A: the next prompt change is a new version everywhere.
    assert edit_skill(a.db, skill.id, template_prompt="Answer in • bullets, at most 4.").version == 4
    a.sync()
    b.sync()
    assert _skill(b, skill.id).version == 4


def test_a_dismissed_suggestion_is_gone_on_both(devices):
    a, b = devices("a"), devices("b")
    skill = create_suggested(a.db, SkillDraft("Temporary", "Do a thing."))
    a.sync()
    b.sync()
    assert _skill(b, skill.id) is not None
    dismiss(b.db, skill.id)
    b.sync()
    a.sync()
    assert _skill(a, skill.id) is None and _skill(b, skill.id) is None


def test_the_tools_a_skill_needs_travel_as_names(devices, supabase_stack, user):
    """skills.tools set on one device reaches the server and the other device; clearing it too."""
    from agent.skills.tools import set_skill_tools

    a, b = devices("a"), devices("b")
    skill = create_suggested(a.db, SkillDraft("Reader", "Read the file first."))
    a.sync()
    b.sync()
    set_skill_tools(a.db, skill.id, ["files/read_file", "fx/read/file.v2"])
    a.sync()
    (on_server,) = [r for r in server_rows(supabase_stack, "skills", user[2]) if str(r["id"]) == skill.id]
    assert on_server["tools"] == ["files/read_file", "fx/read/file.v2"] and on_server["version"] == 1
    b.sync()
    assert _skill(b, skill.id).tools == ["files/read_file", "fx/read/file.v2"]
    set_skill_tools(b.db, skill.id, [])
    b.sync()
    a.sync()
    assert _skill(a, skill.id).tools == []
