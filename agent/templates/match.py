"""What of a template is already here: the matching an install does before it writes anything.

Matched by content, never by id, so installing a template twice, importing your own template, or a
file that repeats itself brings nothing twice:

- a skill is already here when a live skill has the same name (case and spacing ignored) and the same
  prompt (spacing ignored), or when an earlier install of this template brought a skill of that name
  (which may have been edited since);
- a memory is already here when the Atlas holds a fact with the same `dedup_key` (the no-duplicates
  rule, through its index), or when a Dream consolidation you accepted removed that fact — merged into
  another wording, or dropped as the losing side of a contradiction — so an import cannot bring back
  what you chose to merge away;
- an item repeated within the template comes once.

Nothing here writes; `agent.templates.install` decides and writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from agent.memory.atlas import find_duplicate_in
from agent.memory.text import dedup_key, one_line
from local_schema.models import DreamReport, Skill

# Reasons, as the install report words them after the item ("Skill “Summarise”: …").
SKILL_HERE = "you already have this skill"
SKILL_BROUGHT = "an earlier install of this template brought it"
REPEATED = "repeated in the template"
MEMORY_HERE = "already in your Atlas"
MEMORY_RETIRED = "a Dream consolidation you accepted removed it"


def skill_key(name: str, prompt: str | None) -> tuple[str, str]:
    return one_line(name).casefold(), " ".join((prompt or "").split())


@dataclass
class SkillsHere:
    """The live skills, read once per write transaction (a few hundred rows; skills have no index to use)."""

    by_content: set[tuple[str, str]] = field(default_factory=set)
    by_source: set[tuple[str, str]] = field(default_factory=set)  # (source, name key)

    @classmethod
    def read(cls, session: Session) -> SkillsHere:
        here = cls()
        rows = session.exec(select(Skill.name, Skill.template_prompt, Skill.source)
                            .where(Skill.deleted_at.is_(None))).all()
        for name, prompt, source in rows:
            here.add(name, prompt, source)
        return here

    def add(self, name: str, prompt: str | None, source: str | None) -> None:
        key = skill_key(name, prompt)
        self.by_content.add(key)
        if source:
            self.by_source.add((source, key[0]))

    def reason(self, entry: dict, source: str) -> str | None:
        key = skill_key(entry["name"], entry.get("template_prompt"))
        if key in self.by_content:
            return SKILL_HERE
        if (source, key[0]) in self.by_source:
            return SKILL_BROUGHT
        return None


def retired_memory_keys_in(session: Session) -> dict[str, str]:
    """dedup_key -> when, for each fact an accepted Dream proposal deleted: the wordings a `merge`
    replaced (every member but the merged wording) and the losing side of a `keep_one`. Read
    tolerantly: a synced report of another version with odd fields contributes what it can."""
    from agent.dream.reports import ACCEPTED

    retired: dict[str, str] = {}
    for proposals in session.exec(select(DreamReport.proposals).where(DreamReport.deleted_at.is_(None))).all():
        for proposal in proposals if isinstance(proposals, list) else []:
            if not isinstance(proposal, dict) or proposal.get("state") != ACCEPTED:
                continue
            labels = [label for label in proposal.get("labels") or [] if isinstance(label, str)]
            if proposal.get("kind") == "merge":
                kept = proposal.get("label")
                kept_key = dedup_key(kept) if isinstance(kept, str) else None
                gone = [label for label in labels if dedup_key(label) != kept_key]
            elif proposal.get("kind") == "keep_one":
                gone = labels[1:]  # [kept, dropped]
            else:
                continue
            when = proposal.get("decided_at")
            for label in gone:
                retired.setdefault(dedup_key(label), when if isinstance(when, str) else "")
    retired.pop("", None)
    return retired


def memory_reason_in(session: Session, label: str, retired: dict[str, str]) -> str | None:
    """Why this seed memory is not added, or None to add it. The live Atlas first: a fact a dream
    merged into the very same wording is simply already there."""
    existing = find_duplicate_in(session, label)
    if existing is not None:
        return MEMORY_HERE + (f" as “{_short(existing.label)}”" if existing.label != one_line(label) else "")
    if dedup_key(label) in retired:
        when = retired[dedup_key(label)][:10]
        return MEMORY_RETIRED + (f" on {when}" if when else "")
    return None


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
