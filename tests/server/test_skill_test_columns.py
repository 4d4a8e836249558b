"""skills.test_cases / skills.last_test on PostgreSQL as PostgREST's `authenticated` role: shape and
size checks, own rows only, stamping (they restamp updated_at, never the version)."""

from __future__ import annotations

import pytest
from psycopg import errors

from agent.skills.cases import validate_test_cases
from tests.server.rows import get, make, patch


def _case(*expectations, prompt="Summarise: tea is nice."):
    return {"prompt": prompt, "expectations": list(expectations)}


GOOD_CASES = [
    _case({"kind": "contains", "value": "•"}, {"kind": "not_contains", "value": "As an AI"},
          {"kind": "regex", "value": "^• "}, {"kind": "max_chars", "value": 400}, {"kind": "is_json"}),
    _case({"kind": "contains", "value": "x"}, prompt="Second"),
]
GOOD_RESULT = {"version": 1, "with_rate": 1, "without_rate": 0.25, "delta": 0.75, "cases_hash": "ab12",
               "results": [{"with": 1, "without": 0, "failed": []}]}

BAD_CASES = [
    {"prompt": "not a list"},
    ["a string"],
    [{"expectations": []}],  # no prompt
    [{"prompt": 7, "expectations": []}],
    [{"prompt": "p"}],  # no expectations
    [{"prompt": "p", "expectations": {"kind": "is_json"}}],
    [_case(*[{"kind": "is_json"}] * 11)],
    [_case({"kind": "equals", "value": "x"})],
    [_case({"value": "x"})],
    [_case({"kind": "contains"})],
    [_case({"kind": "regex", "value": 5})],
    [_case({"kind": "max_chars", "value": "400"})],
    [_case({"kind": "max_chars", "value": 0})],
    [_case({"kind": "max_chars"})],
    [_case({"kind": "is_json"})] * 21,
    [_case({"kind": "contains", "value": "x" * 200_000})],
]
BAD_RESULTS = [
    ["not an object"],
    {"with_rate": 0.5, "without_rate": 0.5},  # no version
    {"version": 0, "with_rate": 0.5, "without_rate": 0.5},
    {"version": 1, "with_rate": 1.5, "without_rate": 0.5},
    {"version": 1, "with_rate": 0.5, "without_rate": -0.1},
    {"version": 1, "with_rate": "0.5", "without_rate": 0.5},
    {"version": 1, "with_rate": 0.5},
    {**GOOD_RESULT, "results": ["x" * 60_000]},
]


def test_a_new_skill_has_no_cases_and_no_result(alice):
    skill = make(alice, "skills")
    assert skill["test_cases"] == [] and skill["last_test"] is None


def test_well_formed_cases_and_results_are_stored(alice):
    skill = make(alice, "skills", test_cases=GOOD_CASES, last_test=GOOD_RESULT)
    assert skill["test_cases"] == GOOD_CASES and skill["last_test"] == GOOD_RESULT
    assert patch(alice, "skills", skill["id"], last_test=None)["last_test"] is None


def test_what_the_client_validates_the_server_accepts(alice):
    """The client's own limits (agent.skills.cases) are never looser than the server's checks."""
    biggest = validate_test_cases([_case(*[{"kind": "contains", "value": "v" * 500}] * 10,
                                         prompt="p" * 4000)] * 2)
    assert make(alice, "skills", test_cases=biggest)["test_cases"] == biggest


@pytest.mark.parametrize("cases", BAD_CASES, ids=range(len(BAD_CASES)))
def test_malformed_cases_are_rejected(alice, cases):
    with pytest.raises(errors.CheckViolation):
        make(alice, "skills", test_cases=cases)
    skill = make(alice, "skills")
    with pytest.raises(errors.CheckViolation):
        patch(alice, "skills", skill["id"], test_cases=cases)


@pytest.mark.parametrize("result", BAD_RESULTS, ids=range(len(BAD_RESULTS)))
def test_malformed_results_are_rejected(alice, result):
    skill = make(alice, "skills")
    with pytest.raises(errors.CheckViolation):
        patch(alice, "skills", skill["id"], last_test=result)


def test_cases_restamp_the_row_but_never_count_a_version(alice):
    skill = make(alice, "skills")
    changed = patch(alice, "skills", skill["id"], test_cases=GOOD_CASES)
    assert changed["updated_at"] > skill["updated_at"] and changed["version"] == 1
    tested = patch(alice, "skills", skill["id"], last_test=GOOD_RESULT, score=1)
    assert tested["updated_at"] > changed["updated_at"] and tested["version"] == 1
    assert patch(alice, "skills", skill["id"], test_cases=GOOD_CASES) == tested  # same value: no new stamp


def test_other_users_cannot_read_or_change_them(alice, bob):
    skill = make(alice, "skills", test_cases=GOOD_CASES)
    assert get(bob, "skills", skill["id"]) is None
    assert patch(bob, "skills", skill["id"], test_cases=[]) is None
    assert get(alice, "skills", skill["id"])["test_cases"] == GOOD_CASES
