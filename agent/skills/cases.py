"""Skill test cases and their expectations: the shape, the limits, and the deterministic checks. No Qt.

A skill's `test_cases` (synced, a jsonb column on the server) is a list of at most 20 cases:

    {"prompt": "Summarise: …", "expectations": [
        {"kind": "contains", "value": "•"},          # the reply contains the text (case-insensitive)
        {"kind": "not_contains", "value": "As an AI"},  # …does not contain it (case-insensitive)
        {"kind": "regex", "value": "^- "},            # the pattern matches somewhere (re-style syntax,
                                                      #   case-sensitive unless it says (?i); MULTILINE)
        {"kind": "max_chars", "value": 400},          # the reply, trimmed, is at most N characters
        {"kind": "is_json"}]}                         # the reply, trimmed, parses as JSON (``` fences allowed)

A case passes a run when every one of its expectations holds.

Regex safety: a pattern is at most 200 characters and must compile; it is matched by the `regex`
module with a time limit (REGEX_TIMEOUT) against at most the first 50,000 characters of the reply, so
a catastrophic pattern (e.g. `(a+)+$`) costs a quarter of a second and fails its expectation, instead
of hanging the job.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from agent.llm.structured import Invalid
from agent.storable import text_problem

KINDS = ("contains", "not_contains", "regex", "max_chars", "is_json")
KIND_LABELS = {"contains": "contains", "not_contains": "does not contain", "regex": "matches",
               "max_chars": "at most N characters", "is_json": "is JSON"}
MAX_CASES = 20  # the server checks the same counts (skills_test_cases_shape)
MAX_EXPECTATIONS = 10
CASE_PROMPT_LIMIT = 4000
VALUE_LIMIT = 500
REGEX_LIMIT = 200
MAX_CHARS_LIMIT = 200_000
CASES_BYTES_LIMIT = 200_000  # skills_test_cases_size on the server (octet_length of the jsonb text)
REGEX_TIMEOUT = 0.25  # seconds per regex expectation
REGEX_INPUT_LIMIT = 50_000  # characters of a reply a regex is matched against

_FENCED = re.compile(r"^```[ \t]*(?:json|JSON)?[ \t]*\n(.*?)\n?```$", re.DOTALL)


@dataclass(frozen=True)
class Outcome:
    passed: bool
    detail: str  # what was expected, and for a failure what went wrong


def validate_test_cases(value: Any) -> list[dict]:
    """Test cases in their stored form (keys in a fixed order, text trimmed), or Invalid saying which
    case and expectation is wrong and why."""
    if not isinstance(value, list):
        raise Invalid('"test_cases" must be a list of {"prompt", "expectations"} objects.')
    if len(value) > MAX_CASES:
        raise Invalid(f"A skill has at most {MAX_CASES} test cases; this has {len(value)}.")
    cases = [_case(item, i + 1) for i, item in enumerate(value)]
    size = len(json.dumps(cases, ensure_ascii=False).encode())
    if size > CASES_BYTES_LIMIT:
        raise Invalid(f"The test cases take {size:,} bytes together; the limit is {CASES_BYTES_LIMIT:,}.")
    return cases


def _case(item: Any, number: int) -> dict:
    where = f"Test case {number}"
    if not isinstance(item, dict):
        raise Invalid(f'{where} must be an object with "prompt" and "expectations".')
    prompt = item.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise Invalid(f'{where} needs a "prompt": the message to send.')
    if len(prompt.strip()) > CASE_PROMPT_LIMIT:
        raise Invalid(f"{where}: the prompt is {len(prompt.strip()):,} characters; the limit is {CASE_PROMPT_LIMIT:,}.")
    if text_problem(prompt):
        raise Invalid(f"{where}: the prompt: {text_problem(prompt)}.")
    expectations = item.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise Invalid(f'{where} needs "expectations": a list of at least one check of the reply.')
    if len(expectations) > MAX_EXPECTATIONS:
        raise Invalid(f"{where} has {len(expectations)} expectations; at most {MAX_EXPECTATIONS} are allowed.")
    return {"prompt": prompt.strip(),
            "expectations": [_expectation(e, f"{where}, expectation {j + 1}") for j, e in enumerate(expectations)]}


def _expectation(item: Any, where: str) -> dict:
    if not isinstance(item, dict):
        raise Invalid(f'{where} must be an object like {{"kind": "contains", "value": "…"}}.')
    kind = item.get("kind")
    if kind not in KINDS:
        raise Invalid(f"{where}: the kind must be one of {', '.join(KINDS)}, not {kind!r}.")
    value = item.get("value")
    if kind == "is_json":
        return {"kind": kind}
    if kind == "max_chars":
        # (the range first: int() of NaN or an infinity raises instead of answering)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= MAX_CHARS_LIMIT \
                or value != int(value):
            raise Invalid(f"{where}: max_chars needs a whole number from 1 to {MAX_CHARS_LIMIT:,}.")
        return {"kind": kind, "value": int(value)}
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{where}: {kind} needs a non-empty text value.")
    # Kept exactly as given: spaces are part of what a pattern or a text matches ("^• ", " cat ").
    limit = REGEX_LIMIT if kind == "regex" else VALUE_LIMIT
    if len(value) > limit:
        raise Invalid(f"{where}: the value is {len(value):,} characters; the limit for {kind} is {limit}.")
    if text_problem(value):
        raise Invalid(f"{where}: {text_problem(value)}.")
    if kind == "regex":
        problem = regex_problem(value)
        if problem:
            raise Invalid(f"{where}: {problem}")
    return {"kind": kind, "value": value}


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used, or None."""
    import regex

    if len(pattern) > REGEX_LIMIT:
        return f"the pattern is longer than {REGEX_LIMIT} characters."
    try:
        regex.compile(pattern, regex.MULTILINE | regex.V0)
    except (regex.error, OverflowError, RecursionError) as exc:
        return f"the pattern does not compile ({exc})."
    return None


