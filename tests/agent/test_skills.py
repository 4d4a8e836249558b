"""Skill lifecycle (agent.skills.forge): legal moves only, the test gates, edits and the version count."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from agent.llm.structured import Invalid
from agent.skills import forge, settings
from agent.skills.cases import cases_hash
from agent.skills.forge import (
    GateRefused,
    IllegalTransition,
    SkillDraft,
    SkillError,
    create_suggested,
    dismiss,
    edit_skill,
    move_skill,
    run_state,
    set_score,
)
from local_schema.models import Skill

CASES = [{"prompt": "Summarise: tea is nice.", "expectations": [{"kind": "contains", "value": "•"}]}]


def _draft(**overrides) -> SkillDraft:
    values = {"name": "Bullets", "template_prompt": "Answer in bullets starting with •.", "test_cases": CASES}
    values.update(overrides)
    return SkillDraft(**values)


def _tested(db, skill_id, with_rate=0.9, without_rate=0.2):
    """Record a test run of the skill as it is now (what agent.skills.runner stores)."""
    with db.write() as s:
        skill = s.get(Skill, skill_id)
        skill.last_test = {"version": skill.version, "cases_hash": cases_hash(skill.test_cases),
                           "with_rate": with_rate, "without_rate": without_rate,
                           "delta": round(with_rate - without_rate, 4)}
        skill.score = with_rate
        s.add(skill)


def _status(db, skill_id):
    with db.session() as s:
        return s.get(Skill, skill_id).status


def test_the_whole_cycle_one_legal_step_at_a_time(db):
    skill = create_suggested(db, _draft())
    assert (skill.status, skill.version, skill.test_cases) == ("suggested", 1, CASES)
    move_skill(db, skill.id, "accepted")
    _tested(db, skill.id)
    move_skill(db, skill.id, "testing")
    moved = move_skill(db, skill.id, "promoted")
    assert moved.warnings == []
    move_skill(db, skill.id, "archived")
    move_skill(db, skill.id, "suggested")
    assert _status(db, skill.id) == "suggested"


@pytest.mark.parametrize(("start", "target"), [
    ("suggested", "promoted"), ("suggested", "testing"), ("suggested", "archived"),
    ("accepted", "promoted"), ("accepted", "suggested"), ("testing", "accepted"),
    ("promoted", "testing"), ("promoted", "suggested"), ("archived", "promoted"), ("archived", "accepted"),
])
def test_illegal_moves_are_refused_and_change_nothing(db, start, target):
    skill = create_suggested(db, _draft())
    with db.write() as s:
        row = s.get(Skill, skill.id)
        row.status = start
        s.add(row)
    _tested(db, skill.id)
    with pytest.raises(IllegalTransition, match=f"A {start} skill can move only to .*not to {target}"):
        move_skill(db, skill.id, target)
    assert _status(db, skill.id) == start


def test_unknown_and_same_status_are_refused(db):
    skill = create_suggested(db, _draft())
    with pytest.raises(IllegalTransition, match="not a skill status"):
        move_skill(db, skill.id, "done")
    with pytest.raises(IllegalTransition, match="already suggested"):
        move_skill(db, skill.id, "suggested")


def test_testing_needs_a_current_test_run(db):
    skill = create_suggested(db, _draft(test_cases=[]))
    move_skill(db, skill.id, "accepted")
    with pytest.raises(GateRefused, match="no test cases yet"):
        move_skill(db, skill.id, "testing")
    edit_skill(db, skill.id, test_cases=CASES)
    with pytest.raises(GateRefused, match="never run"):
        move_skill(db, skill.id, "testing")
    _tested(db, skill.id)
    edit_skill(db, skill.id, template_prompt="Answer in numbered bullets.")  # the run is for v1 now
    with pytest.raises(GateRefused, match="changed since the last run"):
        move_skill(db, skill.id, "testing")
    _tested(db, skill.id)
    edit_skill(db, skill.id, test_cases=[*CASES, {"prompt": "x", "expectations": [{"kind": "is_json"}]}])
    with pytest.raises(GateRefused, match="changed since the last run"):
        move_skill(db, skill.id, "testing")
    _tested(db, skill.id)
    move_skill(db, skill.id, "testing")


def test_promotion_needs_the_threshold_and_warns_when_the_skill_does_not_help(db):
    skill = create_suggested(db, _draft())
    move_skill(db, skill.id, "accepted")
    _tested(db, skill.id, with_rate=0.5, without_rate=0.0)
    move_skill(db, skill.id, "testing")
    with pytest.raises(GateRefused, match="at least 0.70; the last test run scored 0.50"):
        move_skill(db, skill.id, "promoted")
    assert move_skill(db, skill.id, "promoted", min_score=0.5).warnings == []
    move_skill(db, skill.id, "archived")
    move_skill(db, skill.id, "suggested")
    move_skill(db, skill.id, "accepted")
    _tested(db, skill.id, with_rate=0.8, without_rate=0.8)
    move_skill(db, skill.id, "testing")
    moved = move_skill(db, skill.id, "promoted")
    assert _status(db, skill.id) == "promoted"
    assert len(moved.warnings) == 1 and "does not beat" in moved.warnings[0]


def test_dismiss_deletes_a_suggestion_only(db):
    kept = create_suggested(db, _draft(name="Kept"))
    gone = create_suggested(db, _draft(name="Gone"))
    move_skill(db, kept.id, "accepted")
    with pytest.raises(IllegalTransition, match="Only a suggested skill can be dismissed"):
        dismiss(db, kept.id)
    dismiss(db, gone.id)
    with db.session() as s:
        assert [k.name for k in forge.list_skills_in(s)] == ["Kept"]
        # the delete is captured, so sync turns it into a tombstone on the server
        kinds = s.execute(text("SELECT kind FROM sync_outbox WHERE row_id = :r"), {"r": gone.id}).scalars().all()
    assert kinds == ["insert", "delete"]
    with pytest.raises(SkillError, match="no longer exists"):
        dismiss(db, gone.id)


def test_edit_validates_against_the_server_limits_and_stores_nothing_on_error(db):
    skill = create_suggested(db, _draft())
    with pytest.raises(SkillError, match="20,001 characters long; the limit is 20,000"):
        edit_skill(db, skill.id, template_prompt="x" * 20_001)
    with pytest.raises(SkillError, match="missing or empty"):
        edit_skill(db, skill.id, name="   ")
    with pytest.raises(SkillError, match="Test case 1 needs"):
        edit_skill(db, skill.id, test_cases=[{"prompt": "", "expectations": []}])
    with db.session() as s:
        row = s.get(Skill, skill.id)
    assert (row.version, row.name, row.test_cases) == (1, "Bullets", CASES)
    edited = edit_skill(db, skill.id, name="  Bullet\npoints ", description="", category="writing")
    assert (edited.name, edited.description, edited.category, edited.version) == ("Bullet points", None,
                                                                                  "writing", 1)


def _pending_ops(db, skill_id):
    with db.session() as s:
        return s.execute(text("SELECT op_seq, kind, changed_columns FROM sync_outbox WHERE row_id = :r "
                              "ORDER BY op_seq"), {"r": skill_id}).all()


def _as_pushed(db, skill_id):
    """What a finished push leaves behind: the outbox entries of the row are gone."""
    with db.write() as s:
        s.execute(text("DELETE FROM sync_outbox WHERE row_id = :r"), {"r": skill_id})


def test_version_counts_prompt_changes_as_the_server_will(db):
    skill = create_suggested(db, _draft())
    # Not pushed yet: the insert will carry the row whole and the server keeps the version it is sent.
    assert edit_skill(db, skill.id, template_prompt="v2 prompt").version == 2
    assert edit_skill(db, skill.id, template_prompt="v3 prompt").version == 3
    assert edit_skill(db, skill.id, name="Renamed", template_prompt="v3 prompt").version == 3  # same prompt
    _as_pushed(db, skill.id)
    # On the server now: each pushed prompt change is one version...
    assert edit_skill(db, skill.id, template_prompt="v4 prompt").version == 4
    # ...but changes queued together reach it as ONE update, counted once by the server's trigger.
    assert edit_skill(db, skill.id, template_prompt="still v4 on the server").version == 4
    assert edit_skill(db, skill.id, category="style").version == 4
    ops = _pending_ops(db, skill.id)
    assert any('"template_prompt"' in (changed or "") for _, _, changed in ops)
    # Once that update was sent (attempts counted), a new change is a new PATCH: a new version.
    with db.write() as s:
        s.execute(text("UPDATE sync_outbox SET attempts = 1 WHERE row_id = :r"), {"r": skill.id})
    assert edit_skill(db, skill.id, template_prompt="v5 prompt").version == 5


def test_score_is_checked_and_stored(db):
    skill = create_suggested(db, _draft())
    assert set_score(db, skill.id, 0.8125).score == 0.8125
    for bad in (1.5, -0.1, float("nan"), "high", None):
        with pytest.raises(SkillError):
            set_score(db, skill.id, bad)
    with db.session() as s:
        assert s.get(Skill, skill.id).score == 0.8125


def test_run_state(db):
    skill = create_suggested(db, _draft())
    with db.session() as s:
        assert run_state(s.get(Skill, skill.id)) == "none"
    _tested(db, skill.id)
    with db.session() as s:
        assert run_state(s.get(Skill, skill.id)) == "current"


def test_validate_draft_refuses_what_the_server_would():
    good = {"name": "N", "template_prompt": "P", "description": None, "category": "writing", "extra": 1}
    assert forge.validate_draft(good) == SkillDraft("N", "P", None, "writing", [])
    for bad, problem in [
        ([], "must be a JSON object"),
        ({"template_prompt": "P"}, '"name" is missing'),
        ({"name": "N", "template_prompt": 7}, '"template_prompt" must be a string'),
        ({"name": "x" * 501, "template_prompt": "P"}, "501 characters long; the limit is 500"),
        ({"name": "N", "template_prompt": "P", "category": "c" * 501}, "limit is 500"),
        ({"name": "N", "template_prompt": "P", "description": "d" * 20_001}, "limit is 20,000"),
        ({"name": "N", "template_prompt": "P", "test_cases": {"prompt": "x"}}, "must be a list"),
    ]:
        with pytest.raises(Invalid, match=problem):
            forge.validate_draft(bad)


def test_min_score_setting_round_trips_and_keeps_other_sections(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"supabase": {"url": "https://x.supabase.co"}}))
    assert settings.load_min_score(tmp_path) == 0.7
    assert settings.save_min_score(tmp_path, 0.85) == 0.85
    assert settings.load_min_score(tmp_path) == 0.85
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["supabase"] == {"url": "https://x.supabase.co"}
    with pytest.raises(SkillError, match="between 0 and 1"):
        settings.save_min_score(tmp_path, 1.2)
    (tmp_path / "config.json").write_text("{not json")
    assert settings.load_min_score(tmp_path) == 0.7
