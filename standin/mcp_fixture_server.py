"""A small MCP server of the suite's own, over stdio, built on the official SDK: the well-behaved tools
the client tests call, and every fault a real server can show.

    python -m standin.mcp_fixture_server [MODE]

MODE (default `serve`):
- serve             tools: echo, add, slow, big, fail, crash, noisy, env, and `read/file.v2` (a name
                    OpenAI would refuse as it is);
- crash-at-start    writes a reason on stderr and exits 3 before saying anything;
- hang-at-start     never answers (and ignores the end of its input);
- garbage           prints lines that are not JSON-RPC on stdout, then never answers;
- noise-then-serve  prints one line of garbage on stdout, then serves normally.

The fault modes exit or hang before importing the SDK, so they start in milliseconds. With
MCP_FIXTURE_PID_FILE set, the process writes its pid there first.
"""

from __future__ import annotations

import os
import sys
import time


def _faults(mode: str) -> None:
    if mode == "crash-at-start":
        print("fixture: cannot open its database, giving up", file=sys.stderr, flush=True)
        sys.exit(3)
    if mode == "hang-at-start":
        import signal

        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        while True:
            time.sleep(3600)
    if mode == "garbage":
        for line in ("Welcome to the fixture server!", "<html>not json</html>", "{broken json"):
            print(line, flush=True)
        while True:
            time.sleep(3600)
    if mode == "noise-then-serve":
        print("booting… (this line is not JSON-RPC)", flush=True)


def build():
    import anyio
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("mirari-fixture", version="1.0")

    @server.tool()
    def echo(text: str) -> str:
        """Return the text as given."""
        return text

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    async def slow(seconds: float) -> str:
        """Wait, then answer."""
        await anyio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool()
    def big(size: int) -> str:
        """A result of `size` characters."""
        return ("0123456789" * (size // 10 + 1))[:size]

    @server.tool()
    def fail(message: str) -> str:
        """Raise an error with this message."""
        raise ValueError(message)

    @server.tool()
    def crash() -> str:
        """Exit the process in the middle of the call."""
        os._exit(9)

    @server.tool()
    def noisy() -> str:
        """Print garbage on stdout, then answer."""
        os.write(1, b"garbage in the middle of the protocol\n")
        return "still here"

    @server.tool()
    def env(name: str) -> str:
        """The value of an environment variable ("" if unset)."""
        return os.environ.get(name, "")

    @server.tool(name="read/file.v2")
    def read_file(path: str) -> str:
        """A tool whose name OpenAI would refuse as it is."""
        return f"contents of {path}"

    return server


def main(argv: list[str]) -> int:
    mode = argv[0] if argv else "serve"
    pid_file = os.environ.get("MCP_FIXTURE_PID_FILE")
    if pid_file:  # tests check that the process is gone when its host is
        with open(pid_file, "w") as f:
            f.write(str(os.getpid()))
    _faults(mode)
    build().run("stdio")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
