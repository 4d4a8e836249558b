"""`mirari tools …` and `mirari mcp config` as a user types them, on the suite's own MCP server."""

from __future__ import annotations

import json
import sys

from tests.commands.conftest import one_error_line
from tests.tools.conftest import ROOT

SERVER = ["--", sys.executable, "-m", "standin.mcp_fixture_server"]


def test_add_list_toggle_call_remove(mirari, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    added = mirari("tools", "add", "fx", "--env", "GREETING=hi there", "--env", f"PYTHONPATH={ROOT}", *SERVER)
    assert added.code == 0, added.err
    assert added.out.startswith("Added fx (stdio): 9 tools: add, big, crash, echo, env, fail, noisy, read/file.v2")
    assert mirari("tools", "disable", "fx/add").out == "Disabled fx/add.\n"
    listing = mirari("tools", "list")
    assert f"fx  [stdio, enabled]  {sys.executable} -m standin.mcp_fixture_server" in listing.out
    assert "  [ ] add — Add two integers." in listing.out and "  [x] echo — Return the text as given." in listing.out
    rows = json.loads(mirari("tools", "list", "--json").out)
    assert [(r["name"], r["env"]["GREETING"]) for r in rows] == [("fx", "hi there")]
    assert {t["name"]: t["enabled"] for t in rows[0]["tools"]}["add"] is False
    assert mirari("tools", "call", "fx/add", "--args", '{"a": 20, "b": 22}').out == "42\n"  # the tester runs it anyway
    assert mirari("tools", "call", "fx/env", "--args", '{"name": "GREETING"}').out == "hi there\n"
    assert mirari("tools", "enable", "fx/add").code == 0
    assert mirari("tools", "remove", "fx").out == "Removed fx.\n"
    assert "No tools servers yet" in mirari("tools", "list").out


def test_errors_are_one_line_and_write_nothing(mirari, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    assert "cannot name a server" in one_error_line(mirari("tools", "add", "bad name", *SERVER))
    assert "either --url" in one_error_line(mirari("tools", "add", "x", "--url", "http://127.0.0.1:9/mcp", *SERVER))
    assert "give the command after --" in one_error_line(mirari("tools", "add", "x"))
    assert "unrecognized arguments: --bogus" in one_error_line(mirari("tools", "add", "x", "--bogus", *SERVER))
    assert json.loads(mirari("tools", "list", "--json").out) == []
    mirari("tools", "add", "fx", "--no-connect", "--env", f"PYTHONPATH={ROOT}", *SERVER)
    assert "not valid JSON" in one_error_line(mirari("tools", "call", "fx/add", "--args", "{nope"))
    assert "must be a JSON object" in one_error_line(mirari("tools", "call", "fx/add", "--args", "[1]"))
    assert "fx has no tool nope (it offers: add, big" in one_error_line(mirari("tools", "call", "fx/nope"))
    assert "add answered with an error" in one_error_line(mirari("tools", "call", "fx/add", "--args", '{"a": "x"}'))
    assert "No tools server named ghost" in one_error_line(mirari("tools", "call", "ghost/x"))
    assert "did not answer within 0.5 seconds" in one_error_line(
        mirari("tools", "call", "fx/slow", "--args", '{"seconds": 20}', "--timeout", "0.5"))


def test_a_server_that_does_not_start_is_added_with_the_reason(mirari):
    result = mirari("tools", "add", "ghost", "--", "no-such-mcp-server", "--flag")
    assert result.code == 0
    assert result.out == ("Added ghost (stdio), but it did not start: Command not found: no-such-mcp-server "
                          "Fix it, then run: mirari tools list --refresh\n")
    refreshed = mirari("tools", "list", "--refresh")
    assert "  ⚠ Command not found: no-such-mcp-server" in refreshed.out


def test_mcp_config_names_this_install_and_data_dir(mirari):
    snippet = json.loads(mirari("mcp", "config").out)
    entry = snippet["mcpServers"]["mirari"]
    command_line = [entry["command"], *entry["args"]]
    assert command_line[-4:] == ["--data-dir", str(mirari.data_dir.resolve()), "mcp", "serve"]
