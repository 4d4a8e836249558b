"""This device's MCP servers: their configuration, their tools' enabled flags and "always allow".

Device-local (local_schema.models McpServer / McpTool, never synced): a configuration names a program and
paths of this machine. A server is reached over stdio (a command, its arguments and environment) or
streamable HTTP (a URL and headers). Header values are secrets — an `Authorization: Bearer …` — and go
to the key store (sync.secrets, service "MIRARI MCP"), never into the database; the row keeps their
names. Every write goes through `LocalDatabase.write()`; bad input raises `ToolsError` (one sentence)
and writes nothing — a secret that cannot be stored rolls the new server back.

A server's tools are recorded when it lists them (`record_tools`): a new tool starts enabled and asks
before each call; a tool the server no longer lists is forgotten with its flags.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import select

from agent.tools.host import ServerSpec
from agent.tools.results import ToolInfo
from local_schema.database import LocalDatabase
from local_schema.models import McpServer, McpTool
from local_schema.timestamps import utc_now

SECRET_SERVICE = "MIRARI MCP"
STDIO, HTTP = "stdio", "http"
SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")  # an HTTP token (RFC 9110)
TEXT_LIMIT = 4096  # a command, an argument, a value, a URL
MAX_ARGS, MAX_PAIRS = 256, 64


class ToolsError(ValueError):
    """A tools operation that cannot be done; str() is one sentence. Nothing was written."""


@dataclass(frozen=True)
class ToolState:
    name: str
    description: str = ""
    input_schema: dict[str, Any] | None = None
    enabled: bool = True
    always_allow: bool = False


@dataclass(frozen=True)
class ServerConfig:
    id: str
    name: str
    transport: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None
    header_names: tuple[str, ...] = ()
    enabled: bool = True
    tools: tuple[ToolState, ...] = ()

    def where(self) -> str:
        """The command line or the URL, for lists (never a header value)."""
        return self.url or "" if self.transport == HTTP else " ".join([self.command or "", *self.args])

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "transport": self.transport, "command": self.command,
                "args": list(self.args), "env": dict(self.env), "url": self.url, "headers": list(self.header_names),
                "enabled": self.enabled,
                "tools": [{"name": t.name, "description": t.description, "enabled": t.enabled,
                           "always_allow": t.always_allow} for t in self.tools]}


# --- checks -----------------------------------------------------------------------------------------
def _text(value: str, what: str) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise ToolsError(f"The {what} must be text without NUL characters.")
    if len(value) > TEXT_LIMIT:
        raise ToolsError(f"The {what} is too long (at most {TEXT_LIMIT:,} characters).")
    return value


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not SERVER_NAME.match(name):
        raise ToolsError(f"“{name}” cannot name a server: use 1-32 letters, digits, - or _, starting with a "
                         "letter or digit (it becomes part of each tool's name).")
    return name


def parse_pairs(items: Iterable[str], what: str) -> dict[str, str]:
    """K=V arguments (`--env`, `--header`) as a dict; ToolsError for one without `=` or a bad name."""
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = (item or "").partition("=")
        if not sep or not key.strip():
            raise ToolsError(f"{what} must be given as NAME=VALUE, not “{item}”.")
        pairs[key.strip()] = value
    return pairs


def _check_env(env: Mapping[str, str]) -> dict[str, str]:
    if len(env) > MAX_PAIRS:
        raise ToolsError(f"At most {MAX_PAIRS} environment variables.")
    for key, value in env.items():
        if not ENV_NAME.match(key):
            raise ToolsError(f"“{key}” is not an environment variable name.")
        _text(value, f"value of {key}")
    return dict(env)


def _check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    if len(headers) > MAX_PAIRS:
        raise ToolsError(f"At most {MAX_PAIRS} headers.")
    for key, value in headers.items():
        if not HEADER_NAME.match(key):
            raise ToolsError(f"“{key}” is not an HTTP header name.")
        if "\r" in value or "\n" in value:
            raise ToolsError(f"The value of the header {key} must be on one line.")
        _text(value, f"value of the header {key}")
    return dict(headers)


def check_url(url: str) -> str:
    url = _text((url or "").strip(), "URL")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ToolsError("The URL must start with http:// or https:// and name a host.")
    return url


# --- reading ----------------------------------------------------------------------------------------
def _config(row: McpServer, tools: list[McpTool]) -> ServerConfig:
    return ServerConfig(
        row.id, row.name, row.transport, row.command, tuple(str(a) for a in row.args or ()),
        {str(k): str(v) for k, v in (row.env or {}).items()}, row.url, tuple(str(h) for h in row.headers or ()),
        bool(row.enabled),
        tuple(ToolState(t.name, t.description or "", t.input_schema or None, bool(t.enabled), bool(t.always_allow))
              for t in sorted(tools, key=lambda t: t.name)))


def list_servers(db: LocalDatabase) -> list[ServerConfig]:
    """Every configured server with its known tools, by name."""
    with db.session() as session:
        rows = session.exec(select(McpServer).order_by(McpServer.name)).all()
        tools = session.exec(select(McpTool)).all()
    by_server: dict[str, list[McpTool]] = {}
    for tool in tools:
        by_server.setdefault(tool.server_id, []).append(tool)
    return [_config(row, by_server.get(row.id, [])) for row in rows]


def get_server(db: LocalDatabase, name: str) -> ServerConfig:
    for server in list_servers(db):
        if server.name == name:
            return server
    raise ToolsError(f"No tools server named {name}.")


def spec_of(server: ServerConfig, secrets=None) -> ServerSpec:
    """How the host reaches `server`: header values are read from the key store here (SecretsUnavailable
    when it is locked)."""
    headers = {}
    if server.header_names:
        if secrets is None:
            raise ToolsError(f"{server.name} needs its header values from the key store, which is not open.")
        headers = {h: secrets.get_secret(SECRET_SERVICE, _secret_name(server.id, h)) for h in server.header_names}
    return ServerSpec(server.name, server.transport, server.command, server.args, dict(server.env), server.url,
                      headers)


def _secret_name(server_id: str, header: str) -> str:
    return f"header:{server_id}:{header.lower()}"


# --- writing ----------------------------------------------------------------------------------------
def _insert(db: LocalDatabase, row: McpServer, after=None) -> ServerConfig:
    with db.write() as session:
        if session.exec(select(McpServer.id).where(McpServer.name == row.name)).first() is not None:
            raise ToolsError(f"A tools server named {row.name} already exists: remove it first or choose "
                             "another name.")
        session.add(row)
        session.flush()
        if after is not None:
            after()  # inside the transaction: if it fails, the row is not kept
    return _config(row, [])


def add_stdio_server(db: LocalDatabase, name: str, command: str, args: Iterable[str] = (),
                     env: Mapping[str, str] | None = None) -> ServerConfig:
    name = check_name(name)
    command = _text((command or "").strip(), "command")
    if not command:
        raise ToolsError("Give the command that starts the server (after --).")
    args = [_text(a, "argument") for a in args]
    if len(args) > MAX_ARGS:
        raise ToolsError(f"At most {MAX_ARGS} arguments.")
    row = McpServer(name=name, transport=STDIO, command=command, args=args, env=_check_env(env or {}),
                    created_at=utc_now())
    return _insert(db, row)


def add_http_server(db: LocalDatabase, name: str, url: str, headers: Mapping[str, str] | None = None,
                    secrets=None) -> ServerConfig:
    """Add a server reached over streamable HTTP. Header values go to `secrets` (the key store), in the
    same step as the row: if the store cannot keep them (locked, none chosen), nothing is added."""
    name, url, headers = check_name(name), check_url(url), _check_headers(headers or {})
    if headers and secrets is None:
        raise ToolsError("Header values are kept in the key store, which is not open.")
    row = McpServer(name=name, transport=HTTP, url=url, headers=sorted(headers), created_at=utc_now())

    def keep_secrets() -> None:
        for header, value in headers.items():
            secrets.set_secret(SECRET_SERVICE, _secret_name(row.id, header), value)

    return _insert(db, row, keep_secrets if headers else None)


def remove_server(db: LocalDatabase, name: str, secrets=None) -> ServerConfig:
    """Remove a server, its tools' flags and (when the key store is open) its header values."""
    server = get_server(db, name)
    with db.write() as session:
        row = session.get(McpServer, server.id)
        if row is not None:
            session.delete(row)
    if secrets is not None:
        for header in server.header_names:
            # a locked store keeps an orphan secret; the server is gone anyway
            with contextlib.suppress(Exception):
                secrets.delete_secret(SECRET_SERVICE, _secret_name(server.id, header))
    return server


