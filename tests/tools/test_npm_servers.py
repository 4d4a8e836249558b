"""The reference MCP servers from npm (@modelcontextprotocol/server-everything and server-filesystem),
installed once into a cached folder of the temp dir when npm is available, driven through ToolHost and
a whole tool turn."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from agent.llm.client import LLMClient
from agent.tools.config import add_stdio_server, get_server, record_tools
from agent.tools.host import ServerSpec, ToolHost
from agent.tools.loop import ALLOW_ONCE, ToolLoop, host_runner
from agent.tools.names import is_valid
from agent.tools.toolset import build_toolset
from standin.model import Reply

pytestmark = pytest.mark.slow  # real servers in their own processes: seconds each

VERSION = "2026.8.31"
PACKAGES = [f"@modelcontextprotocol/server-everything@{VERSION}", f"@modelcontextprotocol/server-filesystem@{VERSION}"]


@pytest.fixture(scope="module")
def npm_bin():
    if not (shutil.which("npm") and shutil.which("node")):
        pytest.skip("npm and node are not installed here")
    folder = Path(tempfile.gettempdir()) / f"mirari-mcp-npm-{VERSION}"
    bin_dir = folder / "node_modules" / ".bin"
    if not (bin_dir / "mcp-server-filesystem").exists() or not (bin_dir / "mcp-server-everything").exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "init", "-y"], cwd=folder, check=True, capture_output=True)
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", *PACKAGES], cwd=folder,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.skip(f"npm could not install the reference servers: {done.stderr.strip()[-300:]}")
    return bin_dir


@pytest.fixture(scope="module")
def npm_host(npm_bin, tmp_path_factory):
    root = tmp_path_factory.mktemp("allowed")
    (root / "notes.txt").write_text("tea at five\n")
    host = ToolHost(start_timeout=120)
    host.connect(ServerSpec("everything", "stdio", command=str(npm_bin / "mcp-server-everything"), args=("stdio",)))
    host.connect(ServerSpec("files", "stdio", command=str(npm_bin / "mcp-server-filesystem"), args=(str(root),)))
    yield host, root
    host.close()


def test_server_everything_tools_and_content_kinds(npm_host):
    host, _ = npm_host
    names = {t.name for t in host.tools("everything")}
    assert {"echo", "get-sum", "get-tiny-image", "get-structured-content"} <= names
    assert host.call("everything", "echo", {"message": "héllo"}).text == "Echo: héllo"
    assert "3" in host.call("everything", "get-sum", {"a": 1, "b": 2}).text
    image = host.call("everything", "get-tiny-image", {}).text
    assert "[image: image/png, about" in image and "not shown]" in image  # never the base64 itself


def test_server_filesystem_reads_writes_and_refuses_outside_paths(npm_host):
    host, root = npm_host
    assert "tea at five" in host.call("files", "read_text_file", {"path": str(root / "notes.txt")}).text
    host.call("files", "write_file", {"path": str(root / "new.txt"), "content": "written by a tool"})
    assert (root / "new.txt").read_text() == "written by a tool"
    refused = host.call("files", "read_text_file", {"path": "/etc/hostname"})
    assert refused.is_error and "outside allowed directories" in refused.text


def test_a_turn_uses_a_reference_server(npm_host, npm_bin, db, fake_llm):
    host, root = npm_host
    add_stdio_server(db, "files", str(npm_bin / "mcp-server-filesystem"), [str(root)])
    record_tools(db, "files", host.tools("files"))
    toolset = build_toolset([get_server(db, "files")])
    assert all(is_valid(d["function"]["name"]) for d in toolset.definitions)
    fake_llm.enqueue(Reply(text="", tool_calls=[{"id": "c1", "name": "files__list_directory",
                                                 "arguments": json.dumps({"path": str(root)})}]),
                     Reply(text="You have notes.txt."))

    class Memory:
        def __init__(self):
            self.nodes = []

        def add_assistant(self, text, tool_calls):
            self.nodes.append(("assistant", text, tool_calls))
            return str(len(self.nodes))

        def add_tool_result(self, call_id, name, text):
            self.nodes.append(("tool", call_id, text))
            return str(len(self.nodes))

    storage = Memory()
    result = ToolLoop(LLMClient(fake_llm.base_url, "m"), toolset, run_tool=host_runner(host),
                      approve=lambda c: ALLOW_ONCE, storage=storage).run([{"role": "user", "content": "Files?"}])
    assert result.text == "You have notes.txt."
    assert "[FILE] notes.txt" in storage.nodes[1][2]
