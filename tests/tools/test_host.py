"""ToolHost against real MCP servers over stdio: the suite's own fixture server, well-behaved and in
every fault — a clear sentence for each, the host keeps working, results bounded, no process left."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from agent.llm.client import CancelToken
from agent.tools.host import (
    CALL_FAILED,
    CANCELLED,
    NOT_CONNECTED,
    NOT_FOUND,
    READY,
    START_FAILED,
    TIMEOUT,
    ServerSpec,
    ToolError,
    ToolHost,
)
from agent.tools.results import RESULT_LIMIT
from tests.tools.conftest import ROOT, fixture_spec, process_alive


def test_a_server_lists_its_tools_and_answers_calls(shared_host):
    status = shared_host.status("fx")
    assert status.state == READY and status.server_info == "mirari-fixture 1.0"
    tools = {t.name: t for t in status.tools}
    assert {"echo", "add", "slow", "big", "fail", "read/file.v2"} <= set(tools)
    assert tools["add"].input_schema["required"] == ["a", "b"] and tools["add"].description == "Add two integers."
    assert shared_host.call("fx", "add", {"a": 2, "b": 40}).text == "42"
    assert shared_host.call("fx", "read/file.v2", {"path": "/x"}).text == "contents of /x"


def test_a_tool_error_is_a_result_marked_as_an_error(shared_host):
    result = shared_host.call("fx", "fail", {"message": "boom"})
    assert result.is_error and "fail" in result.text
    unknown = shared_host.call("fx", "no_such_tool", {})
    assert unknown.is_error and "no_such_tool" in unknown.text


def test_a_megabyte_result_is_cut_with_a_marker(shared_host):
    result = shared_host.call("fx", "big", {"size": 2_000_000})
    assert result.truncated and result.full_length == 2_000_000
    assert len(result.text) < RESULT_LIMIT + 100
    assert result.text.endswith("[… result truncated: 1,960,000 more characters not shown]")


def test_a_slow_call_times_out_is_cancelled_and_the_server_keeps_working(shared_host):
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"slow did not answer within 0.3 seconds") as caught:
        shared_host.call("fx", "slow", {"seconds": 30}, timeout=0.3)
    assert caught.value.kind == TIMEOUT and time.monotonic() - started < 3
    assert shared_host.call("fx", "echo", {"text": "still here"}).text == "still here"


def test_cancel_stops_a_call_in_flight(shared_host):
    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()
    started = time.monotonic()
    with pytest.raises(ToolError) as caught:
        shared_host.call("fx", "slow", {"seconds": 30}, cancel=token)
    assert caught.value.kind == CANCELLED and time.monotonic() - started < 3
    assert shared_host.call("fx", "add", {"a": 1, "b": 1}).text == "2"


def test_a_server_that_crashes_during_a_call_is_a_clear_error_and_can_be_started_again(host):
    host.connect(fixture_spec(name="crashy"))
    with pytest.raises(ToolError, match="crashy stopped during a call") as caught:
        host.call("crashy", "crash", {})
    assert caught.value.kind == CALL_FAILED
    assert host.status("crashy").state == "failed"
    with pytest.raises(ToolError) as again:
        host.call("crashy", "echo", {"text": "x"})
    assert again.value.kind == NOT_CONNECTED
    host.connect(fixture_spec(name="crashy"))  # restarted
    assert host.call("crashy", "echo", {"text": "back"}).text == "back"


def test_a_server_that_exits_at_start_says_why_in_its_own_words(host):
    started = time.monotonic()
    with pytest.raises(ToolError) as caught:
        host.connect(fixture_spec("crash-at-start", name="broken"))
    assert caught.value.kind == START_FAILED and time.monotonic() - started < 10
    assert "broken stopped before it was ready" in str(caught.value)
    assert "«fixture: cannot open its database, giving up»" in str(caught.value)
    assert host.status("broken").state == "failed" and "giving up" in host.status("broken").error


@pytest.mark.parametrize("mode, said", [
    ("hang-at-start", "hung did not answer within 1 seconds."),
    ("garbage", "hung did not answer within 1 seconds; it printed something that is not MCP on its "
                "standard output: «Welcome to the fixture server!»."),
])
def test_a_server_that_hangs_or_prints_garbage_at_start_is_stopped(host, tmp_path, mode, said):
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(ToolError) as caught:
        host.connect(fixture_spec(mode, name="hung", MCP_FIXTURE_PID_FILE=str(pid_file)), timeout=1)
    assert caught.value.kind == TIMEOUT and str(caught.value) == said
    assert time.monotonic() - started < 8  # the start time, then the SDK's bounded shutdown
    assert not process_alive(int(pid_file.read_text()))


def test_a_command_that_does_not_exist(host):
    with pytest.raises(ToolError, match="Command not found: no-such-mcp-server") as caught:
        host.connect(ServerSpec("ghost", "stdio", command="no-such-mcp-server"))
    assert caught.value.kind == NOT_FOUND


def test_an_http_server_that_is_not_there(host):
    with pytest.raises(ToolError, match=r"web could not be reached at http://127.0.0.1:9/mcp") as caught:
        host.connect(ServerSpec("web", "http", url="http://127.0.0.1:9/mcp"), timeout=10)
    assert caught.value.kind == START_FAILED


def test_environment_is_passed_but_not_the_apps_own(host, monkeypatch):
    monkeypatch.setenv("MIRARI_API_KEY", "sk-never-shown")
    host.connect(fixture_spec(name="envy", GREETING="hello"))
    assert host.call("envy", "env", {"name": "GREETING"}).text == "hello"
    # an empty text result: the structured result says it (the app's own variables are not inherited)
    assert host.call("envy", "env", {"name": "MIRARI_API_KEY"}).text == '{"result": ""}'


def test_close_stops_every_server_process(tmp_path):
    host = ToolHost(start_timeout=60)
    pid_file = tmp_path / "pid"
    host.connect(fixture_spec(name="a", MCP_FIXTURE_PID_FILE=str(pid_file)))
    pid = int(pid_file.read_text())
    assert process_alive(pid)
    host.close()
    assert not process_alive(pid)
    with pytest.raises(ToolError):
        host.call("a", "echo", {"text": "x"})


APP = """
import sys, threading
from agent.tools.host import ToolHost
from tests.tools.conftest import fixture_spec
host = ToolHost(start_timeout=600)
threading.Thread(target=lambda: host.connect(fixture_spec("hang-at-start", MCP_FIXTURE_PID_FILE=sys.argv[1])),
                 daemon=True).start()
print("started", flush=True)
threading.Event().wait()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's (docs/tools.md)")
def test_a_server_that_ignores_its_input_dies_with_a_killed_app(tmp_path):
    pid_file = tmp_path / "pid"
    app = subprocess.Popen([sys.executable, "-c", APP, str(pid_file)], cwd=ROOT, stdout=subprocess.PIPE,
                           env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        server = int(pid_file.read_text())
        assert process_alive(server)
        app.send_signal(signal.SIGKILL)  # the app crashes: no atexit, no clean close
        app.wait(10)
        deadline = time.monotonic() + 5
        while process_alive(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process_alive(server)
    finally:
        app.kill()


def test_a_call_cancelled_before_it_starts_never_runs(shared_host):
    token = CancelToken()
    token.cancel()
    with pytest.raises(ToolError) as caught:
        shared_host.call("fx", "slow", {"seconds": 30}, cancel=token)
    assert caught.value.kind == CANCELLED
    started = time.monotonic()
    assert shared_host.call("fx", "echo", {"text": "next"}).text == "next"
    assert time.monotonic() - started < 5  # nothing of the cancelled call left in the way
