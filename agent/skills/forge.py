"""Skill Forge rules (rite IV; docs/skills.md): what a skill may contain, how it moves, how it is edited. No Qt.

    skill = create_suggested(db, SkillDraft(name="Summarise", template_prompt="Answer in 3 bullets."))
    skill = create_skill(db, "Summarise", "Answer in 3 bullets.")   # written by hand ("New skill")
    move_skill(db, skill.id, "accepted")            # IllegalTransition unless the spec allows it
    edit_skill(db, skill.id, template_prompt="…")   # version + 1, exactly as the server will count it
    set_score(db, skill.id, 0.8)                    # Mirror Mode scoring a promoted skill
    dismiss(db, skill.id)                           # a suggestion only: deleted (a tombstone once synced)

The pipeline is a cycle, one step at a time:
    suggested → accepted → testing → promoted → archived → suggested
with two gates (agent.skills.cases runs the tests):
  - accepted → testing needs a test run of the current version and the current test cases;
  - testing → promoted needs that run's score (pass rate with the skill) >= the promotion threshold
    (DEFAULT_MIN_SCORE, a setting); it goes through with a warning when the skill does not beat the
    same cases run without it.
Every write goes through LocalDatabase.write(); every function raises SkillError (one sentence for
the user) for what the user can fix. Mirror Mode, Templates and Dream Mode build on these functions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, select

from agent.llm.structured import Invalid, require_object, text_field
from agent.skills.cases import cases_hash, validate_test_cases
from local_schema.database import LocalDatabase
from local_schema.models import Skill

STATUSES = ("suggested", "accepted", "testing", "promoted", "archived")
NEXT_STATUS = {"suggested": "accepted", "accepted": "testing", "testing": "promoted",
               "promoted": "archived", "archived": "suggested"}
# What the button that makes the move says, by target status.
MOVE_LABELS = {"accepted": "Accept", "testing": "Move to testing", "promoted": "Promote",
               "archived": "Archive", "suggested": "Re-suggest"}

# The server's check constraints on skills (supabase/migrations/20261126100000_tables.sql): a longer
# value would be stored here and then refused by every sync.
NAME_LIMIT = 500
DESCRIPTION_LIMIT = 20_000
CATEGORY_LIMIT = 500
PROMPT_LIMIT = 20_000
DEFAULT_MIN_SCORE = 0.7

_UNSET: Any = object()


class SkillError(ValueError):
    """Something the user asked for cannot be done; str() says why and, where possible, what to do."""


class IllegalTransition(SkillError):
    """The spec's pipeline does not allow this move."""


class GateRefused(SkillError):
    """The move is legal but not allowed yet (no current test run, score below the threshold)."""


@dataclass(frozen=True)
class SkillDraft:
    name: str
    template_prompt: str
    description: str | None = None
    category: str | None = None
    test_cases: list[dict] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)  # "server/tool" names (agent.skills.tools): only names


@dataclass
class Moved:
    skill: Skill
    warnings: list[str] = field(default_factory=list)


# -- validation ---------------------------------------------------------------------------------------
def validate_draft(value: Any) -> SkillDraft:
    """A model's (or a template's) draft -> SkillDraft; Invalid names the field and the limit.

    Required: name, template_prompt. Optional: description, category, test_cases (see
    agent.skills.cases.validate_test_cases), tools (agent.skills.tools.validate_tool_names: names only,
    they enable nothing). Unknown keys are ignored."""
    from agent.skills.tools import validate_tool_names

    obj = require_object(value, "The draft")
    name = _one_line(text_field(obj, "name", limit=NAME_LIMIT))
    prompt = text_field(obj, "template_prompt", limit=PROMPT_LIMIT)
    description = text_field(obj, "description", limit=DESCRIPTION_LIMIT, required=False) or None
    category = text_field(obj, "category", limit=CATEGORY_LIMIT, required=False) or None
    cases = validate_test_cases(obj.get("test_cases") if obj.get("test_cases") is not None else [])
    try:
        tools = validate_tool_names(obj.get("tools") if obj.get("tools") is not None else [])
    except SkillError as problem:
        raise Invalid(f"tools: {problem}") from None
    return SkillDraft(name, prompt, description, _one_line(category) if category else None, cases, tools)


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _checked(value: str | None, field_name: str, limit: int, *, required: bool = False) -> str | None:
    """The edited value, trimmed; SkillError (not Invalid: this is the user typing) when it cannot be stored."""
    try:
        cleaned = text_field({field_name: value}, field_name, limit=limit, required=required)
    except Invalid as problem:
        raise SkillError(str(problem).replace("The field", "The skill's")) from None
    return cleaned or None


