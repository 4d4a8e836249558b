"""`mirari mcp serve` driven by the official MCP SDK client, as Claude Desktop or Cursor would: over stdio
and over HTTP with and without the token; read-only refusal; paused facts never served; every access
logged with the app's name; facts added through the Atlas's no-duplicates rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import Implementation

from agent.chat.threads import new_thread
from agent.mcp_server.access import access_of_node, recent_access
from agent.memory.atlas import add_node, list_nodes, set_paused
from local_schema.database import open_database
from local_schema.models import Message
from sync.accounts import active_database_path
from tests.tools.conftest import ROOT

pytestmark = pytest.mark.slow  # real servers in their own processes: seconds each

@pytest.fixture
def data(tmp_path):
    """A data dir whose active database holds facts (one paused) and a conversation."""
    data_dir = tmp_path / "data"
    db = open_database(active_database_path(data_dir))
    facts = {label: add_node(db, label, "preference", strength).node.id for label, strength in
             (("Prefers green tea", 0.9), ("Drinks tea without sugar", 0.6), ("Secret: tea allergy", 0.95))}
    set_paused(db, facts["Secret: tea allergy"], True)
    thread = new_thread(db).id
    with db.write() as s:
        s.add(Message(conversation_id=thread, role="user", content="Which oolong tea should I buy?"))
    db.close()
    return data_dir, facts


def stdio(data_dir, *extra):
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "mirari", "--data-dir", str(data_dir), "mcp", "serve", *extra],
                                 env={"PYTHONPATH": str(ROOT)})


def run(coro_fn):
    return anyio.run(coro_fn)


def text_of(result) -> dict:
    assert not result.is_error, result
    return json.loads(result.content[0].text)


def test_an_app_searches_lists_and_adds_and_every_access_is_logged(data):
    data_dir, facts = data

    async def session():
        async with Client(stdio_client(stdio(data_dir)), client_info=Implementation(name="Cursor", version="1")) as c:
            names = [t.name for t in (await c.list_tools()).tools]
            found = text_of(await c.call_tool("search_memory", {"query": "TEA"}))
            strongest = text_of(await c.call_tool("strongest_facts", {"limit": 5}))
            added = text_of(await c.call_tool("add_fact", {"fact": "Works from Lisbon", "category": "fact"}))
            again = text_of(await c.call_tool("add_fact", {"fact": "works from lisbon!"}))
            hidden = text_of(await c.call_tool("add_fact", {"fact": "Secret: tea allergy"}))
            empty = await c.call_tool("add_fact", {"fact": "   "})
            assert empty.is_error and "A memory needs a label" in empty.content[0].text
            talk = text_of(await c.call_tool("search_conversations", {"query": "oolong"}))
            return names, found, strongest, added, again, hidden, talk

    names, found, strongest, added, again, hidden, talk = run(session)
    assert names == ["search_memory", "strongest_facts", "add_fact", "search_conversations"]
    assert [f["fact"] for f in found["facts"]] == ["Prefers green tea", "Drinks tea without sugar"]  # not the paused one
    assert [f["fact"] for f in strongest["facts"]] == ["Prefers green tea", "Drinks tea without sugar"]
    assert added["added"] is True and again["added"] is False and again["id"] == added["id"]
    assert hidden == {"id": None, "added": False, "message": "That fact is already known; nothing was changed."}
    assert [m["snippet"] for m in talk["messages"]] == ["Which oolong tea should I buy?"]
    db = open_database(active_database_path(data_dir))
    try:
        nodes = {v.node.label: v.node for v in list_nodes(db)}
        assert nodes["Works from Lisbon"].source == "mcp:Cursor" and nodes["Works from Lisbon"].strength == 0.55
        assert nodes["Secret: tea allergy"].strength == 0.95 and nodes["Secret: tea allergy"].paused  # untouched
        log = recent_access(db)
        assert [(e.app, e.action, e.tool) for e in reversed(log)] == [
            ("Cursor", "read", "search_memory"), ("Cursor", "read", "strongest_facts"),
            ("Cursor", "write", "add_fact"), ("Cursor", "write", "add_fact"), ("Cursor", "write", "add_fact"),
            ("Cursor", "read", "search_conversations")]
        tea = access_of_node(db, facts["Prefers green tea"])
        assert [(e.tool, e.detail) for e in tea] == [("strongest_facts", "limit 5"), ("search_memory", "TEA")]
        assert access_of_node(db, facts["Secret: tea allergy"]) == []  # never served, never logged as read
    finally:
        db.close()


def test_read_only_offers_no_writing_tool_and_refuses_one(data):
    data_dir, _ = data

    async def session():
        async with Client(stdio_client(stdio(data_dir, "--read-only")),
                          client_info=Implementation(name="Claude Desktop", version="1")) as c:
            return [t.name for t in (await c.list_tools()).tools], await c.call_tool("add_fact", {"fact": "x"})

    names, refused = run(session)
    assert "add_fact" not in names and refused.is_error and "add_fact" in refused.content[0].text
    db = open_database(active_database_path(data_dir))
    try:
        assert "x" not in {v.node.label for v in list_nodes(db)}
    finally:
        db.close()


@pytest.fixture
def keyring_env(tmp_path):
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHON_KEYRING_BACKEND": "standin.keyrings.FileKeyring",
            "MIRARI_TEST_KEYRING_FILE": str(tmp_path / "keyring.json")}


def test_over_http_the_token_is_required_and_mirari_tools_can_use_it(data, keyring_env, tmp_path):
    data_dir, _ = data
    mirari = [sys.executable, "-m", "mirari", "--data-dir", str(data_dir)]
    token = subprocess.run([*mirari, "mcp", "token"], env=keyring_env, capture_output=True, text=True,
                           check=True).stdout.strip()
    assert len(token) >= 40
    assert subprocess.run([*mirari, "mcp", "token"], env=keyring_env, capture_output=True, text=True,
                          check=True).stdout.strip() == token  # kept, not made anew
    server = subprocess.Popen([*mirari, "mcp", "serve", "--http", "0"], env=keyring_env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
        import httpx

        refused = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert refused.status_code == 401 and "mirari mcp token" in refused.json()["error"]
        wrong = httpx.post(url, json={}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        # MIRARI's own client, the header value from the key store (another data dir: another device's app)
        other = [sys.executable, "-m", "mirari", "--data-dir", str(tmp_path / "other")]
        added = subprocess.run([*other, "tools", "add", "memory", "--url", url, "--header",
                                f"Authorization=Bearer {token}"], env=keyring_env, capture_output=True, text=True)
        assert added.returncode == 0, added.stderr
        assert "4 tools: add_fact, search_conversations, search_memory, strongest_facts" in added.stdout
        called = subprocess.run([*other, "tools", "call", "memory/search_memory", "--args", '{"query": "green"}'],
                                env=keyring_env, capture_output=True, text=True)
        assert called.returncode == 0, called.stderr
        assert json.loads(called.stdout)["facts"][0]["fact"] == "Prefers green tea"
        stored = b"".join(p.read_bytes() for p in (tmp_path / "other").rglob("*.sqlite3*") if p.is_file())
        assert stored and token.encode() not in stored  # the header value is in the key store only
    finally:
        server.terminate()
        server.wait(10)
    db = open_database(active_database_path(data_dir))
    try:
        assert [(e.app, e.tool) for e in recent_access(db)] == [("MIRARI", "search_memory")]
    finally:
        db.close()


def test_the_sdk_client_without_the_token_cannot_connect(data, keyring_env):
    data_dir, _ = data
    mirari = [sys.executable, "-m", "mirari", "--data-dir", str(data_dir)]
    server = subprocess.Popen([*mirari, "mcp", "serve", "--http", "0"], env=keyring_env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()

        async def session():
            with anyio.fail_after(20):
                async with Client(url) as c:
                    await c.list_tools()

        with pytest.raises(BaseExceptionGroup) as caught:  # the SDK's task groups wrap the refusal
            run(session)
        assert "Server returned an error response" in repr(caught.value)
    finally:
        server.terminate()
        server.wait(10)
    db = open_database(active_database_path(data_dir))
    try:
        assert recent_access(db) == []  # refused before any tool ran
    finally:
        db.close()
