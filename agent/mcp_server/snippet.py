"""The exact command line that starts this install's MCP server, and the JSON to paste into an app.

Claude Desktop (`claude_desktop_config.json`), Cursor (`~/.cursor/mcp.json`) and most MCP apps read the
same shape: {"mcpServers": {"mirari": {"command": …, "args": […]}}}. The command is this install's own:
the frozen app itself, else the `mirari` script beside this Python, else this Python running the source
tree (with PYTHONPATH naming it). The data dir is always named, so the app serves the same memory the
window shows.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

SERVER_KEY = "mirari"


def launch_command(data_dir: str | Path) -> tuple[str, list[str], dict[str, str]]:
    """(command, args, env) that run `mirari --data-dir DATA_DIR mcp serve` with this install."""
    tail = ["--data-dir", str(Path(data_dir).resolve()), "mcp", "serve"]
    if getattr(sys, "frozen", False):
        return sys.executable, tail, {}
    scripts = Path(sys.executable).parent
    for name in ("mirari.exe", "mirari") if os.name == "nt" else ("mirari",):
        script = scripts / name
        if script.is_file():
            return str(script), tail, {}
    root = Path(__file__).resolve().parents[2]
    return sys.executable, ["-m", "mirari", *tail], {"PYTHONPATH": str(root)}


def config_snippet(data_dir: str | Path) -> str:
    command, args, env = launch_command(data_dir)
    entry: dict = {"command": command, "args": args}
    if env:
        entry["env"] = env
    return json.dumps({"mcpServers": {SERVER_KEY: entry}}, indent=2, ensure_ascii=False)