# -- reading ------------------------------------------------------------------------------------------
def get_skill_in(session: Session, skill_id: str) -> Skill:
    skill = session.get(Skill, skill_id)
    if skill is None or skill.deleted_at is not None:
        raise SkillError("That skill no longer exists (it may have been deleted on another device).")
    return skill


def list_skills_in(session: Session, statuses: Iterable[str] | None = None) -> list[Skill]:
    """Live skills in pipeline order of their status, then by name (case-insensitive), then id."""
    query = select(Skill).where(Skill.deleted_at.is_(None))
    if statuses is not None:
        query = query.where(Skill.status.in_(list(statuses)))
    rank = {status: i for i, status in enumerate(STATUSES)}
    rows = session.exec(query).all()
    return sorted(rows, key=lambda s: (rank.get(s.status, len(STATUSES)), s.name.casefold(), s.id))


def run_state(skill: Skill) -> str:
    """'none' (never run), 'current' (the last run tested this version and these cases) or 'stale'."""
    last = skill.last_test
    if not isinstance(last, dict):
        return "none"
    if last.get("version") == skill.version and last.get("cases_hash") == cases_hash(skill.test_cases or []):
        return "current"
    return "stale"


def legal_targets(status: str) -> tuple[str, ...]:
    """The statuses a skill in `status` may move to (one, or none for an unknown status)."""
    target = NEXT_STATUS.get(status)
    return (target,) if target else ()


def check_move(skill: Skill, target: str, min_score: float = DEFAULT_MIN_SCORE) -> list[str]:
    """Raise IllegalTransition / GateRefused if `skill` may not move to `target`; else the warnings."""
    if target not in STATUSES:
        raise IllegalTransition(f"“{target}” is not a skill status; use one of: {', '.join(STATUSES)}.")
    allowed = legal_targets(skill.status)
    if target not in allowed:
        if target == skill.status:
            raise IllegalTransition(f"The skill is already {target}.")
        where = f"only to {allowed[0]}" if allowed else "nowhere"
        extra = " (or be dismissed)" if skill.status == "suggested" else ""
        raise IllegalTransition(f"A {skill.status} skill can move {where}{extra}, not to {target}.")
    warnings: list[str] = []
    if target in ("testing", "promoted"):
        state = run_state(skill)
        if state != "current":
            why = ("its tests have never run" if state == "none" else
                   "its prompt or test cases changed since the last run")
            if not (skill.test_cases or []):
                why = "it has no test cases yet; add some, then run them"
            raise GateRefused(f"Run the skill's tests first: {why}.")
    if target == "promoted":
        last = skill.last_test or {}
        score = float(last.get("with_rate", 0.0))
        if score < min_score:
            raise GateRefused(f"Promotion needs a score of at least {min_score:.2f}; the last test run "
                              f"scored {score:.2f}. Improve the prompt and run the tests again.")
        if float(last.get("delta", 0.0)) <= 0:
            warnings.append(f"The skill does not beat the same tests run without it "
                            f"({score:.0%} with, {float(last.get('without_rate', 0.0)):.0%} without): "
                            "it may only add length to every prompt.")
    return warnings


# -- writing ------------------------------------------------------------------------------------------
def create_suggested(db: LocalDatabase, draft: SkillDraft, *, user_id: str | None = None) -> Skill:
    """Store `draft` (already validated, e.g. by validate_draft) as a new skill with status 'suggested'."""
    with db.write() as session:
        return create_suggested_in(session, draft, user_id=user_id)


def create_suggested_in(session: Session, draft: SkillDraft, *, user_id: str | None = None,
                        source: str | None = None) -> Skill:
    """`create_suggested` inside the caller's write transaction (a template's install adds several
    skills and memory nodes at once). `source`: where it came from, e.g. template:<id>."""
    draft = validate_draft({"name": draft.name, "template_prompt": draft.template_prompt,
                            "description": draft.description, "category": draft.category,
                            "test_cases": list(draft.test_cases), "tools": list(draft.tools)})
    skill = Skill(user_id=user_id, name=draft.name, description=draft.description, category=draft.category,
                  template_prompt=draft.template_prompt, status="suggested", test_cases=draft.test_cases,
                  tools=draft.tools, source=source)
    session.add(skill)
    return skill


def check_new_skill(name: str | None, template_prompt: str | None, description: str | None = None,
                    category: str | None = None, test_cases: list | None = None) -> SkillDraft:
    """A skill written by hand, checked exactly as a save of the same fields is (edit_skill): the
    server's limits, a name on one line, text the server can store, valid test cases. SkillError says
    what to fix; nothing is written."""
    cleaned = _checked(category, "category", CATEGORY_LIMIT)
    try:
        cases = validate_test_cases(test_cases or [])
    except Invalid as problem:
        raise SkillError(str(problem)) from None
    return SkillDraft(name=_one_line(_checked(name, "name", NAME_LIMIT, required=True)),
                      template_prompt=_checked(template_prompt, "template prompt", PROMPT_LIMIT, required=True),
                      description=_checked(description, "description", DESCRIPTION_LIMIT),
                      category=_one_line(cleaned) if cleaned else None, test_cases=cases)


