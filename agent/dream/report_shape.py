"""A stored dream report in the shape its readers expect, whatever arrived by sync.

`budget`, `findings` and `proposals` are jsonb on the server, which checks little of their inside (the
proposals' `state`, that they are objects), so another version of MIRARI, a hand-edited row or a bug
can sync a report whose fields are numbers where text is expected, nulls, or nested lists. Readers
(the Dream page, `mirari dream list|show`) get a detached copy in which every field they use has its
type — text as text (a number becomes its digits; anything else is left out), id lists as lists of
text, counts as numbers — and unknown fields are kept as they are. Nothing is written back: the stored
row stays as it came. Applying a proposal checks its fields separately (`proposal_problem`).
"""

from __future__ import annotations

import math
from typing import Any

from local_schema.models import DreamReport

PROPOSAL_TEXT = ("id", "kind", "state", "title", "label", "old_label", "reason", "node_id", "keep_id",
                 "skill_id", "to", "template_prompt", "old_template_prompt", "decided_at")
PROPOSAL_LISTS = ("labels", "drop_ids")
FINDING_TEXT = ("kind", "text", "verdict", "reason", "question", "old", "new", "conversation_id", "message_id",
                "skill_id")
FINDING_LISTS = ("node_ids", "failures")
BUDGET_NUMBERS = ("max_requests", "max_chars", "requests", "chars")

# What applying each kind of proposal needs: (field, "text" | "texts"), required unless marked optional.
NEEDS = {"merge": (("keep_id", "text"), ("drop_ids", "texts?"), ("label", "text?")),
         "keep_one": (("keep_id", "text"), ("drop_ids", "texts?")),
         "delete": (("node_id", "text"),),
         "reword": (("node_id", "text"), ("label", "text")),
         "demote": (("skill_id", "text"), ("to", "text?")),
         "edit": (("skill_id", "text"), ("template_prompt", "text"))}


def as_text(value: Any) -> str | None:
    """Text as is; a finite number as its digits; None for anything else (null, lists, objects, booleans)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def as_texts(value: Any) -> list[str] | None:
    """A list of texts (items that are not text-like are left out); a lone text is a list of one."""
    if isinstance(value, list):
        return [text for text in (as_text(item) for item in value) if text is not None]
    single = as_text(value)
    return [single] if single is not None else None


def as_number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if not isinstance(value, float) or math.isfinite(value) else None


def _shaped(item: dict, texts: tuple[str, ...], lists: tuple[str, ...]) -> dict:
    shaped = dict(item)
    for key in texts:
        if key in shaped:
            value = as_text(shaped[key])
            if value is None:
                del shaped[key]
            else:
                shaped[key] = value
    for key in lists:
        if key in shaped:
            values = as_texts(shaped[key])
            if values is None:
                del shaped[key]
            else:
                shaped[key] = values
    return shaped


def shape_proposals(value: Any) -> list[dict]:
    return [_shaped(p, PROPOSAL_TEXT, PROPOSAL_LISTS) for p in value if isinstance(p, dict)] \
        if isinstance(value, list) else []


def shape_findings(value: Any) -> list[dict]:
    if not isinstance(value, list):
        return []
    found = []
    for item in value:
        if isinstance(item, dict):
            finding = _shaped(item, FINDING_TEXT, FINDING_LISTS)
            if "rate" in finding and as_number(finding["rate"]) is None:
                del finding["rate"]
            rates = finding.get("rates")
            if "rates" in finding and not (isinstance(rates, dict) and all(
                    isinstance(v, list) and len(v) == 2 and all(as_number(n) is not None for n in v)
                    for v in rates.values())):
                del finding["rates"]
            found.append(finding)
        elif as_text(item) is not None:  # a bare sentence is still something found
            found.append({"kind": "note", "text": as_text(item)})
    return found


def shape_budget(value: Any) -> dict:
    budget = dict(value) if isinstance(value, dict) else {}
    for key in BUDGET_NUMBERS:
        if key in budget and as_number(budget[key]) is None:
            del budget[key]
    if "device" in budget and not isinstance(budget["device"], str):
        del budget["device"]
    return budget


def readable(report: DreamReport) -> DreamReport:
    """A detached copy of `report` with budget, findings and proposals in their expected shape."""
    values = {column.name: getattr(report, column.name) for column in report.__table__.columns}
    copy = DreamReport(**values)
    copy.budget = shape_budget(report.budget)
    copy.findings = shape_findings(report.findings)
    copy.proposals = shape_proposals(report.proposals)
    copy.summary = as_text(report.summary) or ""
    return copy


def proposal_problem(proposal: dict) -> str | None:
    """Why a stored proposal cannot be applied as it is (one sentence), or None. The stored fields are
    checked as they are — an id that is a number or a list is not an id."""
    kind = proposal.get("kind")
    if not isinstance(kind, str):
        return "it does not say what kind of change it is"
    for key, want in NEEDS.get(kind, ()):
        optional = want.endswith("?")
        value = proposal.get(key)
        if value is None and optional:
            continue
        if want.startswith("texts"):
            if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
                return f'its "{key}" is not a list of ids'
        elif not isinstance(value, str) or (not optional and not value.strip()):
            return f'its "{key}" is {"missing" if value is None else "not text"}'
    return None
