"""Read queries the Console needs, shaped for the views (no Qt; run inside background ops).

Thread logic lives in agent.chat.threads and agent.chat.tree; this module only adapts it to windows of a long
thread: the Console never loads a whole 10,000-message thread, only the page it shows.

The transcript shows the thread's active path (agent.chat.tree: from the first message down to the active
leaf). A window is a stretch of that path, addressed by its messages, never by a position: a page is
"the 120 messages above this one" (a walk up its parents) or "the ones below it, towards the leaf", and
a refresh is "the path from the first message shown down to the leaf (or to the last one shown)". Sync
can add branches and messages anywhere; a keyed window is walked again from the rows it shows, so it
neither skips nor repeats one. Each row's key is (seq, id), the order along a path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from agent.chat import threads, tree
from agent.chat.authorship import reply_author
from desktop.models.transcript_model import MessageRow

ThreadInfo = threads.ThreadSummary

# A reply is shown under what wrote it (agent.chat.authorship): its recorded model and its connection's name
# now (NULL once the connection is deleted here), one primary-key lookup per row of a page.
_COLS = ("m.id, m.role, m.content, m.created_at, m.seq, m.model, m.status, m.error, m.parent_id, "
         "(SELECT a.name FROM agent_connections a WHERE a.id = m.agent_connection_id), m.tool_calls")


def list_threads(db) -> list[ThreadInfo]:
    with db.session() as s:
        return threads.list_threads_in(s)


def count_messages(db, conversation_id: str) -> int:
    with db.session() as s:
        return threads.count_messages_in(s, conversation_id)


def _row(r) -> MessageRow:
    message_id, role, content, created_at, seq, model, status, error, parent_id, connection_name, calls = r
    author = reply_author(connection_name, model) if role == "assistant" else None
    return MessageRow(message_id, role, content, created_at, order=(seq, message_id), author=author,
                      status=status or "done", error=error if status == "error" else None, parent_id=parent_id,
                      tool_calls=_calls(calls) if role == "assistant" else None)


def _calls(value) -> list | None:
    """messages.tool_calls as stored (JSON text), read tolerantly: a row from elsewhere may hold anything."""
    if not value:
        return None
    try:
        calls = json.loads(value) if isinstance(value, str | bytes) else value
    except ValueError:
        return None
    return calls if isinstance(calls, list) and calls else None


def _walk(db, conversation_id: str, start: str | None, limit: int, stop_at: str | None = None) -> list[MessageRow]:
    """The path down to `start`, oldest first: its last `limit` messages, or from `stop_at` on."""
    if not start or limit <= 0:
        return []
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            tree.UP_SQL + f"SELECT {_COLS} FROM up JOIN messages m ON m.id = up.id ORDER BY up.depth DESC",
            {"start": start, "cid": conversation_id, "stop": stop_at, "limit": min(limit, tree.PATH_LIMIT)}).fetchall()
    return [_row(r) for r in rows]


def _rows(db, ids: list[str]) -> list[MessageRow]:
    """These messages, in the order given (a stretch of a path)."""
    found: dict[str, MessageRow] = {}
    with db.engine.connect() as conn:
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for r in conn.exec_driver_sql(f"SELECT {_COLS} FROM messages m WHERE m.id IN "
                                          f"({','.join('?' * len(chunk))})", tuple(chunk)):
                found[r[0]] = _row(r)
    return [found[i] for i in ids if i in found]


def _leaf(db, conversation_id: str) -> str | None:
    from local_schema.models import Conversation

    with db.session() as s:
        conversation = s.get(Conversation, conversation_id)
        return tree.active_leaf_in(s, conversation) if conversation is not None else None


def _path_below(db, conversation_id: str, leaf: str | None, message_id: str) -> list[str] | None:
    """The ids of the active path from `message_id` down to the leaf, or None when it is not on the path."""
    with db.session() as s:
        ids = tree.path_ids_in(s, conversation_id, leaf, stop_at=message_id)
    return ids if ids and ids[0] == message_id else None


def older_than(db, conversation_id: str, key: tuple | None, limit: int) -> tuple[list[MessageRow], bool]:
    """The `limit` messages of the path just above `key` (None: the active leaf's), oldest first; and
    whether more precede."""
    if key is None:
        rows = _walk(db, conversation_id, _leaf(db, conversation_id), limit + 1)
    else:
        rows = _walk(db, conversation_id, key[1], limit + 2)[:-1]  # the walk starts at the key's own row
    return rows[-limit:] if limit else [], len(rows) > limit


def newer_than(db, conversation_id: str, key: tuple | None, limit: int) -> tuple[list[MessageRow], bool]:
    """The `limit` messages of the active path just below `key`, oldest first; and whether more follow.
    Nothing when `key` is no longer on the active path (the refresh shows the new one)."""
    leaf = _leaf(db, conversation_id)
    if key is None:  # from the first message
        with db.session() as s:
            below = tree.path_ids_in(s, conversation_id, leaf)
    else:
        on_path = _path_below(db, conversation_id, leaf, key[1])
        below = on_path[1:] if on_path is not None else []
    return _rows(db, below[:limit]), len(below) > limit


@dataclass
class Window:
    conversation_id: str
    rows: list[MessageRow]
    has_older: bool
    has_newer: bool
    unanswered: str | None = None  # id of a question at the end of the path that never got a reply


def tail_window(db, conversation_id: str, size: int) -> Window:
    """The last `size` messages of the active path: what a thread shows when it opens."""
    rows, older = older_than(db, conversation_id, None, size)
    unanswered = rows[-1].id if rows and rows[-1].role == "user" else None
    return Window(conversation_id, rows, older, False, unanswered)


def window_around(db, message_id: str, size: int) -> tuple[Window, str] | None:
    """A window of about `size` messages with `message_id` a third of the way down. A message on another
    branch than the active one makes its branch the active one first (agent.chat.tree.switch): the transcript
    always shows what the next message continues."""
    with db.engine.connect() as conn:
        found = conn.exec_driver_sql("SELECT conversation_id FROM messages WHERE id = ? AND deleted_at IS NULL",
                                     (message_id,)).fetchone()
    if found is None:
        return None
    conversation_id = found[0]
    leaf = _leaf(db, conversation_id)
    below = _path_below(db, conversation_id, leaf, message_id)
    if below is None:
        try:
            leaf = tree.switch(db, conversation_id, message_id)
        except ValueError:  # deleted meanwhile
            return None
        below = _path_below(db, conversation_id, leaf, message_id) or [message_id]
    above = _walk(db, conversation_id, message_id, size // 3 + 2)
    hit, above = above[-1:], above[:-1]
    older = len(above) > size // 3
    above = above[-(size // 3):] if size // 3 else []
    after_ids = below[1:]
    room = max(0, size - len(above) - 1)
    return Window(conversation_id, above + hit + _rows(db, after_ids[:room]), older, len(after_ids) > room), message_id


@dataclass
class Refresh:
    """What a shown window holds now: `rows` replace the stored rows between its ends."""

    conversation_id: str
    rows: list[MessageRow]
    has_older: bool
    has_newer: bool


def refresh_window(db, conversation_id: str, shown: list[str], has_older: bool, has_newer: bool,
                   cap: int) -> Refresh:
    """Re-read the window the transcript shows (stored rows `shown`, oldest first) after sync or a turn
    wrote into the thread: the active path from the first shown message down to the last one shown (or to
    the leaf when the window reached it), at most `cap` rows. When the first shown message is no longer on
    the active path (the leaf moved to another branch, on another device or here), the path's newest page."""
    if not shown:  # nothing stored was shown (an empty thread): show its newest page
        window = tail_window(db, conversation_id, cap)
        return Refresh(conversation_id, window.rows, window.has_older, False)
    leaf = _leaf(db, conversation_id)
    ids = _path_below(db, conversation_id, leaf, shown[0])
    if ids is None:
        window = tail_window(db, conversation_id, min(cap, max(len(shown), 1)))
        return Refresh(conversation_id, window.rows, window.has_older, False)
    if has_newer and shown[-1] in ids:
        end = ids.index(shown[-1]) + 1
        more = end < len(ids)
        ids = ids[:end]
    else:
        more = False
    rows = _rows(db, ids[:cap])
    older = has_older and bool(rows) and rows[0].parent_id is not None  # a first message has nothing above
    return Refresh(conversation_id, rows, older, more or len(ids) > cap)
