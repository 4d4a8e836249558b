"""`mirari account …`, `mirari sync`, `mirari status`, `mirari config …`, `mirari parked …`.

Imported by agent/cli/main.py at every start, so nothing heavy is imported at module level: the engine,
SQLAlchemy and the supabase client load only inside the handler that needs them. Errors print one line
on stderr and return a non-zero exit code (agent.cli.common, as every command).
"""

from __future__ import annotations

import os
import sys

from agent.cli.common import data_dir, fail, guard, print_json

PASSWORD_ENV = "MIRARI_PASSWORD"


def register(subparsers) -> None:
    account = subparsers.add_parser("account", help="sign up, log in or out, show the account")
    acc = account.add_subparsers(dest="account_command", metavar="ACTION", required=True)
    for name, text in (("signup", "create an account on your Supabase project and turn sync on"),
                       ("login", "sign in and turn sync on")):
        p = acc.add_parser(name, help=text)
        p.add_argument("--email", help="email address (prompted if omitted)")
        p.set_defaults(handler=_account_signin, signup=name == "signup")
    p = acc.add_parser("logout", help="sign out and stop syncing (local data is kept)")
    p.add_argument("--remove-data", action="store_true", help="also delete this account's local database")
    p.set_defaults(handler=_account_logout)
    p = acc.add_parser("status", help="who is signed in")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_account_status)

    p = subparsers.add_parser("sync", help="run one sync cycle now (push, then pull)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--watch", action="store_true",
                   help="keep running: sync when the server says something changed (and every 15-60 s); "
                        "one line per cycle; Ctrl+C or SIGTERM ends it")
    p.set_defaults(handler=_sync)

    p = subparsers.add_parser("status", help="active database, account, pending and parked changes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_status)

    config = subparsers.add_parser("config", help="get or set supabase.url / supabase.anon_key")
    cfg = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    p = cfg.add_parser("set", help="set a value")
    p.add_argument("key", choices=["supabase.url", "supabase.anon_key"])
    p.add_argument("value")
    p.set_defaults(handler=_config_set)
    p = cfg.add_parser("get", help="show a value (the environment overrides the file)")
    p.add_argument("key", choices=["supabase.url", "supabase.anon_key"])
    p.set_defaults(handler=_config_get)

    parked = subparsers.add_parser("parked", help="changes the server refused: list, retry, discard")
    pk = parked.add_subparsers(dest="parked_command", metavar="ACTION", required=True)
    p = pk.add_parser("list", help="each refused change with its number and the server's reason")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_parked_list)
    for name, text in (("retry", "queue the change again"),
                       ("discard", "drop the change and restore the server's version")):
        p = pk.add_parser(name, help=text)
        p.add_argument("op", type=int, help="the number shown by `mirari parked list`")
        p.set_defaults(handler=_parked_action, action=name)


def command_engine(args, *, signing_in: bool = False, session: bool = True):
    """The engine of one command, on the data dir's secret store — the one the window and the API keys
    use: the OS keychain, else the encrypted key file unlocked by MIRARI_KEY_PASSPHRASE (or a prompt in a
    terminal). `signing_in`: where there is neither yet, MIRARI_KEY_PASSPHRASE creates the file.
    `session=False`: the command reads only the local database (nobody is asked for a passphrase)."""
    from sync.engine import SyncEngine
    from sync.secrets import open_store, terminal_passphrase

    where = data_dir(args)
    if not session:
        return SyncEngine(where)  # (its store, made only if asked for, reads MIRARI_KEY_PASSPHRASE)
    return SyncEngine(where, secrets=open_store(where, create=signing_in, prompt=terminal_passphrase))


