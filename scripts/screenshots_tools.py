#!/usr/bin/env python3
"""Screenshots of tools (issue 22): the Tools page with a running server and a tested tool, and the Memory
Atlas with a paused fact and the access log of apps that used a fact through `mirari mcp serve`.

Everything is real: the suite's own MCP server started by the page, the official SDK client driving
`mirari mcp serve` as "Claude Desktop" and "Cursor" before the window opens.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_tools.py

Pictures land in docs/screenshots/ (tools-*.png, memory-access-*.png).
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
OUT = ROOT / "docs" / "screenshots"
SIZE = (1280, 800)

from scripts.screenshots_sync import pump, wait  # noqa: E402


def apps_use_the_memory(data_dir: Path) -> None:
    """Two apps talk to `mirari mcp serve` with the SDK's client, as they would from their own config."""
    import anyio
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client
    from mcp_types import Implementation

    params = StdioServerParameters(command=sys.executable, env={"PYTHONPATH": str(ROOT)},
                                   args=["-m", "mirari", "--data-dir", str(data_dir), "mcp", "serve"])

    async def as_app(name: str, calls) -> None:
        async with Client(stdio_client(params), client_info=Implementation(name=name, version="1")) as client:
            for tool, arguments in calls:
                await client.call_tool(tool, arguments)

    anyio.run(as_app, "Claude Desktop", [("search_memory", {"query": "tea"}), ("strongest_facts", {"limit": 5})])
    anyio.run(as_app, "Cursor", [("add_fact", {"fact": "Writes Python with type hints", "category": "style"}),
                                 ("search_memory", {"query": "green tea"})])


def main() -> int:
    import keyring

    from agent.memory.atlas import add_node, set_paused
    from desktop import theme
    from desktop.app import build_window, ensure_app
    from local_schema.database import open_database
    from standin.keyrings import MemoryKeyring
    from sync.accounts import active_database_path
    from sync.secrets import SecretStore

    keyring.set_keyring(MemoryKeyring())
    OUT.mkdir(parents=True, exist_ok=True)
    app = ensure_app()
    with tempfile.TemporaryDirectory(prefix="mirari-tools-") as tmp:
        data_dir = Path(tmp) / "data"
        db = open_database(active_database_path(data_dir))
        tea = add_node(db, "Prefers green tea over coffee", "preference", 0.9).node.id
        add_node(db, "Drinks tea without sugar", "preference", 0.7)
        add_node(db, "Works from Lisbon", "fact", 0.85)
        allergy = add_node(db, "Has a mild nut allergy", "fact", 0.95).node.id
        set_paused(db, allergy, True)
        db.close()
        apps_use_the_memory(data_dir)

        window = build_window(data_dir, secrets=SecretStore(data_dir, backend=keyring.get_keyring()))
        window.resize(*SIZE)
        window.show()
        wait(app, lambda: bool(window.pages), what="the window")
        page = window.show_page("tools")
        page.open_add()
        dialog = page.dialog
        dialog.name.setText("notes")
        dialog.command.setText(f"{shlex.quote(sys.executable)} -m standin.mcp_fixture_server")
        dialog.env.setPlainText(f"PYTHONPATH={ROOT}")
        for mode in ("light",):
            theme.apply_theme(app, mode)
            pump(app, 0.3)
            dialog.grab().save(str(OUT / f"tools-add-{mode}.png"))
        started = []
        page.server_started.connect(started.append)
        dialog.save()
        wait(app, lambda: started, timeout=60, what="the server")
        pump(app, 0.5)
        page.tester.tool.setCurrentText("add")
        page.tester.arguments.setPlainText('{\n  "a": 20,\n  "b": 22\n}')
        ran = []
        page.tester.ran.connect(ran.append)
        page.tester.run()
        wait(app, lambda: ran, what="the tool")
        for mode in ("light", "dark"):
            theme.apply_theme(app, mode)
            pump(app, 0.4)
            window.grab().save(str(OUT / f"tools-{mode}.png"))

        atlas = window.show_page("memory")
        loaded = []
        atlas.loaded.connect(lambda: loaded.append(1))
        atlas.refresh()
        wait(app, lambda: loaded, what="the Atlas")
        shown = []
        atlas.access_loaded.connect(shown.append)
        atlas.select(tea)
        wait(app, lambda: shown, what="the access log")
        for mode in ("light", "dark"):
            theme.apply_theme(app, mode)
            pump(app, 0.4)
            window.grab().save(str(OUT / f"memory-access-{mode}.png"))
        theme.apply_theme(app, "light")
        window.close()
        pump(app, 0.5)
        window.ctx.close_data()
    print("saved to", OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
