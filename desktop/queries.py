"""Read queries the Console needs, shaped for the views (no Qt; run inside background ops).

Thread logic lives in agent.threads; this module only adapts it to windows of a long thread: the
Console never loads a whole 10,000-message thread, only the page it shows.

Windows are addressed by key, never by OFFSET: a page is "the 120 messages before this key", and
a refresh is "every message between the first and the last key shown". Sync can land rows anywhere
in a thread (another device's messages, older ones arriving late); an OFFSET-addressed page would then
skip or repeat rows, a keyed one cannot. The key is ORDER below: the transcript's one order.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent import threads
from agent.authorship import reply_author
from desktop.models.transcript_model import MessageRow

ThreadInfo = threads.ThreadSummary

# The transcript's order (agent.threads.thread_messages uses the same): messages.seq, which sync never
# rewrites (created_at is each writing device's own clock), then the id, which breaks a tie the same way
# on every device.
ORDER = ("seq", "id")
# A reply is shown under what wrote it (agent.authorship): its recorded model and its connection's name
# now (NULL once the connection is deleted here), one primary-key lookup per row of a page.
_COLS = ("id, role, content, created_at, seq, model, "
         "(SELECT a.name FROM agent_connections a WHERE a.id = messages.agent_connection_id)")
_LIVE = "conversation_id = ? AND deleted_at IS NULL"


def list_threads(db) -> list[ThreadInfo]:
    with db.session() as s:
        return threads.list_threads(s)


def count_messages(db, conversation_id: str) -> int:
    with db.session() as s:
        return threads.count_messages(s, conversation_id)


def _row(r) -> MessageRow:
    message_id, role, content, created_at, seq, model, connection_name = r
    author = reply_author(connection_name, model) if role == "assistant" else None
    return MessageRow(message_id, role, content, created_at, order=(seq, message_id), author=author)


def _select(db, sql: str, params: tuple) -> list:
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(sql, params).fetchall()


def older_than(db, conversation_id: str, key: tuple | None, limit: int) -> tuple[list[MessageRow], bool]:
    """The `limit` messages just before `key` (None: the newest), oldest first; and whether more precede."""
    where, params = _LIVE, (conversation_id,)
    if key is not None:
        where += " AND (seq, id) < (?, ?)"
        params += (key[0], key[1])
    rows = _select(db, f"SELECT {_COLS} FROM messages WHERE {where} ORDER BY seq DESC, id DESC LIMIT ?",
                   (*params, limit + 1))
    return [_row(r) for r in reversed(rows[:limit])], len(rows) > limit


def newer_than(db, conversation_id: str, key: tuple | None, limit: int) -> tuple[list[MessageRow], bool]:
    """The `limit` messages just after `key` (None: from the first), oldest first; and whether more follow."""
    where, params = _LIVE, (conversation_id,)
    if key is not None:
        where += " AND (seq, id) > (?, ?)"
        params += (key[0], key[1])
    rows = _select(db, f"SELECT {_COLS} FROM messages WHERE {where} ORDER BY seq, id LIMIT ?",
                   (*params, limit + 1))
    return [_row(r) for r in rows[:limit]], len(rows) > limit


def between(db, conversation_id: str, first: tuple | None, last: tuple | None, limit: int) -> list[MessageRow]:
    """Every message from key `first` to key `last` inclusive (None = open end), oldest first, at most
    `limit` (from the first): what a shown window holds now, after sync wrote into it."""
    where, params = _LIVE, (conversation_id,)
    if first is not None:
        where += " AND (seq, id) >= (?, ?)"
        params += (first[0], first[1])
    if last is not None:
        where += " AND (seq, id) <= (?, ?)"
        params += (last[0], last[1])
    rows = _select(db, f"SELECT {_COLS} FROM messages WHERE {where} ORDER BY seq, id LIMIT ?",
                   (*params, limit))
    return [_row(r) for r in rows]


def keys_of(db, message_ids: list[str]) -> dict[str, tuple]:
    """The current keys of these messages (a key never changes once the row is stored with its seq;
    asked anyway, so a row whose seq was filled in after it was shown is found where it is)."""
    if not message_ids:
        return {}
    marks = ",".join("?" * len(message_ids))
    rows = _select(db, f"SELECT id, seq FROM messages WHERE id IN ({marks})", tuple(message_ids))
    return {r[0]: (r[1], r[0]) for r in rows}


@dataclass
class Window:
    conversation_id: str
    rows: list[MessageRow]
    has_older: bool
    has_newer: bool
    unanswered: str | None = None  # id of a trailing user message that never got a reply


def tail_window(db, conversation_id: str, size: int) -> Window:
    rows, older = older_than(db, conversation_id, None, size)
    unanswered = rows[-1].id if rows and rows[-1].role == "user" else None
    return Window(conversation_id, rows, older, False, unanswered)


def window_around(db, message_id: str, size: int) -> tuple[Window, str] | None:
    """A window of about `size` messages with `message_id` a third of the way down."""
    found = _select(db, "SELECT conversation_id, seq FROM messages WHERE id = ? AND deleted_at IS NULL",
                    (message_id,))
    if not found:
        return None
    conversation_id, seq = found[0]
    key = (seq, message_id)
    before, older = older_than(db, conversation_id, key, size // 3)
    after, newer = newer_than(db, conversation_id, key, size - len(before) - 1)
    hit = between(db, conversation_id, key, key, 1)
    return Window(conversation_id, before + hit + after, older, newer), message_id


@dataclass
class Refresh:
    """What a shown window holds now: `rows` replace the stored rows between its ends."""

    conversation_id: str
    rows: list[MessageRow]
    has_older: bool
    has_newer: bool


def refresh_window(db, conversation_id: str, shown: list[str], has_older: bool, has_newer: bool,
                   old_first: tuple | None, old_last: tuple | None, cap: int) -> Refresh:
    """Re-read the window the transcript shows (stored rows `shown`, oldest first) after sync wrote into
    the thread. Its ends are the first and last shown messages' keys as they are now (the old keys if
    those messages are gone); a window at the start or end of the thread stays open at that side, so
    messages that arrived before or after it are taken in (up to `cap` rows in all)."""
    if not shown:  # nothing stored was shown (an empty thread): show its newest page
        window = tail_window(db, conversation_id, cap)
        return Refresh(conversation_id, window.rows, window.has_older, False)
    keys = keys_of(db, [shown[0], shown[-1]])
    first = (keys.get(shown[0]) or old_first or None) if has_older else None
    last = (keys.get(shown[-1]) or old_last or None) if has_newer else None
    rows = between(db, conversation_id, first, last, cap + 1)
    return Refresh(conversation_id, rows[:cap], has_older, has_newer or len(rows) > cap)
