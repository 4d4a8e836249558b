"""The jsonb checks of dream proposals and skill test cases look at types first, in strict mode
(20261206100200_typed_json_checks.sql): a state of 1, true or ["open"], a kind of 5, and arrays hiding a
value one level down were accepted in lax mode. What the server refuses, the client's own validator
(agent.skills.cases) refuses first; rows stored under the old checks are repaired by the migration."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors
from psycopg.rows import dict_row

from agent.llm.structured import Invalid
from agent.skills.cases import validate_test_cases
from standin.impersonate import ApiSession, create_auth_user
from standin.schema import (
    MIGRATION_HISTORY_SQL,
    SCAFFOLDING_SQL,
    _run_file,
    _run_migration,
    migration_files,
)
from tests.server.rows import make

CHECKS_MIGRATION = "20261206100200_typed_json_checks.sql"
PROPOSAL = {"id": "p1", "kind": "delete", "title": "Delete"}

BAD_STATES = [1, True, ["open"], None, {"x": "open"}, "opex", 0.5]
BAD_PROPOSALS = [[{**PROPOSAL, "state": state}] for state in BAD_STATES] + [
    [PROPOSAL], [[{**PROPOSAL, "state": "open"}]], [5], ["open"], [{**PROPOSAL, "state": "open"}, {"state": 1}]]
GOOD_PROPOSALS = [[], [{**PROPOSAL, "state": "open"}], [{**PROPOSAL, "state": "accepted", "x": [1, "open"]}],
                  [{"state": "rejected"}, {"state": "open"}]]


@pytest.mark.parametrize("proposals", BAD_PROPOSALS, ids=range(len(BAD_PROPOSALS)))
def test_a_proposal_state_must_be_one_of_three_strings(alice, proposals):
    with pytest.raises(errors.CheckViolation, match="dream_reports_shape"):
        make(alice, "dream_reports", proposals=proposals)


@pytest.mark.parametrize("proposals", GOOD_PROPOSALS, ids=range(len(GOOD_PROPOSALS)))
def test_good_proposals_still_pass(alice, proposals):
    assert make(alice, "dream_reports", proposals=proposals)["proposals"] == proposals


def case(*expectations, prompt="Say hi") -> dict:
    return {"prompt": prompt, "expectations": list(expectations)}


BAD_CASES = [
    [case({"kind": 5, "value": "x"})],
    [case({"kind": True})],
    [case({"kind": ["contains"], "value": "x"})],
    [case({"kind": ["is_json"]})],
    [case({"kind": None, "value": "x"})],
    [case({"kind": {"contains": 1}, "value": "x"})],
    [case({"value": "x"})],
    [case([{"kind": "contains", "value": "x"}])],  # an array in place of an expectation
    [[case({"kind": "is_json"})]],  # an array in place of a case
    [case({"kind": "contains", "value": 5})],
    [case({"kind": "contains", "value": ["x"]})],
    [case({"kind": "regex"})],
    [case({"kind": "max_chars", "value": "5"})],
    [case({"kind": "max_chars", "value": [5]})],
    [case({"kind": "max_chars", "value": 0})],
    [case({"kind": "is_json"}, prompt=["Say hi"])],
    [{"prompt": "x"}],
    [case(*[{"kind": "is_json"}] * 11)],
    [5],
]
GOOD_CASES = [[], [case({"kind": "is_json"})],
              [case({"kind": "contains", "value": "hi"}, {"kind": "not_contains", "value": "As an AI"},
                    {"kind": "regex", "value": "^h"}, {"kind": "max_chars", "value": 400}, {"kind": "is_json"})]]


@pytest.mark.parametrize("cases", BAD_CASES, ids=range(len(BAD_CASES)))
def test_what_the_server_refuses_in_test_cases_the_client_refuses_first(alice, cases):
    with pytest.raises(Invalid):
        validate_test_cases(cases)
    with pytest.raises(errors.CheckViolation, match="skills_test_cases_shape"):
        make(alice, "skills", test_cases=cases)


@pytest.mark.parametrize("cases", GOOD_CASES, ids=range(len(GOOD_CASES)))
def test_good_test_cases_pass_both(alice, cases):
    if cases:
        assert validate_test_cases(cases) == cases
    assert make(alice, "skills", test_cases=cases)["test_cases"] == cases


def test_rows_the_lax_checks_let_through_are_repaired_and_restamped(pg_cluster):
    name = "typed_json_checks_repair"
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    dsn = pg_cluster.dsn(name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            _run_file(conn, SCAFFOLDING_SQL)
            conn.execute(MIGRATION_HISTORY_SQL)
            for path in migration_files():
                if path.name < CHECKS_MIGRATION:
                    _run_migration(conn, path)
        with ApiSession(dsn, create_auth_user(dsn)) as alice:
            good_report = make(alice, "dream_reports", proposals=[{**PROPOSAL, "state": "open"}])
            bad_report = make(alice, "dream_reports", proposals=[
                {**PROPOSAL, "state": "accepted"}, {**PROPOSAL, "state": 1}, {**PROPOSAL, "state": ["open"]},
                [{**PROPOSAL, "state": "open"}]])
            good_skill = make(alice, "skills", test_cases=[case({"kind": "is_json"})])
            bad_skill = make(alice, "skills", test_cases=[
                case({"kind": 5, "value": "x"}, {"kind": "contains", "value": "hi"}, {"kind": ["is_json"]}),
                [case({"kind": "is_json"})]])
        with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
            _run_migration(conn, next(p for p in migration_files() if p.name == CHECKS_MIGRATION))
            reports = {r["id"]: r for r in conn.execute("select id, proposals, updated_at from public.dream_reports")}
            skills = {r["id"]: r for r in conn.execute("select id, test_cases, updated_at from public.skills")}
        assert reports[good_report["id"]]["updated_at"] == good_report["updated_at"]  # untouched
        assert skills[good_skill["id"]]["updated_at"] == good_skill["updated_at"]
        repaired = reports[bad_report["id"]]
        assert [p["state"] for p in repaired["proposals"]] == ["accepted", "rejected", "rejected", "rejected"]
        assert repaired["proposals"][3]["value"] == [{**PROPOSAL, "state": "open"}]
        assert repaired["updated_at"] > bad_report["updated_at"]  # every device pulls the repair
        fixed = skills[bad_skill["id"]]
        assert fixed["test_cases"] == [case({"kind": "contains", "value": "hi"})]
        assert fixed["updated_at"] > bad_skill["updated_at"]
    finally:
        with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
            conn.execute(f'drop database "{name}" with (force)')
