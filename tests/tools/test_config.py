"""This device's server configurations: checked before anything is written, header values only in the
key store, tools recorded with their flags."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from agent.tools.config import (
    SECRET_SERVICE,
    ToolsError,
    add_http_server,
    add_stdio_server,
    get_server,
    list_servers,
    parse_pairs,
    record_tools,
    remove_server,
    set_always_allow,
    set_enabled,
    spec_of,
)
from agent.tools.results import ToolInfo
from sync.secrets import SecretStore


@pytest.fixture
def secrets(tmp_path, memory_keyring):
    return SecretStore(tmp_path, backend=memory_keyring)


def test_a_stdio_server_with_its_tools_and_flags(db):
    add_stdio_server(db, "files", "npx", ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"], {"DEBUG": "1"})
    record_tools(db, "files", [ToolInfo("read_file", "Read a file", {"type": "object"}), ToolInfo("write_file")])
    set_enabled(db, "files/write_file", False)
    set_always_allow(db, "files", "read_file", True)
    server = get_server(db, "files")
    assert server.where() == "npx -y @modelcontextprotocol/server-filesystem /tmp" and server.env == {"DEBUG": "1"}
    assert [(t.name, t.enabled, t.always_allow) for t in server.tools] == [("read_file", True, True),
                                                                         ("write_file", False, False)]
    record_tools(db, "files", [ToolInfo("read_file", "Read it"), ToolInfo("list")])  # write_file is gone
    assert [(t.name, t.description, t.always_allow) for t in get_server(db, "files").tools] == [
        ("list", "", False), ("read_file", "Read it", True)]
    set_enabled(db, "files", False)
    assert not get_server(db, "files").enabled
    remove_server(db, "files")
    assert list_servers(db) == []


def test_header_values_live_in_the_key_store_never_in_the_database(db, secrets):
    add_http_server(db, "remote", "https://mcp.example.test/mcp", {"Authorization": "Bearer s3cret-token"}, secrets)
    server = get_server(db, "remote")
    assert server.header_names == ("Authorization",) and "s3cret" not in repr(server.to_json())
    with db.session() as s:
        dump = " ".join(str(v) for row in s.execute(text("SELECT * FROM mcp_servers")).all() for v in row)
    assert "s3cret" not in dump
    assert spec_of(server, secrets).headers == {"Authorization": "Bearer s3cret-token"}
    assert "s3cret" not in repr(spec_of(server, secrets))
    remove_server(db, "remote", secrets)
    assert secrets.get_secret(SECRET_SERVICE, f"header:{server.id}:authorization") == ""


def test_a_key_store_that_cannot_keep_the_header_adds_nothing(db, tmp_path):
    from keyring.backends.fail import Keyring

    nowhere = SecretStore(tmp_path / "none", backend=Keyring())
    with pytest.raises(Exception, match="keychain"):
        add_http_server(db, "remote", "https://x.test/mcp", {"X-Key": "v"}, nowhere)
    assert list_servers(db) == []


@pytest.mark.parametrize("call, message", [
    (lambda db: add_stdio_server(db, "bad name", "x"), "cannot name a server"),
    (lambda db: add_stdio_server(db, "a" * 33, "x"), "cannot name a server"),
    (lambda db: add_stdio_server(db, "ok", " "), "Give the command"),
    (lambda db: add_stdio_server(db, "ok", "x", ["a\x00b"]), "without NUL"),
    (lambda db: add_stdio_server(db, "ok", "x", env={"1BAD": "v"}), "not an environment variable name"),
    (lambda db: add_http_server(db, "ok", "ftp://x"), "must start with http"),
    (lambda db: add_http_server(db, "ok", "https://x.test", {"Bad Header": "v"}), "not an HTTP header name"),
    (lambda db: set_enabled(db, "nobody", True), "No tools server named nobody"),
])
def test_bad_input_is_one_sentence_and_writes_nothing(db, call, message):
    with pytest.raises(ToolsError, match=message):
        call(db)
    assert list_servers(db) == []


def test_names_are_unique_and_pairs_parse(db):
    add_stdio_server(db, "a", "x")
    with pytest.raises(ToolsError, match="already exists"):
        add_stdio_server(db, "a", "y")
    assert parse_pairs(["A=1", "B=x=y", "C="], "--env") == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(ToolsError, match="NAME=VALUE"):
        parse_pairs(["oops"], "--env")
    with pytest.raises(ToolsError, match="has no tool nope"):
        set_enabled(db, "a/nope", True)
