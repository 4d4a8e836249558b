"""`mirari chat … --tools NAME,…|all --approve ask|all|never` as a user types it: the real command line
against the fake OpenAI endpoint (tool calls streamed over many chunks) and the suite's own MCP server,
checking exactly what each request carried and what was stored."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from tests.commands.conftest import one_error_line
from tests.tools.conftest import ROOT

SERVER = ["--", sys.executable, "-m", "standin.mcp_fixture_server"]


def call(i, name, arguments):
    return {"id": f"call_{i}", "name": name, "arguments": json.dumps(arguments)}


@pytest.fixture
def setup(mirari, fake_llm, monkeypatch):
    """The connection's id, with the fixture server added as "fx" (its tools listed)."""
    from standin.model import Reply  # noqa: F401 - the tests enqueue Replies

    monkeypatch.setenv("MIRARI_API_KEY", "")
    added = mirari("tools", "add", "fx", "--env", f"PYTHONPATH={ROOT}", *SERVER)
    assert added.code == 0, added.err
    connection = mirari("connections", "add", "--name", "Fake", "--base-url", fake_llm.base_url, "--model", "fake-model")
    assert connection.code == 0, connection.err
    return connection.out.strip()


def tools_of(mirari) -> dict:
    [server] = json.loads(mirari("tools", "list", "--json").out)
    return {t["name"]: t for t in server["tools"]}


def test_approve_all_runs_the_call_and_sends_its_result_back(mirari, fake_llm, setup):
    from standin.model import Reply

    fake_llm.enqueue(Reply(text="Adding. ", tool_calls=[call(1, "fx__add", {"a": 2, "b": 40})], tool_split=1),
                     Reply(text="It is 42."))
    result = mirari("chat", "--connection", setup, "--tools", "fx", "--approve", "all", "What is 2 + 40?")
    assert result.code == 0, result.err
    assert result.out == "Adding. It is 42.\n"
    assert '[fx/add] {"a": 2, "b": 40} → 42' in result.err
    first, second = fake_llm.chat_requests
    assert {"fx__add", "fx__echo", "fx__read_file_v2"} <= set(first.tool_names)
    assert second.messages[-2]["tool_calls"][0]["function"] == {"name": "fx__add", "arguments": '{"a": 2, "b": 40}'}
    assert second.messages[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "42"}
    thread = result.err.split("(thread ")[1].split(":")[0]
    shown = json.loads(mirari("threads", "show", thread, "--json").out)
    assert [m["role"] for m in shown] == ["user", "assistant", "tool", "assistant"]
    assert shown[2]["tool_call_id"] == "call_1" and shown[1]["tool_calls"][0]["id"] == "call_1"


def test_approve_never_and_ask_without_a_terminal_deny_and_the_turn_goes_on(mirari, fake_llm, setup):
    from standin.model import Reply

    for mode in ("never", "ask"):
        fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__echo", {"text": "hi"})]), Reply(text="Denied, fine."))
        result = mirari("chat", "--connection", setup, "--tools", "all", "--approve", mode, "--json", "Echo hi")
        assert result.code == 0, result.err
        out = json.loads(result.out)
        assert out["text"] == "Denied, fine." and out["tool_calls"][0]["decision"] == "deny"
        sent = fake_llm.chat_requests[-1].tool_messages
        assert sent[0]["content"].startswith("Error: the user denied this call")
        assert "The model wants to run" not in result.err  # nobody was asked: there is no terminal


def test_rounds_come_from_the_setting_and_the_last_request_asks_for_text(mirari, fake_llm, setup):
    from standin.model import Reply

    assert mirari("tools", "rounds").out == "8\n"
    assert mirari("tools", "rounds", "2").out == "2\n"
    fake_llm.reply(text="", tool_calls=[call(7, "fx__add", {"a": 1, "b": 1})])  # a model that never stops
    out = json.loads(mirari("chat", "--connection", setup, "--tools", "fx", "--approve", "all", "--json", "Loop").out)
    assert out["rounds"] == 3 and out["limit_reached"] and len(fake_llm.chat_requests) == 3
    assert fake_llm.chat_requests[-1].body["tool_choice"] == "none"
    fake_llm.enqueue(Reply(text="", tool_calls=[call(8, "fx__add", {"a": 1, "b": 1})]), Reply(text="2"))
    out = json.loads(mirari("chat", "--connection", setup, "--tools", "fx", "--approve", "all", "--max-rounds", "1",
                            "--json", "Once").out)
    assert out["rounds"] == 1 and not out["limit_reached"] and out["text"] == "2"


def test_bad_input_is_one_error_line_and_starts_no_thread(mirari, fake_llm, setup):
    assert "No tools server named ghost (configured: fx)" in one_error_line(
        mirari("chat", "--connection", setup, "--tools", "ghost", "Hi"))
    assert "between 1 and 50" in one_error_line(
        mirari("chat", "--connection", setup, "--tools", "fx", "--max-rounds", "0", "Hi"))
    assert "between 1 and 50" in one_error_line(mirari("tools", "rounds", "99"))
    assert "whole number" in one_error_line(mirari("tools", "rounds", "many"))
    mirari("tools", "disable", "fx")
    assert "fx is disabled: mirari tools enable fx" in one_error_line(
        mirari("chat", "--connection", setup, "--tools", "fx", "Hi"))
    assert "No enabled tools in any enabled server" in one_error_line(
        mirari("chat", "--connection", setup, "--tools", "all", "Hi"))
    assert json.loads(mirari("threads", "list", "--json").out) == [] and fake_llm.chat_requests == []


def test_ask_on_a_terminal_reads_always_and_keeps_it(tmp_path, fake_llm, mirari, setup):
    """A real process on a pseudo-terminal: the prompt shows the call, `a` allows it and is remembered."""
    from standin.model import Reply

    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__add", {"a": 20, "b": 22})]), Reply(text="42 it is."))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MIRARI_API_KEY": ""}
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mirari", "--data-dir", str(mirari.data_dir), "chat",
                             "--connection", setup, "--tools", "fx", "--approve", "ask", "Add them"],
                            stdin=child_fd, stdout=subprocess.PIPE, stderr=child_fd, env=env, cwd=ROOT)
    os.close(child_fd)
    seen = b""
    deadline = time.monotonic() + 60
    while b"deny [N]?" not in seen and time.monotonic() < deadline and proc.poll() is None:
        if select.select([main_fd], [], [], 0.5)[0]:
            try:
                seen += os.read(main_fd, 4096)
            except OSError:
                break
    assert b'The model wants to run fx/add {"a": 20, "b": 22}' in seen, seen
    os.write(main_fd, b"a\n")
    out, _ = proc.communicate(timeout=60)
    os.close(main_fd)
    assert proc.returncode == 0 and out.decode() == "42 it is.\n"
    assert fake_llm.chat_requests[-1].tool_messages == [{"role": "tool", "tool_call_id": "call_1", "content": "42"}]
    assert tools_of(mirari)["add"]["always_allow"] is True
