"""A skill names the tools it needs; its tests run with them (issue 22, docs/skills.md "Tests with tools").
Real parts: the fake OpenAI endpoint streaming tool_calls, the suite's own MCP server (standin/
mcp_fixture_server.py) started by the run, a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from agent.jobs import JobCancelled, JobContext
from agent.skills.forge import SkillDraft, SkillError, create_suggested, edit_skill
from agent.skills.runner import run_skill_tests
from agent.skills.tool_run import RESULT_BYTES, fit_result
from agent.skills.tools import (
    ALL,
    MAX_TOOLS,
    NEVER,
    enabled_tool_names,
    parse_tool_list,
    set_skill_tools,
    skill_toolset,
    validate_tool_names,
)
from agent.storable import jsonb_text_size
from agent.tools.config import add_stdio_server, list_servers, record_tools, set_always_allow, set_enabled
from local_schema.models import AgentConnection, Skill
from standin.model import Reply
from tests.tools.conftest import fixture_spec

PROMPT = "Use the add tool for sums, then answer with the number only."
CASES = [{"prompt": "What is 2 + 40?", "expectations": [{"kind": "contains", "value": "42"}]}]


@pytest.fixture
def forge(db, shared_host, fake_llm):
    """(connection id, skill): "fx" configured with its tools listed; a skill needing fx/add."""
    spec = fixture_spec()
    add_stdio_server(db, "fx", spec.command, spec.args, spec.env)
    record_tools(db, "fx", shared_host.tools("fx"))
    with db.write() as s:
        connection = AgentConnection(name="Fake", provider="custom", base_url=fake_llm.base_url, model="fake-model")
        s.add(connection)
    skill = create_suggested(db, SkillDraft("Adder", PROMPT, test_cases=CASES))
    fake_llm.responder = adder
    return connection.id, set_skill_tools(db, skill.id, ["fx/add"])


def adder(request):
    """With the tool offered the fake calls it once, then answers with what the tool said (or that it could not)."""
    if "fx__add" not in request.tool_names:
        return "I think it is 41."
    results = request.tool_messages
    if not results:
        return Reply(text="", tool_calls=[{"id": "call_1", "name": "fx__add",
                                           "arguments": json.dumps({"a": 2, "b": 40})}], tool_split=2)
    return f"The tool said: {results[-1]['content']}"


def _stored(db, skill_id) -> Skill:
    with db.session() as s:
        return s.get(Skill, skill_id)


# -- the names ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["fx/add", [7], [["fx/add"]], ["no-slash"], ["/add"], ["fx/"], ["bad server/x"],
                                 ["fx/a\x00b"], ["fx/" + "t" * 126], [f"s/t{i}" for i in range(MAX_TOOLS + 1)]])
def test_bad_names_are_refused_and_nothing_is_written(db, bad):
    skill = create_suggested(db, SkillDraft("S", "p"))
    set_skill_tools(db, skill.id, ["fx/echo"])
    with pytest.raises(SkillError):
        set_skill_tools(db, skill.id, bad)
    assert _stored(db, skill.id).tools == ["fx/echo"]


def test_names_are_trimmed_deduplicated_and_synced_without_a_new_version(db):
    skill = create_suggested(db, SkillDraft("S", "p"))
    with db.write() as s:
        s.execute(text("DELETE FROM sync_outbox"))
    stored = set_skill_tools(db, skill.id, parse_tool_list(" fx/add ,fx/read/file.v2\nfx/add"))
    assert stored.tools == ["fx/add", "fx/read/file.v2"] and stored.version == 1
    raw = sqlite3.connect(db.path)
    try:
        assert raw.execute("SELECT kind, changed_columns FROM sync_outbox").fetchall() == [("update", '["tools"]')]
    finally:
        raw.close()
    assert set_skill_tools(db, skill.id, []).tools == []
    assert validate_tool_names(("a/b",)) == ["a/b"]


def test_the_toolset_offers_exactly_the_named_enabled_tools_and_notes_the_rest(db, forge):
    set_enabled(db, "fx/echo", False)
    toolset, notes = skill_toolset(list_servers(db), ["fx/add", "fx/echo", "fx/nope", "web/search"])
    assert sorted(toolset.offered) == ["fx__add"]
    assert notes == ["fx/echo: the tool is disabled on this device; not offered.",
                     "fx/nope: fx does not list a tool named nope; not offered.",
                     "web/search: not on this device (no MCP server named web); not offered."]
    set_enabled(db, "fx", False)
    toolset, notes = skill_toolset(list_servers(db), ["fx/add"])
    assert not toolset and notes == ["fx/add: the server fx is disabled on this device; not offered."]
    assert "fx/add" not in enabled_tool_names(list_servers(db))


# -- test runs --------------------------------------------------------------------------------------------
def test_by_default_every_call_is_denied_and_the_result_records_it(db, fake_llm, forge, host):
    connection, skill = forge
    report = run_skill_tests(db, skill.id, connection, "", host=host)
    with_skill = [r for r in fake_llm.chat_requests if PROMPT in r.messages[0]["content"]]
    without = [r for r in fake_llm.chat_requests if PROMPT not in r.messages[0]["content"]]
    assert with_skill[0].tool_names == ["fx__add"]  # only the skill's tool, not echo, slow, …
    assert all(r.tools == [] for r in without)  # without the skill: no tools either
    assert with_skill[-1].tool_messages[0]["content"].startswith("Error: the user denied this call")
    assert report.with_rate == 0.0
    last = _stored(db, skill.id).last_test
    assert last["results"][0]["tool_calls"] == {"ran": 0, "denied": 1, "failed": 0,
                                                "calls": [{"tool": "fx/add", "decision": "deny", "ok": False}]}
    assert last["tools"] == {"offered": ["fx/add"], "always": [], "approval": NEVER, "notes": []}


def test_approve_all_runs_the_tool_and_its_result_goes_back(db, fake_llm, forge, host):
    connection, skill = forge
    report = run_skill_tests(db, skill.id, connection, "", host=host, approval=ALL)
    assert report.with_rate == 1.0 and report.without_rate == 0.0
    assert report.cases[0].tool_calls.ran == 1
    assert _stored(db, skill.id).last_test["results"][0]["tool_calls"]["calls"] == [
        {"tool": "fx/add", "decision": "allow_once", "ok": True}]


def test_a_tool_marked_always_runs_unattended_and_a_confirmed_one_too(db, fake_llm, forge, host):
    connection, skill = forge
    set_always_allow(db, "fx", "add", True)
    report = run_skill_tests(db, skill.id, connection, "", host=host)
    assert report.with_rate == 1.0 and report.cases[0].tool_calls.kept[0]["decision"] == "auto"
    assert _stored(db, skill.id).last_test["tools"]["always"] == ["fx/add"]
    set_always_allow(db, "fx", "add", False)
    assert run_skill_tests(db, skill.id, connection, "", host=host, approval={"fx/add"}).with_rate == 1.0
    assert run_skill_tests(db, skill.id, connection, "", host=host, approval={"fx/echo"}).with_rate == 0.0


def test_a_missing_or_disabled_tool_is_a_note_not_a_crash(db, fake_llm, forge, host):
    connection, skill = forge
    set_skill_tools(db, skill.id, ["fx/add", "web/search"])
    set_enabled(db, "fx/add", False)
    report = run_skill_tests(db, skill.id, connection, "", host=host, approval=ALL)
    assert all(r.tools == [] for r in fake_llm.chat_requests)  # nothing left to offer: plain requests
    assert report.with_rate == 0.0
    assert _stored(db, skill.id).last_test["tools"]["notes"] == [
        "fx/add: the tool is disabled on this device; not offered.",
        "web/search: not on this device (no MCP server named web); not offered."]


def test_the_run_starts_and_stops_its_own_host_when_given_none(db, fake_llm, forge):
    connection, skill = forge
    assert run_skill_tests(db, skill.id, connection, "", approval=ALL).with_rate == 1.0


def test_tools_changed_during_the_run_store_nothing(db, fake_llm, forge, host):
    connection, skill = forge
    original = fake_llm.responder

    def meddle(request):
        if request.tool_messages:
            set_skill_tools(db, skill.id, ["fx/echo"])
        return original(request)

    fake_llm.responder = meddle
    with pytest.raises(SkillError, match="changed while its tests ran"):
        run_skill_tests(db, skill.id, connection, "", host=host, approval=ALL)
    assert _stored(db, skill.id).last_test is None
    edit_skill(db, skill.id, name="Adder 2")  # the skill is still usable


def test_cancel_during_a_tool_call_stops_the_run_and_stores_nothing(db, fake_llm, forge, host):
    connection, skill = forge
    set_skill_tools(db, skill.id, ["fx/slow"])
    fake_llm.responder = lambda request: (
        Reply(text="", tool_calls=[{"id": "call_1", "name": "fx__slow", "arguments": '{"seconds": 30}'}])
        if "fx__slow" in request.tool_names and not request.tool_messages else "done")
    ctx = JobContext()
    threading.Timer(1.5, ctx.cancel.cancel).start()
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        run_skill_tests(db, skill.id, connection, "", host=host, approval=ALL, ctx=ctx)
    assert time.monotonic() - started < 15  # the 30 s call was cancelled, not waited for
    assert _stored(db, skill.id).last_test is None


def test_the_largest_result_still_fits_the_servers_cap_and_keeps_every_count():
    name = "s" * 32 + "/" + "€" * 95  # 128 characters, 318 bytes
    case = {"with": 1, "without": 0, "failed": ["€" * 160] * 5,
            "tool_calls": {"ran": 7, "denied": 2, "failed": 1,
                           "calls": [{"tool": name, "decision": "allow_once", "ok": True}] * 3}}
    last = {"version": 1, "with_rate": 0.5, "without_rate": 0.0, "delta": 0.5,
            "results": [json.loads(json.dumps(case)) for _ in range(20)],
            "tools": {"offered": [name] * 32, "always": [name] * 32, "approval": ALL,
                      "notes": [f"{name}: the tool is disabled on this device; not offered."] * 32}}
    assert jsonb_text_size(last) > 100_000
    fitted = fit_result(last)
    assert jsonb_text_size(fitted) <= RESULT_BYTES < 50_000
    assert all((r["tool_calls"]["ran"], r["tool_calls"]["denied"], r["with"]) == (7, 2, 1) for r in fitted["results"])
    assert fitted["tools"]["notes"][-1] == "… and 29 more"
    small = {"version": 1, "with_rate": 1, "without_rate": 0, "results": [json.loads(json.dumps(case))]}
    assert fit_result(json.loads(json.dumps(small))) == small  # a result that fits is left as it is
