"""The MCP server of `mirari mcp serve`: this device's memory for other apps, on the official SDK.

Tools (read-only mode offers the first, second and fourth only; a call of `add_fact` is then an unknown
tool):
- `search_memory(query, limit)`: facts holding every word of the query, strongest first;
- `strongest_facts(limit)`: what MIRARI would put in its own prompts first;
- `add_fact(fact, category)`: through the Atlas's no-duplicates rule, source `mcp:<app>`;
- `search_conversations(query, limit)`: past Console messages (full-text).
Paused facts are never served (agent.mcp_server.service). Every call is logged with the app's name as its
MCP client introduced itself (agent.mcp_server.access). Database work runs on a worker thread, never on
the server's event loop. (This module imports the SDK: import it only to serve.)

Over HTTP the app is served on 127.0.0.1 only, behind a bearer token (agent.mcp_server.token): a request
without `Authorization: Bearer <token>` gets 401 and touches nothing.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer  # module level: the SDK reads the tools' annotations
from mcp.server.mcpserver.exceptions import ToolError

from agent.mcp_server import service
from agent.mcp_server.access import READ, WRITE, log_access
from local_schema.database import LocalDatabase

SERVER_NAME = "mirari-memory"
INSTRUCTIONS = ("MIRARI's memory of its user: search it and list the strongest facts before you answer "
                "questions about the user's preferences, goals and past conversations; add a fact when the "
                "user tells you something worth remembering across apps.")


def app_name(ctx: Any) -> str:
    """The name the MCP client gave (initialize's clientInfo), or "unknown app"."""
    try:
        params = ctx.request_context.session.client_params
        info = getattr(params, "client_info", None)
        name = getattr(info, "name", None)
    except (AttributeError, ValueError):
        name = None
    return " ".join(str(name or "").split())[:100] or "unknown app"


def build_server(db: LocalDatabase, *, read_only: bool = False, version: str = "") -> MCPServer:
    server = MCPServer(SERVER_NAME, version=version or "0", instructions=INSTRUCTIONS, log_level="WARNING")

    async def run(fn, *args):
        return await anyio.to_thread.run_sync(fn, *args)

    @server.tool()
    async def search_memory(query: str, ctx: Context, limit: int = 10) -> dict:
        """Search what MIRARI remembers about the user: facts holding every word of the query."""
        app = app_name(ctx)
        facts = await run(service.search_memory, db, query, limit)
        await run(lambda: log_access(db, app, READ, "search_memory", [f["id"] for f in facts], query))
        return {"facts": facts}

    @server.tool()
    async def strongest_facts(ctx: Context, limit: int = 20) -> dict:
        """The facts MIRARI holds strongest about the user (its own prompts start with these)."""
        app = app_name(ctx)
        facts = await run(service.strongest_facts, db, limit)
        await run(lambda: log_access(db, app, READ, "strongest_facts", [f["id"] for f in facts], f"limit {limit}"))
        return {"facts": facts}

    if not read_only:
        @server.tool()
        async def add_fact(fact: str, ctx: Context, category: str = "fact") -> dict:
            """Remember a fact about the user (one short sentence). A fact already known is reinforced."""
            app = app_name(ctx)
            try:
                result = await run(service.add_fact, db, app, fact, category)
            except service.AtlasError as exc:  # the app reads why (an empty or over-long fact); nothing written
                raise ToolError(str(exc)) from None
            ids = [result["id"]] if result.get("id") else []
            await run(lambda: log_access(db, app, WRITE, "add_fact", ids, fact))
            return result

    @server.tool()
    async def search_conversations(query: str, ctx: Context, limit: int = 10) -> dict:
        """Search the user's past conversations with MIRARI (full text): matching messages with a snippet."""
        app = app_name(ctx)
        hits = await run(service.search_conversations, db, query, limit)
        await run(lambda: log_access(db, app, READ, "search_conversations", (), query))
        return {"messages": hits}

    return server


def run_stdio(db: LocalDatabase, *, read_only: bool = False, version: str = "") -> None:
    build_server(db, read_only=read_only, version=version).run("stdio")


class BearerAuth:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`."""

    def __init__(self, app, token: str) -> None:
        self.app, self._expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = json.dumps({"error": "unauthorized: send Authorization: Bearer <token> "
                                            "(shown by `mirari mcp token`)"}).encode()
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def http_app(db: LocalDatabase, token: str, *, read_only: bool = False, version: str = ""):
    server = build_server(db, read_only=read_only, version=version)
    return BearerAuth(server.streamable_http_app(host="127.0.0.1"), token)


def run_http(db: LocalDatabase, port: int, token: str, *, read_only: bool = False, version: str = "",
             on_ready=None) -> None:
    import uvicorn

    config = uvicorn.Config(http_app(db, token, read_only=read_only, version=version), host="127.0.0.1",
                            port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    if on_ready is not None:
        original = server.startup

        async def startup(sockets=None):
            await original(sockets)
            on_ready(server.servers[0].sockets[0].getsockname()[1] if server.servers else port)

        server.startup = startup
    server.run()
