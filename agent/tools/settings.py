"""How many rounds of tool calls one chat turn may make: `tools.max_rounds` in config.json (the data dir),
shared by the window and `mirari chat`; every other section of the file is kept when it is saved."""

from __future__ import annotations

import json
from pathlib import Path

from agent.atomic import atomic_write
from agent.tools.config import ToolsError
from agent.tools.loop import DEFAULT_MAX_ROUNDS

CONFIG_FILE = "config.json"
ROUNDS_RANGE = (1, 50)


def load_max_rounds(data_dir) -> int:
    """`tools.max_rounds`, or DEFAULT_MAX_ROUNDS when unset, unreadable or out of range."""
    try:
        data = json.loads((Path(data_dir) / CONFIG_FILE).read_text(encoding="utf-8"))
        value = data["tools"]["max_rounds"]
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_MAX_ROUNDS
    if isinstance(value, bool) or not isinstance(value, int) or not ROUNDS_RANGE[0] <= value <= ROUNDS_RANGE[1]:
        return DEFAULT_MAX_ROUNDS
    return value


def check_rounds(value) -> int:
    try:
        rounds = int(str(value).strip())
    except ValueError:
        raise ToolsError(f"The number of tool rounds must be a whole number, not {value!r}.") from None
    if not ROUNDS_RANGE[0] <= rounds <= ROUNDS_RANGE[1]:
        raise ToolsError(f"The number of tool rounds must be between {ROUNDS_RANGE[0]} and {ROUNDS_RANGE[1]}, "
                         f"not {rounds}.")
    return rounds


def save_max_rounds(data_dir, value) -> int:
    rounds = check_rounds(value)
    path = Path(data_dir) / CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError) as exc:
        raise ToolsError(f"Cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ToolsError(f"{path} does not contain a JSON object; fix or remove it.")
    section = data.get("tools") if isinstance(data.get("tools"), dict) else {}
    data["tools"] = {**section, "max_rounds": rounds}
    atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
    return rounds
