"""Fixtures for the tools tests: real MCP servers (the suite's own fixture server over stdio, the
reference servers from npm where npm is there), a real ToolHost, real SQLite files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from agent.tools.host import ServerSpec, ToolHost
from local_schema.database import open_database

ROOT = Path(__file__).resolve().parents[2]


def fixture_spec(mode: str = "serve", name: str = "fx", **env: str) -> ServerSpec:
    """The suite's own MCP server (standin/mcp_fixture_server.py) in `mode`."""
    return ServerSpec(name, "stdio", command=sys.executable, args=("-m", "standin.mcp_fixture_server", mode),
                      env={"PYTHONPATH": str(ROOT), **env})


@pytest.fixture(scope="module")
def shared_host():
    """One host per test module with the fixture server connected as "fx" (it takes a second or two to
    start: the SDK's import), for the tests that only call it."""
    host = ToolHost(start_timeout=60)
    host.connect(fixture_spec())
    yield host
    host.close()


@pytest.fixture
def host():
    """A host of the test's own (for servers that fail, or get stopped)."""
    h = ToolHost(start_timeout=60)
    yield h
    h.close()


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path / "data" / "local.sqlite3")
    yield database
    database.close()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead: it only waits to be reaped
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
