#!/usr/bin/env python3
"""Screenshots of tools (issue 22): the Tools page with a running server and a tested tool, the Memory
Atlas with a paused fact and the access log of apps that used a fact through `mirari mcp serve`, and a
Console turn waiting on the approval card of a tool call (the fake OpenAI endpoint streams the calls).

Everything is real: the suite's own MCP server started by the page, the official SDK client driving
`mirari mcp serve` as "Claude Desktop" and "Cursor" before the window opens.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_tools.py

Pictures land in docs/screenshots/ (tools-*.png, memory-access-*.png, console-tool-approval-*.png,
console-tool-result-*.png).
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


def console_turn_with_approval(app, window) -> None:
    """A finished turn that called `add` (always allowed), then a turn waiting for Allow on `echo`."""
    import json

    from agent.tools.config import set_always_allow
    from desktop import theme
    from standin.demo.seed import add_connection
    from standin.model import FakeLLM, Reply

    def call(i, name, arguments):
        return {"id": f"call_{i}", "name": name, "arguments": json.dumps(arguments)}

    fake = FakeLLM().start()
    try:
        db = window.ctx.db
        add_connection(db, "Hermes (local)", fake.base_url, "hermes-3-8b")
        set_always_allow(db, "notes", "add", True)
        console = window.show_page("console")
        console.refresh_connections()
        wait(app, lambda: console.current_connection_id() is not None, what="the connection")
        finished = []
        console.turns.turn_finished.connect(finished.append)
        fake.enqueue(Reply(text="Let me add them.", tool_calls=[call(1, "notes__add", {"a": 20, "b": 22})]),
                     Reply(text="20 + 22 is **42**."))
        console.composer.setPlainText("What is 20 + 22?")
        console.send()
        wait(app, lambda: finished, timeout=60, what="the first turn")
        fake.enqueue(Reply(text="I will read it back to you.", tool_calls=[
            call(2, "notes__echo", {"text": "Shopping: green tea, oat milk, <b>lemons</b>"})]),
            Reply(text="Your list: green tea, oat milk and lemons."))
        console.composer.setPlainText("Read my shopping note back to me")
        console.send()
        wait(app, lambda: console.tools.panel.cards(), timeout=60, what="the approval card")
        for mode in ("light", "dark"):
            theme.apply_theme(app, mode)
            pump(app, 0.4)
            window.grab().save(str(OUT / f"console-tool-approval-{mode}.png"))
        console.tools.panel.cards()[0].allow_button.click()
        wait(app, lambda: len(finished) == 2, timeout=60, what="the second turn")
        pump(app, 0.5)
        for mode in ("light",):
            theme.apply_theme(app, mode)
            pump(app, 0.4)
            window.grab().save(str(OUT / f"console-tool-result-{mode}.png"))
    finally:
        fake.stop()


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
        console_turn_with_approval(app, window)
        theme.apply_theme(app, "light")
        window.close()
        pump(app, 0.5)
        window.ctx.close_data()
    print("saved to", OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
