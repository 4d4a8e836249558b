"""How many rounds of tool calls one chat turn may make: `tools.max_rounds` in config.json (the data dir),
shared by the window and `mirari chat`; read and written through sync/settings.py, which keeps the other
sections."""

from __future__ import annotations

from agent.tools.config import ToolsError
from agent.tools.loop import DEFAULT_MAX_ROUNDS

SECTION = "tools"
ROUNDS_RANGE = (1, 50)


def load_max_rounds(data_dir) -> int:
    """`tools.max_rounds`, or DEFAULT_MAX_ROUNDS when unset, unreadable or out of range."""
    from sync.errors import ConfigError
    from sync.settings import read_section

    try:
        value = read_section(data_dir, SECTION)["max_rounds"]
    except (ConfigError, KeyError):
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
    from sync.errors import ConfigError
    from sync.settings import update_section

    rounds = check_rounds(value)
    try:
        update_section(data_dir, SECTION, lambda section: {**section, "max_rounds": rounds})
    except ConfigError as exc:
        raise ToolsError(str(exc)) from None
    return rounds
