"""Test cases and expectations (agent.skills.cases): shape, limits, deterministic checks, safe regexes."""

from __future__ import annotations

import time

import pytest

from agent.llm.structured import Invalid
from agent.skills.cases import (
    CASES_BYTES_LIMIT,
    MAX_CASES,
    cases_hash,
    check,
    describe,
    run_case,
    validate_test_cases,
)


def _case(*expectations, prompt="Hi"):
    return {"prompt": prompt, "expectations": list(expectations)}


@pytest.mark.parametrize(("expectation", "reply", "passed"), [
    ({"kind": "contains", "value": "Bullet"}, "• a bullet point", True),
    ({"kind": "contains", "value": "bullet"}, "no such thing", False),
    ({"kind": "not_contains", "value": "As an AI"}, "as an ai model, I…", False),
    ({"kind": "not_contains", "value": "As an AI"}, "Sure.", True),
    ({"kind": "regex", "value": r"^- \w+"}, "intro\n- item", True),  # MULTILINE: ^ is a line start
    ({"kind": "regex", "value": r"^- \w+"}, "- Item", True),
    ({"kind": "regex", "value": r"ITEM"}, "- item", False),  # case-sensitive unless (?i)
    ({"kind": "regex", "value": r"(?i)ITEM"}, "- item", True),
    ({"kind": "max_chars", "value": 5}, "  12345  \n", True),  # trimmed
    ({"kind": "max_chars", "value": 5}, "123456", False),
    ({"kind": "is_json"}, '{"a": [1, 2]}', True),
    ({"kind": "is_json"}, '```json\n{"a": 1}\n```', True),
    ({"kind": "is_json"}, "Here: {\"a\": 1}", False),
    ({"kind": "is_json"}, "", False),
    ({"kind": "judge"}, "anything", False),  # a kind a newer MIRARI knows is never a pass
])
def test_checks(expectation, reply, passed):
    assert check(expectation, reply).passed is passed


def test_a_case_passes_only_when_every_expectation_holds():
    case = _case({"kind": "contains", "value": "tea"}, {"kind": "max_chars", "value": 10})
    assert run_case(case, "tea time") == (True, [])
    assert run_case(case, "a long answer about tea") == (False, ["at most 10 characters (was 23)"])


def test_a_catastrophic_regex_is_bounded_and_fails():
    started = time.monotonic()
    outcome = check({"kind": "regex", "value": r"(a+)+$"}, "a" * 5000 + "!")
    assert not outcome.passed and "gave up after" in outcome.detail
    assert time.monotonic() - started < 3


def test_validation_normalises_and_refuses_with_a_sentence():
    cases = validate_test_cases([{"prompt": "  Hi ", "expectations": [
        {"kind": "max_chars", "value": 40.0, "junk": 1}, {"kind": "is_json", "value": "ignored"},
        {"kind": "regex", "value": "^ok "}]}])
    assert cases == [{"prompt": "Hi", "expectations": [
        {"kind": "max_chars", "value": 40}, {"kind": "is_json"}, {"kind": "regex", "value": "^ok "}]}]
    for bad, problem in [
        ("nope", "must be a list"),
        ([_case()] * (MAX_CASES + 1), "at most 20 test cases"),
        (["text"], "Test case 1 must be an object"),
        ([{"expectations": [{"kind": "is_json"}]}], 'Test case 1 needs a "prompt"'),
        ([{"prompt": "x" * 4001, "expectations": [{"kind": "is_json"}]}], "limit is 4,000"),
        ([_case()], 'needs "expectations"'),
        ([_case(*[{"kind": "is_json"}] * 11)], "at most 10 are allowed"),
        ([_case({"kind": "equals", "value": "x"})], "expectation 1: the kind must be one of"),
        ([_case({"kind": "contains"})], "contains needs a non-empty text value"),
        ([_case({"kind": "max_chars", "value": "10"})], "whole number"),
        ([_case({"kind": "max_chars", "value": 0})], "whole number"),
        ([_case({"kind": "max_chars", "value": 2.5})], "whole number"),
        ([_case({"kind": "max_chars", "value": True})], "whole number"),
        ([_case({"kind": "regex", "value": "(unclosed"})], "does not compile"),
        ([_case({"kind": "regex", "value": "a" * 201})], "limit for regex is 200"),
        ([_case({"kind": "contains", "value": "v" * 501})], "limit for contains is 500"),
    ]:
        with pytest.raises(Invalid, match=problem):
            validate_test_cases(bad)


def test_the_total_size_is_capped_like_the_server():
    big = [_case(*[{"kind": "contains", "value": "é" * 500}] * 10, prompt="p" * 4000)] * MAX_CASES
    with pytest.raises(Invalid, match=f"the limit is {CASES_BYTES_LIMIT:,}"):
        validate_test_cases(big)


def test_hash_and_description():
    one = [_case({"kind": "contains", "value": "a"})]
    assert cases_hash(one) == cases_hash([dict(one[0])]) != cases_hash([_case({"kind": "contains", "value": "b"})])
    assert describe({"kind": "not_contains", "value": 'say "no"'}) == 'does not contain "say \\"no\\""'
    assert describe({"kind": "max_chars", "value": 4}) == "at most 4 characters"
