"""`ToolHost`: MCP servers behind a synchronous API, on one asyncio event loop of its own.

The official MCP SDK (`mcp`) is asyncio; the window's workers and the command line are threads. A host
owns one event loop on a background thread; every method below blocks the calling thread (never the
loop) until its answer is there, so any worker may call it:

    host = ToolHost()
    status = host.connect(ServerSpec("files", "stdio", command="node", args=("server.js", "/tmp")))
    result = host.call("files", "read_file", {"path": "/tmp/a"}, timeout=30, cancel=token)
    host.close()   # every server stopped; also run at interpreter exit

Each connected server lives in one task that holds the SDK's `Client` open (anyio's cancel scopes must be
left by the task that entered them) and is stopped by cancelling that task's own scope, so the SDK's
shutdown — close stdin, wait, then kill the process group — always runs. What can go wrong is said in one
sentence (`ToolError`): a command that does not exist, a server that exits before it is ready (with the
last lines it wrote on stderr), one that does not answer within the start time (and whether it printed
something that is not MCP on stdout), a call over its time limit (the call is cancelled, the server kept),
a server that died during a call. Results are bounded (agent.tools.results).

A server process never outlives the app: a normal exit closes the host (atexit), and on Linux every stdio
server is started under `setpriv --pdeathsig KILL`, so the kernel kills it when the host's thread dies —
also when the app is killed. Windows: the SDK puts each server in a job object that is closed (killing
the server) when the app exits. macOS has no parent-death signal: a killed app closes the server's stdin,
which ends every well-behaved server; one that ignores it is left running (docs/tools.md).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.llm.client import CancelToken
from agent.tools.results import RESULT_LIMIT, ToolInfo, ToolResult, result_from_mcp, tool_from_mcp

log = logging.getLogger(__name__)

STOPPED, STARTING, READY, FAILED = "stopped", "starting", "ready", "failed"
START_TIMEOUT = 30.0  # seconds for a server to start and list its tools (npx may download first)
CALL_TIMEOUT = 60.0  # seconds for one call, unless the caller says otherwise
MAX_TOOLS = 200  # tools kept from one server's listing
TOOL_NAME_LIMIT = 256
_STDERR_TAIL = 600  # characters of a failed server's stderr quoted in its error


class ToolError(Exception):
    """A server or a call that failed; str() is one sentence for the user. `kind` for callers."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# kinds of ToolError
NOT_FOUND, START_FAILED, TIMEOUT, CANCELLED, CALL_FAILED, NOT_CONNECTED = (
    "not_found", "start_failed", "timeout", "cancelled", "call_failed", "not_connected")


@dataclass(frozen=True)
class ServerSpec:
    """How to reach one server. Header values are the secrets themselves (from the key store)."""

    name: str
    transport: str  # stdio | http
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never show header values
        where = self.url if self.transport == "http" else " ".join([self.command or "", *self.args])
        return f"ServerSpec({self.name!r}, {self.transport}, {where!r})"


@dataclass(frozen=True)
class ServerStatus:
    name: str
    state: str  # stopped | starting | ready | failed
    error: str | None = None
    tools: tuple[ToolInfo, ...] = ()
    server_info: str | None = None  # "name version" as the server introduced itself


class _Server:
    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.state = STARTING
        self.error: str | None = None
        self.tools: tuple[ToolInfo, ...] = ()
        self.server_info: str | None = None
        self.client: Any = None
        self.scope: Any = None  # the anyio CancelScope of the task holding the connection
        self.task: asyncio.Task | None = None
        self.garbage: list[str] = []  # lines of its stdout that were not MCP
        # the server's stderr: a real file (the SDK hands it to the process), closed by ToolHost.disconnect
        self.stderr = (tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")  # noqa: SIM115
                       if spec.transport == "stdio" else None)

    def status(self) -> ServerStatus:
        return ServerStatus(self.spec.name, self.state, self.error, self.tools, self.server_info)

    def stderr_size(self) -> int:
        if self.stderr is None:
            return 0
        try:
            self.stderr.flush()
            return self.stderr.seek(0, os.SEEK_END)
        except (OSError, ValueError):
            return 0

    def stderr_tail(self, since: int = 0) -> str:
        """The last few lines the server wrote on stderr (after position `since`), on one line."""
        if self.stderr is None:
            return ""
        try:
            size = self.stderr_size()
            self.stderr.seek(max(since, size - 8 * _STDERR_TAIL))
            text = self.stderr.read()
        except (OSError, ValueError):
            return ""
        lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()][-3:]
        return " / ".join(lines)[-_STDERR_TAIL:]