def create_skill(db: LocalDatabase, name: str | None, template_prompt: str | None, description: str | None = None,
                 category: str | None = None, test_cases: list | None = None) -> Skill:
    """"New skill" in the Forge and `mirari skills add`: store a skill written by hand. It starts as a
    suggestion like every new skill (Suggest, a template, a Mirror recommendation): one click accepts it,
    and a mistaken one can still be dismissed. Its source is null: made by its owner."""
    draft = check_new_skill(name, template_prompt, description, category, test_cases)
    with db.write() as session:
        return create_suggested_in(session, draft)


def move_skill(db: LocalDatabase, skill_id: str, target: str, *,
               min_score: float = DEFAULT_MIN_SCORE) -> Moved:
    """Move a skill one step along the pipeline; IllegalTransition / GateRefused otherwise."""
    with db.write() as session:
        skill = get_skill_in(session, skill_id)
        warnings = check_move(skill, target, min_score)
        skill.status = target
        session.add(skill)
    return Moved(skill, warnings)


def dismiss(db: LocalDatabase, skill_id: str) -> None:
    """Delete a suggestion (locally at once; sync turns it into a tombstone). Only suggestions."""
    with db.write() as session:
        skill = get_skill_in(session, skill_id)
        if skill.status != "suggested":
            raise IllegalTransition(f"Only a suggested skill can be dismissed (deleted); this one is "
                                    f"{skill.status}. Archive it, re-suggest it, then dismiss it.")
        session.delete(skill)


def edit_skill(db: LocalDatabase, skill_id: str, *, name: str | None = _UNSET, description: str | None = _UNSET,
               category: str | None = _UNSET, template_prompt: str | None = _UNSET,
               test_cases: list | None = _UNSET) -> Skill:
    """Change the given fields (leave a field out to keep it; None or "" clears an optional one).

    A changed template_prompt raises `version` by one, the way the server's stamping trigger counts
    it — except when an earlier prompt change of this skill is still waiting to be pushed: the push
    sends both as ONE update, the server counts one version, and the mirror must show the same number.
    Returns the skill as stored."""
    changes: dict[str, Any] = {}
    if name is not _UNSET:
        changes["name"] = _one_line(_checked(name, "name", NAME_LIMIT, required=True))
    if description is not _UNSET:
        changes["description"] = _checked(description, "description", DESCRIPTION_LIMIT)
    if category is not _UNSET:
        cleaned = _checked(category, "category", CATEGORY_LIMIT)
        changes["category"] = _one_line(cleaned) if cleaned else None
    if template_prompt is not _UNSET:
        changes["template_prompt"] = _checked(template_prompt, "template prompt", PROMPT_LIMIT, required=True)
    if test_cases is not _UNSET:
        try:
            changes["test_cases"] = validate_test_cases(test_cases or [])
        except Invalid as problem:
            raise SkillError(str(problem)) from None
    with db.write() as session:
        skill = get_skill_in(session, skill_id)
        new_prompt = "template_prompt" in changes and changes["template_prompt"] != skill.template_prompt
        if new_prompt and not _prompt_change_pending(session, skill.id):
            skill.version = (skill.version or 1) + 1
        for key, value in changes.items():
            setattr(skill, key, value)
        session.add(skill)
    return skill


def set_score(db: LocalDatabase, skill_id: str, score: float) -> Skill:
    """Set a skill's score (0–1), e.g. from a Mirror review. Stored with six decimals (the server's real)."""
    try:
        value = float(score)
    except (TypeError, ValueError):
        raise SkillError("A score must be a number between 0 and 1.") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise SkillError(f"A score must be between 0 and 1, not {score}.")
    with db.write() as session:
        skill = get_skill_in(session, skill_id)
        skill.score = round(value, 6)
        session.add(skill)
    return skill


def _prompt_change_pending(session: Session, skill_id: str) -> bool:
    """True when a template_prompt change of this row is queued, never sent, and will be pushed as an
    update (so a further change rides along in the same PATCH). A queued insert sends the row whole,
    version included, and the server keeps the version it is given: no coalescing to account for."""
    rows = session.execute(text(
        "SELECT kind, changed_columns FROM sync_outbox WHERE table_name = 'skills' AND row_id = :id "
        "AND state = 'pending' AND attempts = 0 ORDER BY op_seq"), {"id": skill_id}).all()
    if any(kind == "insert" for kind, _ in rows):
        return False
    return any(kind == "update" and changed and '"template_prompt"' in changed for kind, changed in rows)
