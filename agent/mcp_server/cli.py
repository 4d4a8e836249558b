"""`mirari mcp …`: MIRARI's memory as an MCP server for other apps (Claude Desktop, Cursor, …).

    mirari mcp serve [--read-only] [--http PORT]   stdio (what apps launch), or HTTP on 127.0.0.1 with a token
    mirari mcp token [--new]                       the bearer token of --http (made and kept in the key store)
    mirari mcp config                              the JSON to paste into an app's MCP configuration

`serve` uses the active database of the data dir, like the window; paused facts are never served and
every read and write is logged (the Atlas shows it per fact). Over stdio nothing but the protocol is
written to stdout; over HTTP the first line on stdout is the address.
"""

from __future__ import annotations

from agent.cli.common import CommandError, data_dir, guard, key_store, open_db


def register(subparsers) -> None:
    mcp = subparsers.add_parser("mcp", help="MIRARI's memory as an MCP server for other apps")
    sub = mcp.add_subparsers(dest="mcp_command", metavar="ACTION", required=True)

    p = sub.add_parser("serve", help="serve the memory over stdio (or --http PORT on 127.0.0.1)")
    p.add_argument("--read-only", action="store_true", help="offer no writing tool")
    p.add_argument("--http", type=int, metavar="PORT", help="streamable HTTP on 127.0.0.1:PORT, with the token")
    p.set_defaults(handler=_serve)

    p = sub.add_parser("token", help="show the bearer token apps send to `mcp serve --http`")
    p.add_argument("--new", action="store_true", help="replace it (apps using the old one are refused)")
    p.set_defaults(handler=_token)

    p = sub.add_parser("config", help="print the JSON snippet for Claude Desktop / Cursor")
    p.set_defaults(handler=_config)


@guard
def _serve(args) -> int:
    from agent.mcp_server.server import run_http, run_stdio
    from agent.tools.version import mirari_version as app_version

    if args.http is not None and not 0 <= args.http <= 65535:
        raise CommandError(f"--http {args.http}: a port is a number from 1 to 65535")
    token = None
    if args.http is not None:
        from agent.mcp_server.token import get_token

        token = get_token(key_store(args, for_writing=True))
    with open_db(args) as db:
        if token is None:
            run_stdio(db, read_only=args.read_only, version=app_version())
        else:
            def ready(port: int) -> None:
                print(f"http://127.0.0.1:{port}/mcp", flush=True)

            run_http(db, args.http, token, read_only=args.read_only, version=app_version(), on_ready=ready)
    return 0


@guard
def _token(args) -> int:
    from agent.mcp_server.token import get_token

    print(get_token(key_store(args, for_writing=True), new=args.new))
    return 0


@guard
def _config(args) -> int:
    from agent.mcp_server.snippet import config_snippet

    print(config_snippet(data_dir(args)))
    return 0
