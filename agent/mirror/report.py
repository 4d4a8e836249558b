"""Mirror Mode, part 2: reading the reviewer's answer (docs/mirror.md). Nothing here writes.

    review = ask_json(client, request.messages, validator(request))   # agent.llm.structured

`validator(request)` checks the shape (raising `Invalid` with a sentence the model can act on, which
ask_json quotes in its one repair request) and returns a `ParsedReview` with every claim's evidence
already checked against the logs that were sent:

- A claim is `{"claim": str, "evidence": [str, …]}` (a bare string is accepted as a claim without
  evidence; "text" is accepted for "claim", a single string for "evidence").
- Evidence check: a quote counts when, after whitespace is collapsed on both sides and surrounding quote
  marks or "…" are trimmed from it, it appears verbatim (case included) in the logs as sent, and is at
  least MIN_QUOTE_CHARS long (a two-letter "quote" proves nothing). A claim is verified when it has at
  least one quote and every quote counts. Unverified claims are kept and marked, never dropped.
- "memory_used" and "skill_scores" refer to the numbers shown in the request; a number out of range,
  a non-number or a score outside 0–1 is ignored (and noted in `ignored`), not an error.

Stored claim shape (strengths / weaknesses / recommendations items in mirror_reports):
    {"text": str, "evidence": [{"quote": str, "verified": bool}], "verified": bool}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agent.llm.structured import Invalid, require_object
from agent.mirror.request import ReviewRequest

LISTS = ("strengths", "weaknesses", "recommendations")
MAX_CLAIMS = 20
CLAIM_LIMIT = 1_000
MAX_QUOTES = 5
QUOTE_LIMIT = 1_000
MIN_QUOTE_CHARS = 8
PROMPT_LIMIT = 200_000  # agent_connections.system_prompt on the server
LISTS_BYTES_LIMIT = 190_000  # the server allows 200,000 bytes for the three lists together
_QUOTE_MARKS = "\"'“”‘’«»`"


@dataclass
class ParsedReview:
    strengths: list[dict]
    weaknesses: list[dict]
    recommendations: list[dict]
    suggested_prompt: str | None  # None = no change suggested (empty, or the same as the current prompt)
    memory_used: list[int] = field(default_factory=list)  # valid 1-based numbers, first mention order
    skill_scores: dict[int, float] = field(default_factory=dict)  # valid number -> score 0..1
    ignored: list[str] = field(default_factory=list)  # numbers that were out of range, and why

    @property
    def claims(self) -> list[dict]:
        return [*self.strengths, *self.weaknesses, *self.recommendations]

    @property
    def unverified(self) -> int:
        return sum(1 for claim in self.claims if not claim["verified"])


def normalise(text: str) -> str:
    return " ".join((text or "").split())


def _trim_quote(quote: str) -> str:
    text = normalise(quote)
    for _ in range(2):  # e.g. "“…exact words…”": marks outside, ellipses inside
        text = text.strip(_QUOTE_MARKS).strip()
        for ellipsis in ("...", "…"):
            text = text.removeprefix(ellipsis).removesuffix(ellipsis).strip()
    return text


def quote_found(quote: str, logs: str) -> bool:
    """The evidence rule (see the module docstring); `logs` may be pre-normalised or raw."""
    needle = _trim_quote(quote)
    return len(needle) >= MIN_QUOTE_CHARS and needle in normalise(logs)


def _quotes(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise Invalid(f'{where}: "evidence" must be a list of verbatim quotes (strings).')
    if len(value) > MAX_QUOTES:
        raise Invalid(f'{where}: "evidence" has {len(value)} quotes; give at most {MAX_QUOTES}.')
    quotes = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("quote"), str):
            item = item["quote"]
        if not isinstance(item, str):
            raise Invalid(f'{where}: each item of "evidence" must be a string quoted from the logs.')
        item = item.strip()
        if len(item) > QUOTE_LIMIT:
            raise Invalid(f"{where}: a quote is {len(item):,} characters long; keep quotes under {QUOTE_LIMIT:,}.")
        if item:
            quotes.append(item)
    return quotes


def _claims(obj: dict, key: str, logs: str) -> list[dict]:
    value = obj.get(key)
    if value is None:
        raise Invalid(f'The field "{key}" is missing; it must be a list (possibly empty).')
    if not isinstance(value, list):
        raise Invalid(f'The field "{key}" must be a list of {{"claim", "evidence"}} objects.')
    if len(value) > MAX_CLAIMS:
        raise Invalid(f'The field "{key}" has {len(value)} items; give at most {MAX_CLAIMS}.')
    claims = []
    for number, item in enumerate(value, start=1):
        where = f"{key} item {number}"
        if isinstance(item, str):
            text, quotes = item, []
        elif isinstance(item, dict):
            text = item.get("claim", item.get("text"))
            if not isinstance(text, str):
                raise Invalid(f'{where}: "claim" must be a string.')
            quotes = _quotes(item.get("evidence"), where)
        else:
            raise Invalid(f'{where} must be an object {{"claim": "...", "evidence": ["..."]}}.')
        text = text.strip()
        if not text:
            continue  # an empty claim says nothing; dropping it loses nothing
        if len(text) > CLAIM_LIMIT:
            raise Invalid(f"{where}: the claim is {len(text):,} characters long; the limit is {CLAIM_LIMIT:,}.")
        evidence = [{"quote": q, "verified": quote_found(q, logs)} for q in quotes]
        claims.append({"text": text, "evidence": evidence,
                       "verified": bool(evidence) and all(e["verified"] for e in evidence)})
    return claims


def _number(value: Any) -> int | None:
    """An item number as the model may write it: 3, 3.0 or "3"; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _memory_used(obj: dict, count: int, ignored: list[str]) -> list[int]:
    value = obj.get("memory_used")
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid('The field "memory_used" must be a list of memory item numbers.')
    used: list[int] = []
    for item in value:
        number = _number(item)
        if number is None or not 1 <= number <= count:
            ignored.append(f"memory_used {item!r}: there {'is no such item' if count else 'are no memory items'}")
        elif number not in used:
            used.append(number)
    return used


