"""`mirari connections add|list|test`: bind an OpenAI-compatible endpoint from the command line.

The API key comes from MIRARI_API_KEY, else a hidden prompt in a terminal (blank: no key, as local
runners need none); it goes to the same key store as the window's (OS keychain, or the encrypted
file unlocked with MIRARI_KEY_PASSPHRASE) and never into the database."""

from __future__ import annotations

import os
import sys

from agent.cli.common import API_KEY_ENV, fail, guard, key_store, open_db, print_json, resolve_id


def register(subparsers) -> None:
    connections = subparsers.add_parser("connections", help="agent connections (I. Bind)")
    sub = connections.add_subparsers(dest="connections_command", metavar="ACTION", required=True)

    p = sub.add_parser("add", help=f"add a connection; prints its id (key from ${API_KEY_ENV} or a prompt)")
    p.add_argument("--name", required=True)
    p.add_argument("--base-url", required=True, help="the root /chat/completions is appended to, e.g. "
                                                     "http://localhost:11434/v1")
    p.add_argument("--model", required=True)
    p.add_argument("--provider", default="custom", help="hermes, openrouter, nous or custom (default)")
    p.add_argument("--system-prompt", default=None, help="the connection's base system prompt")
    p.add_argument("--accepts-images", action="store_true", help="its model takes images (attachments)")
    p.set_defaults(handler=_add)

    p = sub.add_parser("list", help="connections with status and last check")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = sub.add_parser("test", help="send one tiny request; exit 0 only when online")
    p.add_argument("id", metavar="ID")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    p.set_defaults(handler=_test)


def _api_key() -> str:
    key = os.environ.get(API_KEY_ENV)
    if key is not None:
        return key.strip()
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("API key (leave blank for none): ").strip()
    return ""


@guard
def _add(args) -> int:
    from agent.connections.rows import add_connection
    from agent.connections.validation import validate_connection

    problems = validate_connection(args.name, args.base_url, args.model, args.provider)
    if problems:  # before asking for a key that would not be used
        return fail(" ".join(problems.values()))
    key = _api_key()
    store = key_store(args, for_writing=True) if key else None
    with open_db(args) as db:
        row = add_connection(db, store, name=args.name, base_url=args.base_url, model=args.model,
                             provider=args.provider, system_prompt=args.system_prompt, api_key=key,
                             accepts_images=args.accepts_images)
    print(row.id)
    return 0


@guard
def _list(args) -> int:
    from agent.connections.rows import list_connections

    with open_db(args) as db:
        rows = list_connections(db)
    if args.json:
        print_json([r.to_json() for r in rows])
        return 0
    if not rows:
        print("no connections yet: mirari connections add --name N --base-url URL --model M")
    for r in rows:
        c = r.connection
        checked = f"checked {r.checked_at[:16].replace('T', ' ')}" if r.checked_at else "not tested"
        error = f": {r.last_error}" if r.last_error else ""
        print(f"{c.id}  {c.name} · {c.model}  {c.base_url}  {c.status} ({checked}){error}")
    return 0


@guard
def _test(args) -> int:
    from agent.connections.check import ONLINE, check_and_record
    from local_schema.models import AgentConnection

    with open_db(args) as db:
        cid = resolve_id(db, AgentConnection, args.id, "connection")
        key = key_store(args).get_key(cid)
        result = check_and_record(db, cid, key, timeout=args.timeout)
    if result.status == ONLINE:
        print("online")
        return 0
    return fail(f"{result.status}: {result.reason}")
