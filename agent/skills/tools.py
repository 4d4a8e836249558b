"""The tools a skill needs (`skills.tools`, synced): names, and what this device has of them. No Qt.

    set_skill_tools(db, skill_id, ["files/read_file", "fx/add"])
    offered, notes = skill_toolset(list_servers(db), skill.tools)
    approve = test_approver("never")          # or "all", or the names the person confirmed for this run

A name is "server/tool": a server name as this device's MCP servers have them (1–32 of [A-Za-z0-9_-],
agent/tools/config.py), a slash, and the tool's name as its server lists it. At most 32 names, each at
most 128 characters — the server checks the same (supabase/migrations/20261208300000_skill_tools.sql).
Names only: MCP servers are configured per device, so a name never adds, enables or runs anything; a
device offers a skill's tools that it has enabled and reports the others as notes.

Unattended approval (a test run has no one to ask): a call runs when its tool is marked "Always for this
tool" on this device (ToolLoop lets those through itself), or when the person confirmed it for this run
(`mirari skills test --approve all`, the window's confirmation before the run); every other call gets the
"denied" error result and the run records it. A test run never marks a tool "Always".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from agent.skills.forge import SkillError, get_skill_in
from agent.tools.config import ServerConfig
from agent.tools.loop import ALLOW_ONCE, DENY, PendingCall
from agent.tools.toolset import ToolSet, build_toolset
from local_schema.database import LocalDatabase
from local_schema.models import Skill

MAX_TOOLS = 32
TOOL_NAME_LIMIT = 128
_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}/.+", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
NEVER, ALL = "never", "all"


def tool_key(server: str, tool: str) -> str:
    return f"{server}/{tool}"


def validate_tool_names(value: Any) -> list[str]:
    """A list of "server/tool" names, trimmed, repeats dropped (first kept); SkillError says what is wrong."""
    if not isinstance(value, list | tuple):
        raise SkillError("A skill's tools are a list of server/tool names.")
    names: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise SkillError("A skill's tools are names of the form server/tool, not numbers or lists.")
        name = item.strip()
        if _CONTROL.search(name):
            raise SkillError("A tool name cannot hold control characters.")
        if len(name) > TOOL_NAME_LIMIT:
            raise SkillError(f"A tool name is at most {TOOL_NAME_LIMIT} characters: {name[:40]}….")
        if not _NAME.fullmatch(name):
            raise SkillError(f"{name or 'An empty name'} is not a tool name: write server/tool, e.g. files/read_file.")
        if name not in names:
            names.append(name)
    if len(names) > MAX_TOOLS:
        raise SkillError(f"A skill can name at most {MAX_TOOLS} tools, not {len(names)}.")
    return names


def parse_tool_list(text: str) -> list[str]:
    """"files/read_file, fx/add" (commas or new lines) -> validated names."""
    return validate_tool_names([part for part in re.split(r"[,\n]", text or "") if part.strip()])


def stored_tools(skill: Skill) -> list[str]:
    """The skill's names as stored, read tolerantly (a hand-written or pulled oddity is left out)."""
    value = skill.tools if isinstance(skill.tools, list) else []
    return [t for t in value if isinstance(t, str) and _NAME.fullmatch(t) and len(t) <= TOOL_NAME_LIMIT][:MAX_TOOLS]


def set_skill_tools(db: LocalDatabase, skill_id: str, names: Iterable[str]) -> Skill:
    """Store the skill's tools (not a new version: the prompt did not change). Nothing is written on error."""
    tools = validate_tool_names(list(names))
    with db.write() as session:
        skill = get_skill_in(session, skill_id)
        if list(skill.tools or []) != tools:
            skill.tools = tools
            session.add(skill)
    with db.session() as session:
        return get_skill_in(session, skill_id)


def enabled_tool_names(servers: Iterable[ServerConfig]) -> list[str]:
    """Every tool this device would offer (server and tool enabled), as server/tool names, sorted."""
    return sorted(tool_key(s.name, t.name) for s in servers if s.enabled for t in s.tools if t.enabled)


AVAILABLE, DISABLED, MISSING = "enabled", "disabled", "missing"


def tool_states(servers: Iterable[ServerConfig], names: Iterable[str]) -> list[dict]:
    """For each name: {name, state (enabled | disabled | missing on this device), always_allow, note}."""
    by_name = {s.name: s for s in servers}
    states = []
    for name in names:
        server_name, _, tool_name = name.partition("/")
        server = by_name.get(server_name)
        tool = next((t for t in server.tools if t.name == tool_name), None) if server else None
        state, note = AVAILABLE, None
        if server is None:
            state, note = MISSING, f"{name}: not on this device (no MCP server named {server_name}); not offered."
        elif tool is None:
            state, note = MISSING, f"{name}: {server_name} does not list a tool named {tool_name}; not offered."
        elif not server.enabled:
            state, note = DISABLED, f"{name}: the server {server_name} is disabled on this device; not offered."
        elif not tool.enabled:
            state, note = DISABLED, f"{name}: the tool is disabled on this device; not offered."
        states.append({"name": name, "state": state, "always_allow": bool(tool and tool.always_allow),
                       "note": note})
    return states


def skill_toolset(servers: Iterable[ServerConfig], names: Iterable[str]) -> tuple[ToolSet, list[str]]:
    """The ToolSet of exactly the named tools this device has enabled, and one note per name it cannot offer."""
    servers = list(servers)
    by_name = {s.name: s for s in servers}
    states = tool_states(servers, names)
    kept: dict[str, list] = {}
    for entry in states:
        if entry["state"] == AVAILABLE:
            server_name, _, tool_name = entry["name"].partition("/")
            kept.setdefault(server_name, []).extend(t for t in by_name[server_name].tools if t.name == tool_name)
    chosen = [replace(by_name[s], tools=tuple(tools)) for s, tools in kept.items()]
    return build_toolset(chosen), [e["note"] for e in states if e["note"]]


def test_approver(approval: str | Iterable[str]):
    """approve(call) for a test run: ALL allows every offered tool once, NEVER denies, or a set of confirmed
    server/tool names. Tools marked "Always" never reach it (ToolLoop allows them itself)."""
    if approval == ALL:
        return lambda call: ALLOW_ONCE
    confirmed = frozenset() if approval == NEVER else frozenset(approval)

    def approve(call: PendingCall) -> str:
        return ALLOW_ONCE if call.server and tool_key(call.server, call.tool or "") in confirmed else DENY

    return approve


test_approver.__test__ = False  # not a pytest function
