"""`mirari chat --connection ID [--thread ID] TEXT`: one Console turn from the command line.

The reply streams to stdout as it arrives; both messages are stored exactly as the window stores
them (agent.chat.ChatTurn: the same prompt, memory reinforcement included). Without --thread a new
thread is started and its id is named on stderr so the next call can continue it. Ctrl-C stops the
reply and keeps what arrived. A failed call keeps your message (the window shows Retry beside it) and
exits non-zero with the reason."""

from __future__ import annotations

import signal
import sys

from agent.commands._common import fail, guard, key_store, open_db, print_json, read_text, resolve_id


def register(subparsers) -> None:
    p = subparsers.add_parser("chat", help="send one message and stream the reply (stored like the Console's)")
    p.add_argument("--connection", required=True, metavar="ID")
    p.add_argument("--thread", metavar="ID", help="continue this thread (default: start a new one)")
    p.add_argument("--json", action="store_true", help="print the stored result as JSON instead of streaming")
    p.add_argument("text", metavar="TEXT", help='the message ("-" reads standard input)')
    p.set_defaults(handler=_chat)


@guard
def _chat(args) -> int:
    from agent.chat import DONE, FAILED, ChatTurn
    from agent.threads import new_thread
    from local_schema.models import AgentConnection, Conversation

    text = read_text(args.text)
    with open_db(args) as db:
        cid = resolve_id(db, AgentConnection, args.connection, "connection")
        thread_id = resolve_id(db, Conversation, args.thread, "thread") if args.thread else None
        key = key_store(args).get_key(cid)
        started = thread_id is None
        if started:
            if not text.strip():
                return fail("Type a message first.")
            thread_id = new_thread(db, cid).id

        def show(delta: str) -> None:
            if not args.json:
                sys.stdout.write(delta)
                sys.stdout.flush()

        turn = ChatTurn(db, thread_id, api_key=key, connection_id=cid, on_delta=show)
        previous = signal.signal(signal.SIGINT, lambda *_: turn.cancel())  # Stop: keep the partial reply
        try:
            result = turn.send(text)
        except ValueError:
            if started:  # nothing was said in it: do not leave an empty thread behind
                from agent.threads import delete_thread

                delete_thread(db, thread_id)
            raise
        finally:
            signal.signal(signal.SIGINT, previous)
    if args.json:
        print_json({"status": result.status, "thread_id": result.conversation_id,
                    "user_message_id": result.user_message_id, "reply_message_id": result.reply_message_id,
                    "text": result.text, "reinforced_node_ids": result.reinforced_node_ids,
                    "connection_id": result.connection_id, "model": result.model,
                    "error": result.error.message if result.error else None})
    elif result.text and not result.text.endswith("\n"):
        print()
    if started and not args.json:
        print(f"(thread {thread_id}: continue it with --thread {thread_id[:8]})", file=sys.stderr)
    if result.status == FAILED:
        return fail(result.error.message if result.error else "the reply failed")
    return 0 if result.status == DONE else 130
