"""`mirari chat … --tools NAME,…|all [--approve ask|all|never] [--max-rounds N]`: the tools of a turn on
the command line (agent.chat.tool_turn). The approval prompt and each call's outcome go to stderr, so
stdout carries only the reply (or the --json result)."""

from __future__ import annotations

import json
import sys

from agent.cli.common import CommandError, data_dir, key_store

SHOWN = 200  # characters of a call's line on stderr


def chosen_servers(db, value: str) -> list[str] | None:
    """`--tools` as server names (None: all). Each must be configured and enabled."""
    from agent.tools.config import list_servers

    servers = {s.name: s for s in list_servers(db)}
    if value.strip() == "all":
        return None
    names = list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if not names:
        raise CommandError("--tools takes server names separated by commas, or all")
    for name in names:
        if name not in servers:
            known = ", ".join(servers) or "none yet: mirari tools add"
            raise CommandError(f"No tools server named {name} (configured: {known})")
        if not servers[name].enabled:
            raise CommandError(f"The tools server {name} is disabled: mirari tools enable {name}")
    return names


def chat_tools(args, db):
    """(the ToolHost to close after the turn, the turn's TurnTools) for `mirari chat --tools …`."""
    from agent.chat.tool_turn import turn_tools
    from agent.tools.approval import approver
    from agent.tools.config import ToolsError
    from agent.tools.host import ToolHost
    from agent.tools.settings import check_rounds, load_max_rounds
    from agent.tools.version import mirari_version

    only = chosen_servers(db, args.tools)
    try:
        rounds = check_rounds(args.max_rounds) if args.max_rounds is not None else load_max_rounds(data_dir(args))
    except ToolsError as err:
        raise CommandError(str(err)) from None
    from agent.tools.config import list_servers

    needs_secrets = any(s.header_names for s in list_servers(db) if only is None or s.name in only)
    host = ToolHost(client_version=mirari_version())
    tools = turn_tools(db, host, approver(args.approve, sys.stdin, sys.stderr), only=only, max_rounds=rounds,
                       secrets=key_store(args) if needs_secrets else None)
    if not tools.toolset:
        host.close()
        which = "any enabled server" if only is None else ", ".join(only)
        raise CommandError(f"No enabled tools in {which}: mirari tools list shows them, mirari tools enable turns "
                           "them on")
    if not args.json:
        tools.on_call = _show_call
    return host, tools


def _show_call(record) -> None:
    call = record.call
    arguments = json.dumps(call.arguments, ensure_ascii=False, sort_keys=True)
    first = (record.text.splitlines() or [""])[0]
    line = f"[{call.server or '?'}/{call.tool or call.name}] {arguments} → {first}"
    line = "".join(ch if ch.isprintable() else " " for ch in line)
    sys.stderr.write((line[:SHOWN] + "…" if len(line) > SHOWN else line) + "\n")
    sys.stderr.flush()
