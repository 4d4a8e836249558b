"""skills.tools on PostgreSQL as PostgREST's `authenticated` role: a bounded list of "server/tool" names,
typed checks (strict: no number, nested list or object passes), own rows only, stamping."""

from __future__ import annotations

import pytest
from psycopg import errors

from agent.skills.tools import MAX_TOOLS, TOOL_NAME_LIMIT, validate_tool_names
from tests.server.rows import get, make, patch

GOOD = ["files/read_file", "fx/read/file.v2", "web-search_2/search"]
BAD = [
    '"files/read_file"',  # a JSON string, not a list (rows.py passes a str as the jsonb text)
    {"files": "read_file"},
    [7],
    [None],
    [["files/read_file"]],  # a nested list (lax mode would look inside it)
    [{"name": "files/read_file"}],
    ["no-slash"],
    ["/read_file"],  # no server
    ["files/"],  # no tool
    ["bad server/read"],
    ["x" * 33 + "/read"],  # a server name over 32 characters
    ["files/" + "t" * 123],  # 129 characters
    [f"s/t{i}" for i in range(33)],
]


def test_a_new_skill_needs_no_tools(alice):
    assert make(alice, "skills")["tools"] == []


def test_names_are_stored_and_restamp_without_a_version(alice):
    skill = make(alice, "skills")
    changed = patch(alice, "skills", skill["id"], tools=GOOD)
    assert changed["tools"] == GOOD
    assert changed["updated_at"] > skill["updated_at"] and changed["version"] == 1
    assert patch(alice, "skills", skill["id"], tools=GOOD) == changed  # same value: no new stamp


def test_what_the_client_validates_the_server_accepts(alice):
    """The client's limits (agent.skills.tools) are never looser than the server's check."""
    longest = [f"{'s' * 32}/{i:02d}{'t' * (TOOL_NAME_LIMIT - 35)}" for i in range(MAX_TOOLS)]
    assert validate_tool_names(longest) == longest and len(longest[0]) == TOOL_NAME_LIMIT
    assert make(alice, "skills", tools=longest)["tools"] == longest


@pytest.mark.parametrize("tools", BAD, ids=range(len(BAD)))
def test_malformed_lists_are_refused(alice, tools):
    with pytest.raises(errors.CheckViolation):
        make(alice, "skills", tools=tools)
    skill = make(alice, "skills")
    with pytest.raises(errors.CheckViolation):
        patch(alice, "skills", skill["id"], tools=tools)
    assert get(alice, "skills", skill["id"])["tools"] == []


def test_another_user_cannot_see_or_change_them(alice, bob):
    skill = make(alice, "skills", tools=GOOD)
    assert get(bob, "skills", skill["id"]) is None
    assert patch(bob, "skills", skill["id"], tools=[]) is None
    assert get(alice, "skills", skill["id"])["tools"] == GOOD


def test_the_largest_test_result_with_tools_is_accepted_by_the_server(alice):
    """agent.skills.tool_run.fit_result keeps a result with tools under skills_last_test_size."""
    from agent.skills.tool_run import fit_result

    name = "s" * 32 + "/" + "€" * 95
    case = {"with": 1, "without": 0, "failed": ["€" * 160] * 5,
            "tool_calls": {"ran": 3, "denied": 0, "failed": 0,
                           "calls": [{"tool": name, "decision": "allow_once", "ok": True}] * 3}}
    last = {"version": 1, "with_rate": 0.5, "without_rate": 0.0, "delta": 0.5,
            "results": [dict(case, tool_calls=dict(case["tool_calls"])) for _ in range(20)],
            "tools": {"offered": [name] * 32, "always": [name] * 32, "approval": "all",
                      "notes": [f"{name}: not offered."] * 32}}
    skill = make(alice, "skills")
    with pytest.raises(errors.CheckViolation):
        patch(alice, "skills", skill["id"], last_test=last)
    assert patch(alice, "skills", skill["id"], last_test=fit_result(last))["last_test"]["results"][0]["with"] == 1