def _skill_scores(obj: dict, count: int, ignored: list[str]) -> dict[int, float]:
    value = obj.get("skill_scores")
    if value is None:
        return {}
    if isinstance(value, dict):  # {"1": 0.8} is a reasonable reading of the same thing
        value = [{"skill": k, "score": v} for k, v in value.items()]
    if not isinstance(value, list):
        raise Invalid('The field "skill_scores" must be a list of {"skill": number, "score": 0..1} objects.')
    scores: dict[int, float] = {}
    for item in value:
        number = _number(item.get("skill")) if isinstance(item, dict) else None
        score = item.get("score") if isinstance(item, dict) else None
        if number is None or not 1 <= number <= count:
            ignored.append(f"skill_scores {item!r}: there is no such skill")
        elif isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
            ignored.append(f"skill_scores {item!r}: the score must be a number from 0 to 1")
        else:
            scores[number] = round(float(score), 6)
    return scores


def _suggested_prompt(obj: dict, current: str) -> str | None:
    value = obj.get("suggested_prompt")
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid('The field "suggested_prompt" must be a string ("" when no change is warranted).')
    value = value.strip()
    if len(value) > PROMPT_LIMIT:
        raise Invalid(f'"suggested_prompt" is {len(value):,} characters long; the limit is {PROMPT_LIMIT:,}.')
    if not value or normalise(value) == normalise(current):
        return None  # no change: a valid, and often the right, answer
    return value


def validator(request: ReviewRequest):
    """The `validate` argument of ask_json for this request."""
    logs = normalise(request.logs_text)

    def validate(value: Any) -> ParsedReview:
        obj = require_object(value)
        lists = [_claims(obj, key, logs) for key in LISTS]
        size = len(json.dumps(lists, ensure_ascii=False).encode())
        if size > LISTS_BYTES_LIMIT:
            raise Invalid(f"The review is {size:,} bytes long; keep it under {LISTS_BYTES_LIMIT:,} "
                          "(fewer or shorter claims and quotes).")
        ignored: list[str] = []
        return ParsedReview(*lists, _suggested_prompt(obj, request.current_prompt),
                            _memory_used(obj, len(request.node_ids), ignored),
                            _skill_scores(obj, len(request.skill_ids), ignored), ignored)

    return validate


def claim_of(item: Any) -> dict:
    """A stored list item in the claim shape; rows from elsewhere (the web app stores plain strings)
    are read as claims without evidence."""
    if isinstance(item, dict):
        text = item.get("text", item.get("claim", ""))
        evidence = [e for e in item.get("evidence") or [] if isinstance(e, dict) and isinstance(e.get("quote"), str)]
        return {**item, "text": str(text), "evidence": evidence, "verified": bool(item.get("verified"))}
    return {"text": str(item), "evidence": [], "verified": False}
