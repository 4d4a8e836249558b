"""`mirari chat`: one Console turn from the command line.

    mirari chat --connection ID [--thread THREAD] TEXT       a message (under the thread's active leaf)
    mirari chat --thread THREAD --edit MESSAGE TEXT           Save & resend: a sibling with TEXT, a new reply
    mirari chat --thread THREAD --edit MESSAGE --in-place TEXT   Save: fix the text, ask nothing
    mirari chat --thread THREAD --regenerate                  a sibling of the last reply
    mirari chat --thread THREAD --retry                       a sibling of a failed reply (or the missing reply)
    mirari chat --thread THREAD --compare ID,ID TEXT          one question, a reply from each connection
    mirari chat … --tools NAME,…|all [--approve ask|all|never] [--max-rounds N]   the model may call tools

With --tools the enabled tools of those MCP servers (`all`: of every enabled server; agent.tools) are
offered to the model; each call is approved as --approve says: `ask` (the default) shows it on the terminal
and reads y (Allow once) / a (Always for this tool, kept in the tool's config) / anything else (Deny), and
denies without a terminal; `all` allows each call once; `never` denies every call. A call shows on stderr
with its result's first line; the turn makes at most N rounds of calls (`mirari tools rounds`, 8 by default).

The reply streams to stdout as it arrives; everything is stored exactly as the window stores it
(agent.chat.turn.ChatTurn: the same prompt, the thread's settings, memory reinforcement). With --thread,
--connection defaults to the thread's own connection (given, it becomes the thread's, as in the window;
compare never rebinds). Without --thread a new thread is started and its id is named on stderr so the next
call can continue it. Ctrl-C stops the reply and keeps what arrived. A failed call is kept as a reply with
its reason (Retry: --retry) and exits non-zero with that reason."""

from __future__ import annotations

import signal
import sys

from agent.cli.common import (
    CommandError,
    fail,
    guard,
    key_store,
    open_db,
    print_json,
    read_text,
    resolve_id,
)


def register(subparsers) -> None:
    p = subparsers.add_parser("chat", help="send one message and stream the reply (stored like the Console's)")
    p.add_argument("--connection", metavar="ID", help="who answers (default with --thread: the thread's connection)")
    p.add_argument("--thread", metavar="ID", help="continue this thread (default: start a new one)")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--edit", metavar="MESSAGE", help="send TEXT in place of your message MESSAGE, as a new "
                                                         "branch with a new reply (the old branch stays)")
    action.add_argument("--regenerate", action="store_true", help="ask again for the last reply (a sibling)")
    action.add_argument("--retry", action="store_true", help="ask again after a failed reply (a sibling)")
    action.add_argument("--compare", metavar="ID,ID", help="ask TEXT of each of these connections: their replies "
                                                          "are siblings")
    p.add_argument("--in-place", action="store_true", help="with --edit: only fix the message's text, ask nothing")
    p.add_argument("--tools", metavar="NAME,…|all", help="offer the enabled tools of these MCP servers (or all) "
                                                       "to the model")
    p.add_argument("--approve", choices=("ask", "all", "never"), default="ask",
                   help="with --tools: ask on the terminal before each call (default; denies without one), "
                        "allow all, or deny all")
    p.add_argument("--max-rounds", type=int, metavar="N", help="with --tools: at most N rounds of tool calls "
                                                                "(default: the setting, mirari tools rounds)")
    p.add_argument("--json", action="store_true", help="print the stored result as JSON instead of streaming")
    p.add_argument("text", metavar="TEXT", nargs="?", help='the message ("-" reads standard input)')
    p.set_defaults(handler=_chat)


def _check(args) -> None:
    again = args.regenerate or args.retry
    if args.in_place and not args.edit:
        raise CommandError("--in-place goes with --edit MESSAGE")
    if (args.edit or again or args.compare) and not args.thread:
        raise CommandError("--edit, --regenerate, --retry and --compare need --thread THREAD")
    if again and args.text is not None:
        raise CommandError("--regenerate and --retry take no TEXT: they ask the same question again")
    if not again and args.text is None:
        raise CommandError("give the message TEXT (or - to read it from standard input)")
    if not args.thread and not args.connection:
        raise CommandError("give --connection ID (or --thread THREAD to continue a thread with its connection)")
    if args.compare and args.tools:
        raise CommandError("--compare does not run tools: leave out --tools")
    if args.in_place and args.tools:
        raise CommandError("--in-place asks nothing, so it runs no tools: leave out --tools")


