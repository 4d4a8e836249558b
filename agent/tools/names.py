"""OpenAI function names for MCP tools: unique per server, within OpenAI's rule, and mapped back.

OpenAI accepts a function name of 1-64 characters from [a-zA-Z0-9_-]. Tools of different servers may share a
name (two servers both offer `search`), and an MCP tool name may hold any character (`files/read`, `café`).
So each tool is offered as `<server>__<tool>`, both parts sanitised (any other character becomes `_`); a
name over 64 characters is cut and ends with a short hash of the full name, and a clash after sanitising
(`a.b` and `a_b` on one server) is told apart the same way. `ToolNames` maps the offered name back to the
(server, tool) pair: the model never names a tool we did not offer and get it run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

NAME_LIMIT = 64
SEPARATOR = "__"
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_BAD = re.compile(r"[^a-zA-Z0-9_-]")


def is_valid(name: str) -> bool:
    return bool(_NAME.match(name or ""))


def sanitise(text: str) -> str:
    """`text` with every character outside OpenAI's alphabet replaced by `_` ("_" when empty)."""
    return _BAD.sub("_", text or "") or "_"


def _hashed(full: str, limit: int = NAME_LIMIT) -> str:
    digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:8]
    return f"{sanitise(full)[: limit - 9]}_{digest}"


def openai_name(server: str, tool: str) -> str:
    """The name offered to the model for `tool` of `server` (before clashes are resolved)."""
    name = f"{sanitise(server)}{SEPARATOR}{sanitise(tool)}"
    return name if len(name) <= NAME_LIMIT else _hashed(f"{server}{SEPARATOR}{tool}")


class ToolNames:
    """The offered names of a set of (server, tool) pairs, unique, and the way back."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._to_pair: dict[str, tuple[str, str]] = {}
        self._to_name: dict[tuple[str, str], str] = {}
        # Names that need no change first, so a sanitised name never takes the plain name of another tool.
        for server, tool in sorted(set(pairs), key=lambda p: (openai_name(*p) != f"{p[0]}{SEPARATOR}{p[1]}", p)):
            name = openai_name(server, tool)
            if name in self._to_pair:  # a clash after sanitising: the hash of the exact pair tells them apart
                name = _hashed(f"{server}{SEPARATOR}{tool}")
            self._to_pair[name] = (server, tool)
            self._to_name[(server, tool)] = name

    def name(self, server: str, tool: str) -> str:
        return self._to_name[(server, tool)]

    def pair(self, name: str) -> tuple[str, str] | None:
        """(server, tool) of an offered name, or None for a name that was not offered."""
        return self._to_pair.get(name)

    def __len__(self) -> int:
        return len(self._to_pair)
