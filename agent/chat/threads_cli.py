"""`mirari threads list|show|switch|fork|set|rename|delete|export`: Console threads as trees on the command line.

A thread shows one path of its tree, from its first message down to its active leaf (agent.chat.tree,
docs/console.md); `show --all` lists every message of every branch with its parent and its place among
its siblings. Chat turns (send, edit & resend, regenerate, compare) are `mirari chat`."""

from __future__ import annotations

import sys

from agent.cli.common import CommandError, guard, open_db, print_json, resolve_id, short

DEFAULT = "default"  # --temperature default / --max-tokens default: back to the connection's default


def register(subparsers) -> None:
    threads = subparsers.add_parser("threads", help="Console threads: list, show, switch branch, fork, settings, "
                                                    "rename, delete, export")
    sub = threads.add_subparsers(dest="threads_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="threads, most recent activity first")
    p.add_argument("--json", action="store_true", help="a JSON array of threads")
    p.set_defaults(handler=_list)

    p = sub.add_parser("show", help="the thread's active path (with --all: every branch)")
    p.add_argument("thread", metavar="THREAD")
    p.add_argument("--all", action="store_true", help="every message of every branch, with parent_id, siblings "
                                                     "and sibling_index")
    p.add_argument("--json", action="store_true", help="a JSON array of messages")
    p.set_defaults(handler=_show)

    p = sub.add_parser("switch", help="make the branch through MESSAGE the active one (its newest leaf)")
    p.add_argument("thread", metavar="THREAD")
    p.add_argument("message", metavar="MESSAGE")
    p.set_defaults(handler=_switch)

    p = sub.add_parser("fork", help="a new thread from the path down to MESSAGE (prints its id)")
    p.add_argument("thread", metavar="THREAD")
    p.add_argument("message", metavar="MESSAGE")
    p.add_argument("--title", help="the new thread's title (default: the old one + ' (fork)')")
    p.set_defaults(handler=_fork)

    p = sub.add_parser("set", help="the thread's connection and settings for every turn")
    p.add_argument("thread", metavar="THREAD")
    p.add_argument("--connection", metavar="ID", help="the connection the thread talks to")
    p.add_argument("--temperature", metavar="X", help=f"0 to 2 ('{DEFAULT}': the connection's)")
    p.add_argument("--max-tokens", metavar="N", help=f"1 to 1,000,000 ('{DEFAULT}': no limit)")
    p.add_argument("--stop", action="append", metavar="S", help="a stop sequence (repeatable, at most 4; "
                                                                "replaces the thread's)")
    p.add_argument("--no-stop", action="store_true", help="no stop sequences")
    p.add_argument("--system", metavar="TEXT", help="added to the system prompt ('' removes it)")
    p.add_argument("--json", action="store_true", help="print the settings as JSON")
    p.set_defaults(handler=_set)

    p = sub.add_parser("rename", help="give a thread a new title")
    p.add_argument("thread", metavar="THREAD")
    p.add_argument("title", metavar="TITLE")
    p.set_defaults(handler=_rename)

    p = sub.add_parser("delete", help="delete a thread (or, with --message, one message and its branch)")
    p.add_argument("thread", metavar="THREAD")
    p.add_argument("--message", metavar="ID", help="delete this message and everything below it instead")
    p.set_defaults(handler=_delete)

    p = sub.add_parser("export", help="write the thread's active path as Markdown or JSON (--all: every branch)")
    p.add_argument("thread", metavar="THREAD")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("markdown", "json"), help="default: from the file's suffix")
    p.add_argument("--all", action="store_true", help="every branch, with parent ids (JSON only)")
    p.set_defaults(handler=_export)


def thread_id(db, text: str) -> str:
    from local_schema.models import Conversation

    return resolve_id(db, Conversation, text, "thread")


def message_id(db, thread: str, text: str) -> str:
    """A message of `thread` from its id or a unique prefix."""
    from local_schema.models import Message

    found = resolve_id(db, Message, text, "message")
    with db.session() as session:
        message = session.get(Message, found)
    if message.conversation_id != thread:
        raise CommandError(f"message {text} is not in thread {short(thread)}")
    return found


def _one_line(text: str, width: int = 72) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= width else line[:width - 1] + "…"


@guard
def _list(args) -> int:
    from agent.chat.threads import list_threads_in
    from local_schema.models import Conversation, all_columns

    with open_db(args) as db, db.session() as session:
        rows = list_threads_in(session)
    if args.json:
        print_json([{**{c: getattr(t.row, c) for c in all_columns(Conversation)},
                     "last_activity": t.last_activity, "message_count": t.message_count} for t in rows])
        return 0
    if not rows:
        print("no threads")
    for t in rows:
        print(f"{short(t.id)}  {t.last_activity[:16].replace('T', ' ')}  {t.message_count:>6} msgs  {t.title}")
    return 0


