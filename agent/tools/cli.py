"""`mirari tools …`: this device's MCP servers from the command line.

    mirari tools add NAME [--env K=V]… -- COMMAND [ARG…]     a server started over stdio
    mirari tools add NAME --url URL [--header K=V]…          a server reached over streamable HTTP
    mirari tools list [--json] [--refresh]                   servers, their tools and what is enabled
    mirari tools enable|disable NAME[/TOOL]
    mirari tools remove NAME
    mirari tools call NAME/TOOL --args JSON [--timeout S]    runs one tool, prints its result
    mirari tools rounds [N]                                  rounds of tool calls a chat turn may make (1–50)

`add` starts (or reaches) the server once to learn its tools; a server that does not start is still
added, and the reason is printed (fix it, then `list --refresh`). Header values go to the key store.
`call` runs any tool of a server, enabled or not (it is the tester; what a turn offers the model is the
enabled set). Errors are one line on stderr with a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import sys

from agent.cli.common import CommandError, fail, guard, key_store, open_db, print_json


def register(subparsers) -> None:
    tools = subparsers.add_parser("tools", help="MCP servers whose tools the agent may use (device-local)")
    sub = tools.add_subparsers(dest="tools_command", metavar="ACTION", required=True)

    p = sub.add_parser("add", help="add a server: -- COMMAND [ARG…] (stdio) or --url URL (HTTP)",
                       usage="mirari tools add NAME [--env K=V]… [--no-connect] -- COMMAND [ARG…]\n"
                             "       mirari tools add NAME --url URL [--header K=V]… [--no-connect]")
    p.add_argument("name", metavar="NAME")
    # Everything after NAME is read by _add_options: argparse cannot mix options and a `--` COMMAND
    # after a positional (it matches the empty COMMAND at once and then refuses the rest).
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(handler=_add)

    p = sub.add_parser("list", help="servers with their tools and enabled state")
    p.add_argument("--json", action="store_true")
    p.add_argument("--refresh", action="store_true", help="start each enabled server and list its tools again")
    p.set_defaults(handler=_list)

    for verb, on in (("enable", True), ("disable", False)):
        p = sub.add_parser(verb, help=f"{verb} a server (NAME) or one of its tools (NAME/TOOL)")
        p.add_argument("target", metavar="NAME[/TOOL]")
        p.set_defaults(handler=_toggle, enabled=on)

    p = sub.add_parser("remove", help="remove a server (and its header values from the key store)")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(handler=_remove)

    p = sub.add_parser("call", help="run one tool and print its result")
    p.add_argument("target", metavar="NAME/TOOL")
    p.add_argument("--args", default="{}", metavar="JSON", help="the arguments, a JSON object")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S")
    p.set_defaults(handler=_call)

    p = sub.add_parser("rounds", help="show or set how many rounds of tool calls a chat turn may make")
    p.add_argument("value", metavar="N", nargs="?")
    p.set_defaults(handler=_rounds)


def _host():
    from agent.tools.host import ToolHost
    from agent.tools.version import mirari_version as app_version

    return ToolHost(client_version=app_version())


def _spec(args, server):
    from agent.tools.config import spec_of

    return spec_of(server, key_store(args) if server.header_names else None)


def _connect_and_record(args, db, host, server):
    """Start `server`, record the tools it lists; returns (config, None) or (config, reason)."""
    from agent.tools.config import record_tools
    from agent.tools.host import ToolError

    try:
        status = host.connect(_spec(args, server))
    except ToolError as err:
        return server, str(err)
    return record_tools(db, server.name, status.tools), None


def _add_options(rest: list[str]) -> argparse.Namespace:
    """The options after NAME (up to `--`) and the command after `--`. (argparse drops a `--` that follows
    NAME at once: then everything after NAME is the command.)"""
    if "--" in rest:
        cut = rest.index("--")
    elif rest and not rest[0].startswith("-"):
        cut = -1
    else:
        cut = len(rest)

    class _Parser(argparse.ArgumentParser):
        def error(self, message):  # one line through guard, not argparse's usage + exit
            raise CommandError(message)

    parser = _Parser(prog="mirari tools add NAME", add_help=False)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--url")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--no-connect", action="store_true")
    options = parser.parse_args(rest[:max(cut, 0)])
    options.command = rest[cut + 1:]
    return options


@guard
def _add(args) -> int:
    from agent.tools.config import add_http_server, add_stdio_server, parse_pairs

    options = _add_options(args.rest)
    args.env, args.url, args.header, args.no_connect = options.env, options.url, options.header, options.no_connect
    command = options.command
    if args.url and (command or args.env):
        raise CommandError("give either --url (an HTTP server) or -- COMMAND (a stdio server), not both")
    if not args.url and not command:
        raise CommandError("give the command after --, e.g. mirari tools add files -- npx -y "
                           "@modelcontextprotocol/server-filesystem ~/Documents (or --url URL)")
    if args.header and not args.url:
        raise CommandError("--header is for a server given by --url")
    with open_db(args) as db:
        if args.url:
            headers = parse_pairs(args.header, "--header")
            server = add_http_server(db, args.name, args.url, headers,
                                     key_store(args, for_writing=True) if headers else None)
        else:
            server = add_stdio_server(db, args.name, command[0], command[1:], parse_pairs(args.env, "--env"))
        if args.no_connect:
            print(f"Added {server.name} ({server.transport}).")
            return 0
        host = _host()
        try:
            server, problem = _connect_and_record(args, db, host, server)
        finally:
            host.close()
    if problem:
        print(f"Added {server.name} ({server.transport}), but it did not start: {problem} "
              f"Fix it, then run: mirari tools list --refresh")
    else:
        names = ", ".join(t.name for t in server.tools) or "none"
        print(f"Added {server.name} ({server.transport}): {len(server.tools)} tool"
              f"{'s' if len(server.tools) != 1 else ''}: {names}")
    return 0


@guard
def _list(args) -> int:
    from agent.tools.config import list_servers

    problems: dict[str, str] = {}
    with open_db(args) as db:
        servers = list_servers(db)
        if args.refresh and servers:
            host = _host()
            try:
                for i, server in enumerate(servers):
                    if server.enabled:
                        servers[i], problem = _connect_and_record(args, db, host, server)
                        if problem:
                            problems[server.name] = problem
            finally:
                host.close()
    if args.json:
        print_json([{**s.to_json(), **({"problem": problems[s.name]} if s.name in problems else {})}
                    for s in servers])
        return 0
    if not servers:
        print("No tools servers yet. Add one: mirari tools add NAME -- COMMAND [ARG…]  or  --url URL")
        return 0
    for server in servers:
        state = "enabled" if server.enabled else "disabled"
        print(f"{server.name}  [{server.transport}, {state}]  {server.where()}")
        if server.name in problems:
            print(f"  ⚠ {problems[server.name]}")
        if not server.tools:
            print("  (no tools known yet: mirari tools list --refresh)")
        for tool in server.tools:
            mark = "x" if tool.enabled else " "
            always = "  (always allowed)" if tool.always_allow else ""
            description = " ".join(tool.description.split())[:90]
            print(f"  [{mark}] {tool.name}{' — ' + description if description else ''}{always}")
    return 0


@guard
def _toggle(args) -> int:
    from agent.tools.config import set_enabled, split_target

    with open_db(args) as db:
        set_enabled(db, args.target, args.enabled)
    name, tool = split_target(args.target)
    print(f"{'Enabled' if args.enabled else 'Disabled'} {name}{'/' + tool if tool else ''}.")
    return 0


@guard
def _remove(args) -> int:
    from agent.tools.config import get_server, remove_server

    with open_db(args) as db:
        server = get_server(db, args.name)
        secrets = key_store(args) if server.header_names else None
        remove_server(db, args.name, secrets)
    print(f"Removed {args.name}.")
    return 0


@guard
def _call(args) -> int:
    from agent.tools.config import get_server, split_target
    from agent.tools.host import ToolError

    name, tool = split_target(args.target)
    if not tool:
        raise CommandError("name the tool: mirari tools call NAME/TOOL --args JSON")
    try:
        arguments = json.loads(args.args)
    except ValueError as exc:
        raise CommandError(f"--args is not valid JSON: {exc}") from None
    if not isinstance(arguments, dict):
        raise CommandError("--args must be a JSON object, e.g. '{\"path\": \"/tmp\"}'")
    with open_db(args) as db:
        server = get_server(db, name)
        host = _host()
        try:
            server, problem = _connect_and_record(args, db, host, server)
            if problem:
                raise CommandError(problem)
            if tool not in {t.name for t in server.tools}:
                known = ", ".join(t.name for t in server.tools) or "none"
                raise CommandError(f"{name} has no tool {tool} (it offers: {known})")
            try:
                result = host.call(name, tool, arguments, timeout=args.timeout)
            except ToolError as err:
                raise CommandError(str(err)) from None
        finally:
            host.close()
    if result.is_error:
        return fail(f"{tool} answered with an error: {result.text}")
    sys.stdout.write(result.text + ("" if result.text.endswith("\n") else "\n"))
    return 0


@guard
def _rounds(args) -> int:
    from agent.cli.common import data_dir
    from agent.tools.config import ToolsError
    from agent.tools.settings import load_max_rounds, save_max_rounds

    if args.value is None:
        print(load_max_rounds(data_dir(args)))
        return 0
    try:
        print(save_max_rounds(data_dir(args), args.value))
    except ToolsError as err:
        raise CommandError(str(err)) from None
    return 0
