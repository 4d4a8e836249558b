"""dream_reports on the real server schema: RLS to the owner, checks on shape and size, the stamping
trigger, and a deleted connection clearing the reference."""

from __future__ import annotations

import pytest
from psycopg import errors

from tests.server.rows import get, make, patch

GOOD_PROPOSAL = {"id": "p1", "kind": "delete", "state": "open", "node_id": "x", "title": "Delete"}


def test_a_full_report_is_stored_and_restamped_on_a_decision(alice):
    report = make(alice, "dream_reports", status="done", summary="Found 1 weak", findings=[{"kind": "weak"}],
                  proposals=[GOOD_PROPOSAL], budget={"max_requests": 3, "requests": 1})
    decided = patch(alice, "dream_reports", report["id"], proposals=[{**GOOD_PROPOSAL, "state": "accepted"}])
    assert decided["updated_at"] > report["updated_at"]
    assert decided["proposals"][0]["state"] == "accepted"


def test_only_the_owner_sees_or_changes_a_report(alice, bob):
    report = make(alice, "dream_reports")
    assert get(bob, "dream_reports", report["id"]) is None
    assert patch(bob, "dream_reports", report["id"], status="failed") is None
    with pytest.raises(errors.InsufficientPrivilege):
        make(bob, "dream_reports", user_id=report["user_id"])


BAD = [
    {"kind": "nap"},
    {"status": "sleeping"},
    {"findings": {"not": "a list"}},
    {"proposals": {"p1": GOOD_PROPOSAL}},
    {"budget": ["not", "an", "object"]},
    {"proposals": [{**GOOD_PROPOSAL, "state": "maybe"}]},
    {"proposals": [{"id": "p1", "kind": "delete"}]},  # no state
    {"proposals": ["just text"]},
    {"findings": [{"text": "x" * 500_001}]},
    {"summary": "x" * 20_001},
]


@pytest.mark.parametrize("values", BAD, ids=[next(iter(v)) + f"-{i}" for i, v in enumerate(BAD)])
def test_bad_reports_are_refused_on_insert_and_update(alice, values):
    with pytest.raises(errors.CheckViolation):
        make(alice, "dream_reports", **values)
    report = make(alice, "dream_reports")
    with pytest.raises(errors.CheckViolation):
        patch(alice, "dream_reports", report["id"], **values)


def test_a_deleted_connection_clears_the_reference_with_a_new_stamp(alice):
    connection = make(alice, "agent_connections")
    report = make(alice, "dream_reports", agent_connection_id=connection["id"])
    patch(alice, "agent_connections", connection["id"], deleted_at="now")
    after = get(alice, "dream_reports", report["id"])
    assert after["agent_connection_id"] is None and after["updated_at"] > report["updated_at"]
    late = make(alice, "dream_reports", agent_connection_id=connection["id"])  # from an offline device
    assert late["agent_connection_id"] is None


def test_reports_are_tombstoned_never_deleted(alice):
    report = make(alice, "dream_reports")
    gone = patch(alice, "dream_reports", report["id"], deleted_at="now")
    assert gone["deleted_at"] == gone["updated_at"]
    with pytest.raises(errors.RaiseException):
        patch(alice, "dream_reports", report["id"], deleted_at=None)
