"""The window's one ToolHost (agent.tools.host): made when a page first needs it, closed with the pages.

Kept in `ctx.extras` so the Tools page today, and the Console's turns later, share one event loop and
one set of running servers. `close_tool_host` runs when the pages are torn down (window closed, account
switched): every server process stops with them. Closing waits for the servers' shutdown, so it runs off
the UI thread when it can (a server slow to stop must not freeze the window).
"""

from __future__ import annotations

import threading

KEY = "tool_host"
_making = threading.Lock()


def tool_host(ctx):
    """The window's ToolHost, created on first use (a thread and an event loop; the first call imports the
    MCP client, so a chat turn makes it on its worker thread, never on the UI thread). Any thread."""
    with _making:
        host = ctx.extras.get(KEY)
        if host is None:
            from agent.cli.main import app_version
            from agent.tools.host import ToolHost

            host = ctx.extras[KEY] = ToolHost(client_version=app_version())
        return host


def close_tool_host(ctx, wait: bool = False) -> None:
    """Stop every server of the window's host (in the background unless `wait`)."""
    host = ctx.extras.pop(KEY, None)
    if host is None:
        return
    if wait:
        host.close()
    else:
        threading.Thread(target=host.close, name="mcp-tools-close", daemon=False).start()