@guard
def _chat(args) -> int:
    from agent.chat.threads import new_thread
    from agent.chat.tree import edit_message
    from agent.chat.turn import DONE, FAILED, ChatTurn
    from local_schema.models import AgentConnection, Conversation

    _check(args)
    text = read_text(args.text) if args.text is not None else None
    with open_db(args) as db:
        cid = resolve_id(db, AgentConnection, args.connection, "connection") if args.connection else None
        thread_id = resolve_id(db, Conversation, args.thread, "thread") if args.thread else None
        if args.edit:
            from agent.chat.threads_cli import message_id

            edited = message_id(db, thread_id, args.edit)
            if args.in_place:
                edit_message(db, thread_id, edited, text)
                return 0
        if args.compare:
            return _compare(args, db, thread_id, text)
        if cid is None:
            with db.session() as session:
                cid = session.get(Conversation, thread_id).agent_connection_id
        key = key_store(args).get_key(cid) if cid else ""
        host, tools = None, None
        if args.tools:  # checked before anything is written: a wrong name starts no thread
            from agent.chat.tools_cli import chat_tools

            host, tools = chat_tools(args, db)
        started = thread_id is None
        if started:
            if not text.strip():
                return fail("Type a message first.")
            thread_id = new_thread(db, cid).id

        turn = ChatTurn(db, thread_id, api_key=key, connection_id=cid, on_delta=_show(args), tools=tools)
        previous = signal.signal(signal.SIGINT, lambda *_: turn.cancel())  # Stop: keep the partial reply
        try:
            if args.edit:
                result = turn.edit_and_resend(edited, text)
            elif args.regenerate:
                result = turn.regenerate()
            elif args.retry:
                result = turn.retry()
            else:
                result = turn.send(text)
        except ValueError:
            if started:  # nothing was said in it: do not leave an empty thread behind
                from agent.chat.threads import delete_thread

                delete_thread(db, thread_id)
            raise
        finally:
            signal.signal(signal.SIGINT, previous)
            if host is not None:
                host.close()  # every server this turn started stops with it
    if args.json:
        print_json(_result_json(result))
    elif result.text and not result.text.endswith("\n"):
        print()
    if started and not args.json:
        print(f"(thread {thread_id}: continue it with --thread {thread_id[:8]})", file=sys.stderr)
    if result.status == FAILED:
        return fail(result.error.message if result.error else "the reply failed")
    return 0 if result.status == DONE else 130


def _show(args):
    def show(delta: str) -> None:
        if not args.json:
            sys.stdout.write(delta)
            sys.stdout.flush()
    return show


def _result_json(result) -> dict:
    return {"status": result.status, "thread_id": result.conversation_id,
            "user_message_id": result.user_message_id, "reply_message_id": result.reply_message_id,
            "text": result.text, "reinforced_node_ids": result.reinforced_node_ids,
            "superseded_ids": result.superseded_ids, "connection_id": result.connection_id, "model": result.model,
            "error": result.error.message if result.error else None, "message_ids": result.message_ids,
            "tool_calls": [{"id": r.call.id, "name": r.call.name, "server": r.call.server, "tool": r.call.tool,
                            "arguments": r.call.arguments, "decision": r.decision, "ok": r.ok, "result": r.text}
                           for r in result.calls],
            "rounds": result.rounds, "limit_reached": result.limit_reached}


def _compare(args, db, thread_id: str, text: str) -> int:
    from agent.chat.turn import DONE, compare
    from local_schema.models import AgentConnection

    wanted = [resolve_id(db, AgentConnection, part, "connection") for part in args.compare.split(",") if part.strip()]
    store = key_store(args)
    keys = {cid: store.get_key(cid) for cid in dict.fromkeys(wanted)}
    with db.session() as session:
        labels = {cid: f"{c.name} · {c.model}" for cid in keys if (c := session.get(AgentConnection, cid))}

    at_line_start = True

    def write(part: str) -> None:
        nonlocal at_line_start
        if part and not args.json:
            sys.stdout.write(part)
            sys.stdout.flush()
            at_line_start = part.endswith("\n")

    def start(connection_id: str) -> None:
        write(("" if at_line_start else "\n") + f"── {labels.get(connection_id, connection_id)}\n")

    results = compare(db, thread_id, text, wanted, keys, on_start=start, on_delta=write)
    write("" if at_line_start else "\n")
    failed = [r for r in results if r.status != DONE]
    if args.json:
        print_json([_result_json(r) for r in results])
    if failed:
        return fail(f"{len(failed)} of {len(results)} replies failed: "
                    + "; ".join(r.error.message for r in failed if r.error))
    return 0