class _Watched:
    """The SDK's read stream, passing everything on and noting what was not MCP (a parse error in place
    of a message), so a server that prints garbage can be named as such."""

    def __init__(self, stream: Any, server: _Server) -> None:
        self._stream, self._server = stream, server

    def _note(self, item: Any) -> Any:
        if isinstance(item, Exception) and len(self._server.garbage) < 5:
            text = str(getattr(item, "json_input", "") or "")
            if not text:
                errors = getattr(item, "errors", None)
                with contextlib.suppress(Exception):
                    text = str(errors()[0].get("input", "")) if callable(errors) else ""
            self._server.garbage.append(" ".join((text or str(item)).split())[:200])
        return item

    async def receive(self) -> Any:
        return self._note(await self._stream.receive())

    async def aclose(self) -> None:
        await self._stream.aclose()

    def __aiter__(self) -> _Watched:
        return self

    async def __anext__(self) -> Any:
        return self._note(await self._stream.__anext__())

    async def __aenter__(self) -> _Watched:
        await self._stream.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._stream.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _GarbageLogFilter(logging.Filter):
    """The SDK logs a traceback for every stdout line that is not JSON-RPC; the host reports it itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Failed to parse JSONRPC message" not in record.getMessage()


_SDK_LOG = logging.getLogger("mcp.client.stdio")
if not any(isinstance(f, _GarbageLogFilter) for f in _SDK_LOG.filters):
    _SDK_LOG.addFilter(_GarbageLogFilter())


def stdio_command(command: str, args: tuple[str, ...], env: Mapping[str, str]) -> tuple[str, list[str]]:
    """The program and arguments that start a stdio server: its own, checked to exist first, and on Linux
    behind `setpriv --pdeathsig KILL` so it dies with the host's thread."""
    path = env.get("PATH") or os.environ.get("PATH")
    found = shutil.which(command, path=path) if os.sep not in command else (command if os.path.exists(command) else None)
    if found is None:
        raise ToolError(NOT_FOUND, f"Command not found: {command}")
    guard = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if guard:
        return guard, ["--pdeathsig", "KILL", "--", found, *args]
    return found, list(args)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