# -- handlers ---------------------------------------------------------------------------------------------
@guard
def _account_signin(args) -> int:
    password = os.environ.get(PASSWORD_ENV)
    try:
        email = args.email or input("Email: ").strip()
        if not password:
            import getpass

            password = getpass.getpass("Password: ")
    except EOFError:
        return fail(f"no email/password given: pass --email and set {PASSWORD_ENV}, or run in a terminal")
    if not email or not password:
        return fail("email and password are required")
    engine = command_engine(args, signing_in=True)
    try:
        session = (engine.sign_up if args.signup else engine.sign_in)(email, password)
        status = engine.status()
    finally:
        engine.close()
    print(f"signed in as {session.email} ({session.user_id}); database {status['database']}; "
          f"{status['pending']} change(s) waiting to sync — run `mirari sync`")
    return 0


@guard
def _account_logout(args) -> int:
    engine = command_engine(args)
    try:
        path = engine.sign_out(remove_data=args.remove_data)
    finally:
        engine.close()
    kept = "account data removed" if args.remove_data else "local data kept"
    print(f"signed out; sync stopped; {kept}; active database {path}")
    return 0


@guard
def _account_status(args) -> int:
    from sync import accounts

    state = accounts.load_state(data_dir(args))
    data = {"signed_in": state.signed_in, "user_id": state.active_account, "email": state.email,
            "database": str(accounts.active_database_path(data_dir(args)))}
    if args.json:
        print_json(data)
    elif state.signed_in:
        print(f"signed in as {state.email} ({state.active_account})")
    else:
        print("signed out" + (f" (data of {state.email} kept locally)" if state.active_account else ""))
    return 0


@guard
def _sync(args) -> int:
    engine = command_engine(args)
    if args.watch:
        from agent.cli.sync_watch import watch

        return watch(engine, as_json=args.json)
    try:
        result = engine.run_cycle()
    finally:
        engine.close()
    if args.json:
        print_json(result.to_dict())
    else:
        upkeep = f" (then {result.upkeep_s:.2f}s of indexing)" if result.upkeep_s >= 0.05 else ""
        print(f"{result.state}: pushed {result.pushed}, pulled {result.pulled}, parked {result.parked} "
              f"in {result.duration_s:.2f}s{upkeep}")
        for alert in result.alerts:
            print(f"alert: {alert}", file=sys.stderr)
    if result.error and result.state not in ("idle",):
        return 2 if args.json else fail(result.error, 2)
    return 0


@guard
def _status(args) -> int:
    engine = command_engine(args, session=False)
    try:
        data = engine.status()
    finally:
        engine.close()
    if args.json:
        print_json(data)
    else:
        who = data["account"]["email"] if data["account"] else "no account"
        print(f"{data['state']} — {who}; database {data['database']}; pending {data['pending']}, "
              f"parked {data['parked']}; last sync {data['last_sync'] or 'never'}")
    return 0


@guard
def _config_set(args) -> int:
    from sync import config

    value = config.set_value(data_dir(args), args.key, args.value)
    print(f"{args.key} = {value}")
    return 0


@guard
def _config_get(args) -> int:
    from sync import config

    value = config.get_value(data_dir(args), args.key)
    if value is None:
        return fail(f"{args.key} is not set")
    print(value)
    return 0


@guard
def _parked_list(args) -> int:
    from sync.parked import list_parked

    engine = command_engine(args, session=False)
    try:
        items = list_parked(engine.database())
    finally:
        engine.close()
    if args.json:
        print_json([vars(i) for i in items])
    else:
        for i in items:
            print(f"#{i.op_seq} {i.kind} {i.table} {i.row_id}: {i.message}" + (f" [{i.code}]" if i.code else ""))
        if not items:
            print("no parked changes")
    return 0


@guard
def _parked_action(args) -> int:
    from sync import parked

    engine = command_engine(args, session=args.action == "discard")  # discard asks the server
    try:
        if args.action == "retry":
            count = parked.retry(engine.database(), args.op)
            print(f"{count} change(s) queued again; run `mirari sync`")
        else:
            print(parked.discard(engine, args.op))
    finally:
        engine.close()
    return 0