def record_tools(db: LocalDatabase, name: str, tools: Iterable[ToolInfo]) -> ServerConfig:
    """The tools `name` listed now: new ones are added (enabled), known ones keep their flags and get the
    new description and schema, the ones it no longer lists are forgotten."""
    server = get_server(db, name)
    listed = {t.name: t for t in tools}
    with db.write() as session:
        known = {t.name: t for t in session.exec(select(McpTool).where(McpTool.server_id == server.id)).all()}
        for tool_name, row in known.items():
            if tool_name not in listed:
                session.delete(row)
        now = utc_now()
        for tool_name, info in listed.items():
            row = known.get(tool_name) or McpTool(server_id=server.id, name=tool_name)
            row.description, row.input_schema, row.seen_at = info.description, info.input_schema or {}, now
            session.add(row)
    return get_server(db, name)


def split_target(target: str) -> tuple[str, str | None]:
    """`NAME` or `NAME/TOOL` (a tool name may itself contain "/": only the first one splits)."""
    name, sep, tool = (target or "").partition("/")
    if sep and not tool:
        raise ToolsError(f"“{target}”: give a tool name after the /.")
    return name.strip(), (tool if sep else None)


def set_enabled(db: LocalDatabase, target: str, enabled: bool) -> ServerConfig:
    """Enable or disable a server (`NAME`) or one of its tools (`NAME/TOOL`)."""
    name, tool = split_target(target)
    server = get_server(db, name)
    with db.write() as session:
        if tool is None:
            row = session.get(McpServer, server.id)
            row.enabled = bool(enabled)
            session.add(row)
        else:
            row = session.get(McpTool, (server.id, tool))
            if row is None:
                raise ToolsError(f"{name} has no tool {tool} (known: "
                                 f"{', '.join(t.name for t in server.tools) or 'none yet: list them first'}).")
            row.enabled = bool(enabled)
            session.add(row)
    return get_server(db, name)


def set_always_allow(db: LocalDatabase, name: str, tool: str, allow: bool) -> None:
    """"Always for this tool": its calls run without asking (or ask again, with allow=False)."""
    server = get_server(db, name)
    with db.write() as session:
        row = session.get(McpTool, (server.id, tool))
        if row is None:
            raise ToolsError(f"{name} has no tool {tool}.")
        row.always_allow = bool(allow)
        session.add(row)
