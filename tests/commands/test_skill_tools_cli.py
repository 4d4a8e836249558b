"""`mirari skills tools SKILL [--set …|--clear] [--json]` and `mirari skills test SKILL --approve all|never`
as a user types them: the real command line, the fake OpenAI endpoint streaming tool_calls and the
suite's own MCP server, started by the test run."""

from __future__ import annotations

import json
import sys

import pytest

from tests.commands.conftest import one_error_line
from tests.tools.conftest import ROOT
from tests.tools.test_skill_tools import CASES, PROMPT, adder


@pytest.fixture
def forge(mirari, fake_llm, monkeypatch, tmp_path):
    """(connection id, skill id prefix): "fx" added (its tools listed) and a skill with one test case."""
    monkeypatch.setenv("MIRARI_API_KEY", "")
    added = mirari("tools", "add", "fx", "--env", f"PYTHONPATH={ROOT}", "--", sys.executable, "-m",
                   "standin.mcp_fixture_server")
    assert added.code == 0, added.err
    connection = mirari("connections", "add", "--name", "Fake", "--base-url", fake_llm.base_url, "--model", "fake-model")
    assert connection.code == 0, connection.err
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps(CASES), encoding="utf-8")
    skill = mirari("skills", "add", "--name", "Adder", "--prompt", PROMPT, "--tests", str(cases), "--json")
    assert skill.code == 0, skill.err
    fake_llm.responder = adder
    return connection.out.strip(), json.loads(skill.out)["id"][:8]


def test_set_show_and_clear_a_skills_tools(mirari, forge):
    _, sid = forge
    assert mirari("skills", "tools", sid).out == "Adder needs no tools.\n"
    shown = mirari("skills", "tools", sid, "--set", "fx/add, web/search", "--json")
    assert shown.code == 0, shown.err
    assert json.loads(shown.out) == [{"name": "fx/add", "state": "enabled", "always_allow": False},
                                     {"name": "web/search", "state": "missing", "always_allow": False}]
    text = mirari("skills", "tools", sid).out
    assert "fx/add — enabled on this device" in text
    assert "web/search: not on this device (no MCP server named web); not offered." in text
    assert mirari("skills", "tools", sid, "--clear").out == "Adder needs no tools.\n"


def test_a_bad_name_is_one_error_line_and_nothing_changes(mirari, forge):
    _, sid = forge
    mirari("skills", "tools", sid, "--set", "fx/add")
    assert "is not a tool name" in one_error_line(mirari("skills", "tools", sid, "--set", "fx/add,nonsense"))
    assert json.loads(mirari("skills", "tools", sid, "--json").out)[0]["name"] == "fx/add"


def test_by_default_a_test_run_denies_the_calls_and_says_so(mirari, fake_llm, forge):
    cid, sid = forge
    mirari("skills", "tools", sid, "--set", "fx/add,web/search")
    result = mirari("skills", "test", sid, "--connection", cid)
    assert result.code == 0, result.err
    assert "tool calls: 0 ran, 1 denied, 0 failed" in result.out
    assert "note: web/search: not on this device" in result.out
    assert any(m["content"].startswith("Error: the user denied") for r in fake_llm.chat_requests
               for m in r.tool_messages)


def test_approve_all_runs_the_tools_for_this_run(mirari, fake_llm, forge):
    cid, sid = forge
    mirari("skills", "tools", sid, "--set", "fx/add")
    result = mirari("skills", "test", sid, "--connection", cid, "--approve", "all", "--json")
    assert result.code == 0, result.err
    last = json.loads(result.out)["last_test"]
    assert last["with_rate"] == 1.0 and last["tools"]["approval"] == "all"
    assert last["results"][0]["tool_calls"]["ran"] == 1
    assert json.loads(mirari("tools", "list", "--json").out)[0]["tools"]  # the device config is untouched
    assert not any(t["always_allow"] for t in json.loads(mirari("tools", "list", "--json").out)[0]["tools"])