def _message_json(row, names) -> dict:
    from agent.chat.authorship import message_author
    from local_schema.models import Message, all_columns

    data = {c: getattr(row.message, c) for c in all_columns(Message)}
    data.update(author=message_author(row.message, names), siblings=row.siblings, sibling_index=row.sibling_index,
                on_path=row.on_path)
    return data


@guard
def _show(args) -> int:
    from agent.chat.authorship import connection_names_in, message_author
    from agent.chat.tree import live_thread_in, tree_rows_in

    with open_db(args) as db:
        thread = thread_id(db, args.thread)
        with db.session() as session:
            title = live_thread_in(session, thread).title or "Untitled thread"
            rows = tree_rows_in(session, thread)
            if not args.all:
                rows = [r for r in rows if r.on_path]
            names = connection_names_in(session, (r.message.agent_connection_id for r in rows))
    if args.json:
        print_json([_message_json(r, names) for r in rows])
        return 0
    print(f"# {title}  ({'every branch' if args.all else 'active path'}, {len(rows)} messages)")
    for r in rows:
        m = r.message
        author = message_author(m, names)
        who = author["label"] if author else {"user": "You", "system": "System"}.get(m.role, m.role)
        place = f"  ‹{r.sibling_index}/{r.siblings}›" if r.siblings > 1 else ""
        parent = f"  ↳ {short(m.parent_id)}" if args.all and m.parent_id else ""
        mark = ("* " if r.on_path else "  ") if args.all else ""
        status = {"error": f"  ⚠ failed: {_one_line(m.error or '', 60)}", "stopped": "  (stopped)"}.get(m.status, "")
        print(f"{mark}{short(m.id)}  {who}{place}{parent}{status}")
        if not args.all:
            for line in (m.content or "").splitlines():
                print(f"    {line}")
        elif (m.content or "").strip():
            print(f"    {_one_line(m.content)}")
    return 0


@guard
def _switch(args) -> int:
    from agent.chat.tree import switch

    with open_db(args) as db:
        thread = thread_id(db, args.thread)
        leaf = switch(db, thread, message_id(db, thread, args.message))
    print(leaf)
    return 0


@guard
def _fork(args) -> int:
    from agent.chat.tree import fork

    with open_db(args) as db:
        thread = thread_id(db, args.thread)
        copy = fork(db, thread, message_id(db, thread, args.message), title=args.title)
    print(copy.id)
    return 0


@guard
def _set(args) -> int:
    from agent.chat.tree import UNSET, set_settings
    from local_schema.models import AgentConnection

    if args.stop and args.no_stop:
        raise CommandError("give --stop or --no-stop, not both")
    if all(v is None for v in (args.connection, args.temperature, args.max_tokens, args.stop, args.system)) \
            and not args.no_stop:
        raise CommandError("nothing to set: give --connection, --temperature, --max-tokens, --stop, --no-stop "
                           "or --system")
    with open_db(args) as db:
        thread = thread_id(db, args.thread)
        changes = {
            "connection_id": resolve_id(db, AgentConnection, args.connection, "connection")
            if args.connection is not None else UNSET,
            "temperature": _default_or(args.temperature),
            "max_tokens": _default_or(args.max_tokens),
            "stop": [] if args.no_stop else (args.stop if args.stop is not None else UNSET),
            "system_addition": args.system if args.system is not None else UNSET,
        }
        settings = set_settings(db, thread, **changes)
    if args.json:
        print_json([{"id": thread, **settings.to_dict()}])
    else:
        _print_settings(settings)
    return 0


def _default_or(value):
    from agent.chat.tree import UNSET

    if value is None:
        return UNSET
    return None if value.strip().lower() == DEFAULT else value


def _print_settings(settings) -> None:
    print(f"connection      {settings.connection_id or '(none)'}")
    print(f"temperature     {settings.temperature if settings.temperature is not None else '(connection default)'}")
    print(f"max tokens      {settings.max_tokens if settings.max_tokens is not None else '(no limit)'}")
    print(f"stop            {', '.join(repr(s) for s in settings.stop) if settings.stop else '(none)'}")
    addition = settings.system_addition
    print(f"system addition {_one_line(addition, 60) if addition else '(none)'}")


@guard
def _rename(args) -> int:
    from agent.chat.threads import rename_thread

    with open_db(args) as db:
        renamed = rename_thread(db, thread_id(db, args.thread), args.title)
    print(renamed.title)
    return 0


@guard
def _delete(args) -> int:
    from agent.chat.threads import delete_thread
    from agent.chat.tree import delete_branch

    with open_db(args) as db:
        thread = thread_id(db, args.thread)
        if args.message:
            count = delete_branch(db, thread, message_id(db, thread, args.message))
            print(f"deleted {count} message{'s' if count != 1 else ''}", file=sys.stderr)
        else:
            delete_thread(db, thread)
    return 0


@guard
def _export(args) -> int:
    from agent.chat.export import export_thread_in

    with open_db(args) as db:
        thread = thread_id(db, args.thread)
        with db.session() as session:
            path = export_thread_in(session, thread, args.file, args.format, whole_tree=args.all)
    print(path)
    return 0