def cases_hash(cases: list) -> str:
    """A short fingerprint of the cases, so a test result can tell it was run on different cases."""
    canonical = json.dumps(cases, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def describe(expectation: dict) -> str:
    """One line for a list or a failure: 'contains "•"', 'at most 400 characters', 'is JSON'."""
    kind, value = expectation.get("kind"), expectation.get("value")
    if kind == "contains":
        return f"contains {json.dumps(value, ensure_ascii=False)}"
    if kind == "not_contains":
        return f"does not contain {json.dumps(value, ensure_ascii=False)}"
    if kind == "regex":
        return f"matches /{value}/"
    if kind == "max_chars":
        return f"at most {value} characters"
    if kind == "is_json":
        return "is JSON"
    return f"{kind} (unknown kind)"


def check(expectation: dict, reply: str) -> Outcome:
    """Does `reply` satisfy `expectation`? Deterministic, bounded in time; never raises."""
    kind, value, label = expectation.get("kind"), expectation.get("value"), describe(expectation)
    text = reply or ""
    if kind == "contains":
        return Outcome(str(value).casefold() in text.casefold(), label)
    if kind == "not_contains":
        return Outcome(str(value).casefold() not in text.casefold(), label)
    if kind == "max_chars":
        length = len(text.strip())
        ok = isinstance(value, int | float) and length <= value
        return Outcome(ok, label if ok else f"{label} (was {length})")
    if kind == "is_json":
        return Outcome(_is_json(text), label)
    if kind == "regex":
        return _check_regex(str(value), text, label)
    # A kind a newer MIRARI knows: not checkable here, so it cannot count as passed.
    return Outcome(False, f"{label}: update MIRARI to check it")


def _is_json(text: str) -> bool:
    body = text.strip()
    fenced = _FENCED.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return bool(body)


def _check_regex(pattern: str, text: str, label: str) -> Outcome:
    import regex

    if regex_problem(pattern):
        return Outcome(False, f"{label}: the pattern is not usable")
    try:
        found = regex.search(pattern, text[:REGEX_INPUT_LIMIT], regex.MULTILINE | regex.V0,
                             timeout=REGEX_TIMEOUT)
    except TimeoutError:
        return Outcome(False, f"{label}: gave up after {REGEX_TIMEOUT:g} s (simplify the pattern)")
    return Outcome(found is not None, label)


def run_case(case: dict, reply: str) -> tuple[bool, list[str]]:
    """(every expectation held, descriptions of the ones that did not)."""
    failed = [o.detail for o in (check(e, reply) for e in case.get("expectations", [])) if not o.passed]
    return not failed, failed
