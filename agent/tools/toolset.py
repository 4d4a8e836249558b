"""The enabled tools of a turn as OpenAI `tools` definitions, and the way back from a name to a tool.

A tool is offered when its server and the tool itself are enabled (agent.tools.config), optionally only
the servers a caller chose (`mirari chat --tools NAME,…`). Each becomes a function named
`<server>__<tool>` (agent.tools.names), described as "[server] description", with the tool's input
schema as its parameters (an object schema; anything else is offered as "no parameters").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.tools.config import ServerConfig, ToolState
from agent.tools.names import ToolNames

EMPTY_SCHEMA = {"type": "object", "properties": {}}
OPENAI_DESCRIPTION_LIMIT = 1024


@dataclass(frozen=True)
class OfferedTool:
    name: str  # as offered to the model
    server: str
    tool: str
    always_allow: bool = False


@dataclass
class ToolSet:
    definitions: list[dict] = field(default_factory=list)  # OpenAI `tools`
    offered: dict[str, OfferedTool] = field(default_factory=dict)  # by offered name

    def __bool__(self) -> bool:
        return bool(self.definitions)

    def find(self, name: str) -> OfferedTool | None:
        return self.offered.get(name)

    def servers(self) -> list[str]:
        return sorted({t.server for t in self.offered.values()})


def parameters(schema: dict | None) -> dict:
    return schema if isinstance(schema, dict) and schema.get("type") == "object" else dict(EMPTY_SCHEMA)


def build_toolset(servers: Iterable[ServerConfig], only: Iterable[str] | None = None) -> ToolSet:
    """The ToolSet of every enabled tool of the enabled servers (of `only` these server names, if given)."""
    wanted = set(only) if only is not None else None
    chosen: list[tuple[ServerConfig, ToolState]] = [
        (server, tool) for server in servers if server.enabled and (wanted is None or server.name in wanted)
        for tool in server.tools if tool.enabled]
    names = ToolNames((server.name, tool.name) for server, tool in chosen)
    toolset = ToolSet()
    for server, tool in chosen:
        name = names.name(server.name, tool.name)
        description = f"[{server.name}] {tool.description}".strip()[:OPENAI_DESCRIPTION_LIMIT]
        toolset.definitions.append({"type": "function", "function": {
            "name": name, "description": description, "parameters": parameters(tool.input_schema)}})
        toolset.offered[name] = OfferedTool(name, server.name, tool.name, tool.always_allow)
    return toolset