class ToolHost:
    def __init__(self, *, client_name: str = "MIRARI", client_version: str = "",
                 start_timeout: float = START_TIMEOUT, call_timeout: float = CALL_TIMEOUT,
                 result_limit: int = RESULT_LIMIT) -> None:
        self.client_name, self.client_version = client_name, client_version
        self.start_timeout, self.call_timeout, self.result_limit = start_timeout, call_timeout, result_limit
        self._servers: dict[str, _Server] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="mcp-tools", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def __repr__(self) -> str:
        return f"ToolHost({sorted(self._servers)})"

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _submit(self, coro) -> concurrent.futures.Future:
        if self._closed:
            coro.close()
            raise ToolError(NOT_CONNECTED, "The tools are shut down.")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    # -- servers ---------------------------------------------------------------------------------
    def connect(self, spec: ServerSpec, timeout: float | None = None) -> ServerStatus:
        """Start (stdio) or reach (http) a server and list its tools; blocks until it is ready. A server of
        that name already connected with the same spec is kept; with another spec it is restarted.
        Raises ToolError (nothing is kept of a server that failed, but its status says why)."""
        with self._lock:
            current = self._servers.get(spec.name)
        if current is not None:
            if current.spec == spec and current.state == READY:
                return current.status()
            self.disconnect(spec.name)
        server = _Server(spec)
        with self._lock:
            self._servers[spec.name] = server
        limit = self.start_timeout if timeout is None else timeout
        future = self._submit(self._start(server, limit))
        try:
            future.result()
        except ToolError as err:
            server.state, server.error = FAILED, str(err)
            raise
        return server.status()

    def status(self, name: str) -> ServerStatus:
        with self._lock:
            server = self._servers.get(name)
        return server.status() if server is not None else ServerStatus(name, STOPPED)

    def statuses(self) -> list[ServerStatus]:
        with self._lock:
            servers = list(self._servers.values())
        return [s.status() for s in servers]

    def tools(self, name: str) -> tuple[ToolInfo, ...]:
        return self.status(name).tools

    def disconnect(self, name: str) -> None:
        """Stop a server (its process too); waits until it is gone (bounded by the SDK's shutdown)."""
        with self._lock:
            server = self._servers.pop(name, None)
        if server is not None and not self._closed:
            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
                self._submit(self._stop(server)).result(timeout=15)
        if server is not None and server.stderr is not None:
            server.stderr.close()

    def close(self) -> None:
        """Stop every server, then the loop. Idempotent; safe at interpreter exit."""
        if self._closed:
            return
        with self._lock:
            names = list(self._servers)
        for name in names:
            self.disconnect(name)
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)

    # -- calls -----------------------------------------------------------------------------------
    def call(self, name: str, tool: str, arguments: dict | None = None, *, timeout: float | None = None,
             cancel: CancelToken | None = None) -> ToolResult:
        """Run one tool. A result the tool marks as an error comes back with is_error=True; ToolError
        when the call could not be made or finished: not connected, over `timeout` (cancelled, the server
        kept), cancelled through `cancel`, or the server failed during the call (it is then stopped)."""
        with self._lock:
            server = self._servers.get(name)
        if server is None or server.state != READY or server.client is None:
            raise ToolError(NOT_CONNECTED, f"The server {name} is not running"
                                           + (f": {server.error}" if server and server.error else "."))
        limit = self.call_timeout if timeout is None else timeout
        holder: dict[str, Any] = {}
        future = self._submit(self._call(server, tool, arguments or {}, limit, holder))
        while True:
            try:
                return future.result(timeout=0.05)
            except concurrent.futures.TimeoutError:
                if cancel is not None and cancel.cancelled:
                    scope = holder.get("scope")
                    if scope is not None:
                        self._loop.call_soon_threadsafe(scope.cancel)
                    else:  # not started on the loop yet: it never will be
                        future.cancel()
                    with contextlib.suppress(Exception):
                        future.result(timeout=5)
                    raise ToolError(CANCELLED, f"The call to {tool} was cancelled.") from None

    # -- on the loop -----------------------------------------------------------------------------
    async def _start(self, server: _Server, limit: float) -> None:
        ready = self._loop.create_future()
        ready.add_done_callback(lambda f: f.cancelled() or f.exception())  # read, even once nobody waits
        server.task = self._loop.create_task(self._serve(server, ready))
        try:
            await asyncio.wait_for(asyncio.shield(ready), limit)
        except TimeoutError:
            await self._stop(server)
            raise ToolError(TIMEOUT, self._not_ready(server, f"did not answer within {limit:g} seconds")) from None

    async def _stop(self, server: _Server) -> None:
        if server.scope is not None:
            server.scope.cancel()
        if server.task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(server.task), 12)
        if server.state in (READY, STARTING):
            server.state = STOPPED
        server.client = None

    def _not_ready(self, server: _Server, what: str, since: int = 0) -> str:
        text = f"{server.spec.name} {what}"
        if server.garbage:
            text += f"; it printed something that is not MCP on its standard output: «{server.garbage[0]}»"
        tail = server.stderr_tail(since)
        if tail:
            text += f". Its last words on stderr: «{tail}»"
        return text.rstrip(".") + "."

    def _transport(self, server: _Server):
        spec = server.spec

        @contextlib.asynccontextmanager
        async def transport():
            if spec.transport == "stdio":
                from mcp.client.stdio import StdioServerParameters, stdio_client

                command, args = stdio_command(spec.command or "", tuple(spec.args), spec.env)
                params = StdioServerParameters(command=command, args=args, env=dict(spec.env),
                                               encoding_error_handler="replace")
                async with stdio_client(params, errlog=server.stderr) as (read, write):
                    yield _Watched(read, server), write
            else:
                import httpx2
                from mcp.client.streamable_http import streamable_http_client

                async with httpx2.AsyncClient(headers=dict(spec.headers),
                                              timeout=httpx2.Timeout(30, read=300)) as http, \
                        streamable_http_client(spec.url or "", http_client=http) as (read, write):
                    yield _Watched(read, server), write

        return transport()

    async def _serve(self, server: _Server, ready: asyncio.Future) -> None:
        import anyio
        from mcp import Client
        from mcp_types import Implementation

        try:
            with anyio.CancelScope() as scope:
                server.scope = scope
                info = Implementation(name=self.client_name, version=self.client_version or "0")
                async with Client(self._transport(server), client_info=info) as client:
                    tools = []
                    cursor = None
                    for _page in range(20):
                        listing = await client.list_tools(cursor=cursor)
                        tools.extend(info for info in map(tool_from_mcp, listing.tools)
                                     if 0 < len(info.name) <= TOOL_NAME_LIMIT)  # a name no call could use: left out
                        cursor = listing.next_cursor
                        if not cursor or len(tools) >= MAX_TOOLS:
                            break
                    described = client.server_info
                    server.server_info = (" ".join(f"{described.name} {described.version}".split())[:200]
                                          if described is not None else None)
                    server.tools = tuple(tools[:MAX_TOOLS])
                    server.client, server.state = client, READY
                    if not ready.done():
                        ready.set_result(None)
                    await anyio.sleep_forever()
        except ToolError as err:
            server.state, server.error = FAILED, str(err)
            if not ready.done():
                ready.set_exception(err)
        except BaseException as exc:  # noqa: BLE001 - whatever the SDK raised: one sentence, never a traceback
            if isinstance(exc, asyncio.CancelledError) and ready.done():
                raise
            message = self._describe_failure(server, exc)
            log.info("MCP server %s failed: %s", server.spec.name, message)
            server.state, server.error = FAILED, message
            if not ready.done():
                ready.set_exception(ToolError(START_FAILED, message))
        finally:
            server.client = None
            if not ready.done():
                ready.set_exception(ToolError(START_FAILED, f"{server.spec.name} stopped before it was ready."))

    def _describe_failure(self, server: _Server, exc: BaseException) -> str:
        leaves = _leaves(exc)
        for leaf in leaves:
            if isinstance(leaf, ToolError):
                return str(leaf)
            if isinstance(leaf, OSError) and not isinstance(leaf, ConnectionError):
                return f"{server.spec.name} could not be started: {leaf.strerror or leaf}."
        first = leaves[0] if leaves else exc
        text = " ".join(str(first).split())[:300] or type(first).__name__
        if server.spec.transport == "http":
            return f"{server.spec.name} could not be reached at {server.spec.url}: {text}."
        if "closed" in text.lower():
            return self._not_ready(server, "stopped before it was ready (it exited or closed its output)")
        return self._not_ready(server, f"failed: {text}")

    async def _call(self, server: _Server, tool: str, arguments: dict, limit: float,
                    holder: dict[str, Any]) -> ToolResult:
        import anyio
        from mcp.shared.exceptions import MCPError

        client = server.client
        if client is None:
            raise ToolError(NOT_CONNECTED, f"The server {server.spec.name} is not running.")
        started, mark = time.monotonic(), server.stderr_size()
        with anyio.CancelScope() as scope:
            holder["scope"] = scope
            try:
                with anyio.fail_after(limit):
                    result = await client.call_tool(tool, arguments)
            except TimeoutError:
                raise ToolError(TIMEOUT, f"{tool} did not answer within {limit:g} seconds; the call was "
                                         "cancelled.") from None
            except MCPError as err:
                text = " ".join(str(err.error.message).split())[:300]
                if "closed" in text.lower():
                    server.state = FAILED
                    server.error = self._not_ready(server, "stopped during a call", mark)
                    with contextlib.suppress(Exception):
                        server.scope.cancel()
                    raise ToolError(CALL_FAILED, server.error) from None
                raise ToolError(CALL_FAILED, f"{tool} failed: {text}.") from None
            except Exception as err:  # noqa: BLE001 - a malformed result, a transport error: one sentence
                raise ToolError(CALL_FAILED, f"{tool} failed: {type(err).__name__}: "
                                             f"{' '.join(str(err).split())[:300]}.") from None
        if scope.cancelled_caught:
            raise ToolError(CANCELLED, f"The call to {tool} was cancelled.")
        log.debug("MCP call %s/%s took %.3f s", server.spec.name, tool, time.monotonic() - started)
        return result_from_mcp(result, self.result_limit)
