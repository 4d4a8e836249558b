"""Conversations as trees (issue 21), without Qt: the active path, siblings, the leaf, and the operations
that move through a tree, copy it or change it in place. docs/console.md describes the model.

- Every message names its parent (`messages.parent_id`, None for a first message); siblings share one
  and are read by query, oldest first by (seq, id). Nothing stores child lists.
- The thread's `active_leaf_id` is the message at the end of the branch the person reads. It is synced,
  last writer wins, and read tolerantly (`active_leaf_in`): when it is missing, deleted or names another
  thread's message, the thread's newest leaf is used; when replies were added under it (another
  device), its newest leaf. The active path is the walk from that leaf up to the first message.
- A message whose parent is not here (a page not pulled yet, a parent deleted elsewhere) starts its path.
- Failed replies (status "error") stay in the tree as siblings; agent.prompt never sends them.

Chat turns (send, regenerate, retry, edit & resend, compare) are agent.chat.turn; this module reads trees and
does what needs no model: switch, fork, edit in place, delete a branch, thread settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, select

from agent.attachments.store import copy_attachments_in
from agent.storable import clean_text
from local_schema.database import LocalDatabase
from local_schema.models import AgentConnection, Conversation, Message

PATH_LIMIT = 100_000  # steps any walk takes at most: a path is never longer, and forged cycles end here
MESSAGE_LIMIT = 200_000  # messages.content on the server
TITLE_LIMIT = 500  # conversations.title on the server
TEMPERATURE_RANGE = (0.0, 2.0)
MAX_TOKENS_RANGE = (1, 1_000_000)
STOP_COUNT, STOP_LENGTH = 4, 200
SYSTEM_ADDITION_LIMIT = 20_000

# From `start` up towards the first message, through live messages of the thread only; `stop` ends the walk
# once reached (kept). Depth 0 is `start`.
UP_SQL = """
WITH RECURSIVE up(id, parent_id, depth) AS (
  SELECT id, parent_id, 0 FROM messages WHERE id = :start AND conversation_id = :cid AND deleted_at IS NULL
  UNION ALL
  SELECT m.id, m.parent_id, up.depth + 1 FROM up JOIN messages m ON m.id = up.parent_id
   WHERE m.conversation_id = :cid AND m.deleted_at IS NULL AND up.id IS NOT :stop AND up.depth + 1 < :limit
)
"""
# Every live message below `start` (and `start` itself at depth 0).
DOWN_SQL = """
WITH RECURSIVE down(id, depth) AS (
  SELECT id, 0 FROM messages WHERE id = :start AND conversation_id = :cid AND deleted_at IS NULL
  UNION ALL
  SELECT m.id, down.depth + 1 FROM down JOIN messages m ON m.conversation_id = :cid AND m.parent_id = down.id
   WHERE m.deleted_at IS NULL AND down.depth + 1 < :limit
)
"""
_NO_LIVE_CHILD = ("NOT EXISTS (SELECT 1 FROM messages c WHERE c.conversation_id = m.conversation_id "
                  "AND c.parent_id = m.id AND c.deleted_at IS NULL)")


# --- reading -------------------------------------------------------------------------------------------
def path_to_in(session: Session, conversation_id: str, message_id: str | None, limit: int = PATH_LIMIT,
            stop_at: str | None = None) -> list[Message]:
    """The path from the first message down to `message_id`, oldest first: its last `limit` messages
    only, or those from `stop_at` on when the walk meets it. [] when the message is not a live message
    of the thread."""
    if not message_id or limit <= 0:
        return []
    query = select(Message).from_statement(text(
        UP_SQL + "SELECT m.* FROM up JOIN messages m ON m.id = up.id ORDER BY up.depth DESC"))
    params = {"start": message_id, "cid": conversation_id, "stop": stop_at, "limit": min(limit, PATH_LIMIT)}
    return list(session.execute(query, params).scalars().all())


def path_ids_in(session: Session, conversation_id: str, message_id: str | None, limit: int = PATH_LIMIT,
             stop_at: str | None = None) -> list[str]:
    """`path_to_in`, ids only (cheaper for long walks)."""
    if not message_id or limit <= 0:
        return []
    rows = session.execute(text(UP_SQL + "SELECT id FROM up ORDER BY depth DESC"),
                           {"start": message_id, "cid": conversation_id, "stop": stop_at,
                            "limit": min(limit, PATH_LIMIT)}).all()
    return [r[0] for r in rows]


def newest_leaf_in(session: Session, conversation_id: str, under: str | None = None) -> str | None:
    """The newest (by seq, id) live message with no live reply: in the whole thread, or below `under`
    (`under` itself when nothing is below it). None for an empty thread or an `under` that is not here."""
    if under is None:
        return session.execute(text(
            f"SELECT id FROM messages m WHERE conversation_id = :cid AND deleted_at IS NULL AND {_NO_LIVE_CHILD} "
            "ORDER BY seq DESC, id DESC LIMIT 1"), {"cid": conversation_id}).scalar()
    if not _has_children(session, conversation_id, under):
        live = session.get(Message, under)
        return under if live is not None and live.conversation_id == conversation_id and live.deleted_at is None \
            else None
    return session.execute(text(
        DOWN_SQL + f"SELECT m.id FROM down JOIN messages m ON m.id = down.id WHERE {_NO_LIVE_CHILD} "
        "ORDER BY m.seq DESC, m.id DESC LIMIT 1"), {"start": under, "cid": conversation_id, "limit": PATH_LIMIT}).scalar()


def _has_children(session: Session, conversation_id: str, message_id: str) -> bool:
    return session.execute(text(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = :cid AND parent_id = :id "
        "AND deleted_at IS NULL)"), {"cid": conversation_id, "id": message_id}).scalar() == 1


def active_leaf_in(session: Session, conversation: Conversation) -> str | None:
    """The end of the branch the thread shows: its stored leaf when that is a live message of the thread
    (followed down to its newest leaf if replies were added below it), else the thread's newest leaf."""
    stored = conversation.active_leaf_id
    if stored:
        message = session.get(Message, stored)
        if message is not None and message.conversation_id == conversation.id and message.deleted_at is None:
            return newest_leaf_in(session, conversation.id, under=stored)
    return newest_leaf_in(session, conversation.id)


def active_path_in(session: Session, conversation_id: str, limit: int = PATH_LIMIT) -> list[Message]:
    """The messages the thread shows, oldest first (its last `limit`)."""
    conversation = live_thread_in(session, conversation_id)
    return path_to_in(session, conversation_id, active_leaf_in(session, conversation), limit)


def children_in(session: Session, conversation_id: str, parent_id: str | None) -> list[Message]:
    """The live replies to `parent_id` (None: the thread's first messages), oldest first."""
    parent = Message.parent_id.is_(None) if parent_id is None else Message.parent_id == parent_id
    return list(session.exec(select(Message).where(Message.conversation_id == conversation_id, parent,
                                                    Message.deleted_at.is_(None))
                             .order_by(Message.seq, Message.id)).all())


def siblings_in(session: Session, message: Message) -> list[Message]:
    """`message` and the other replies to its parent, oldest first."""
    return children_in(session, message.conversation_id, message.parent_id)


def sibling_groups_in(session: Session, conversation_id: str, parent_ids) -> dict[str | None, tuple[str, ...]]:
    """For each parent in `parent_ids` (None: the thread's first messages), the ids of its live replies,
    oldest first: the siblings ‹ i/N › steps through. One query per 500 parents (index messages_parent)."""
    wanted = list(dict.fromkeys(parent_ids))
    groups: dict[str | None, list[tuple[int, str]]] = {p: [] for p in wanted}
    # Sorted here, not by ORDER BY: with it SQLite walks the whole thread by seq instead of the parent index.
    base = "SELECT parent_id, seq, id FROM messages WHERE conversation_id = :cid AND deleted_at IS NULL AND "
    if None in groups:
        for _parent, seq, mid in session.execute(text(base + "parent_id IS NULL"), {"cid": conversation_id}):
            groups[None].append((seq or 0, mid))
    real = [p for p in wanted if p is not None]
    for i in range(0, len(real), 500):
        chunk = real[i:i + 500]
        params = {"cid": conversation_id, **{f"p{j}": p for j, p in enumerate(chunk)}}
        marks = ",".join(f":p{j}" for j in range(len(chunk)))
        for parent, seq, mid in session.execute(text(base + f"parent_id IN ({marks})"), params):
            groups[parent].append((seq or 0, mid))
    return {p: tuple(mid for _seq, mid in sorted(rows)) for p, rows in groups.items()}


@dataclass(frozen=True)
class TreeRow:
    """One message of a whole tree (`mirari threads show --all`): where it sits among its siblings."""

    message: Message
    siblings: int  # how many messages share its parent (itself included)
    sibling_index: int  # its place among them, 1-based, oldest first: what ‹ i/N › shows
    on_path: bool  # on the active path


def tree_rows_in(session: Session, conversation_id: str) -> list[TreeRow]:
    """Every live message of the thread in thread order (seq, id)."""
    conversation = live_thread_in(session, conversation_id)
    messages = list(session.exec(select(Message).where(Message.conversation_id == conversation_id,
                                                       Message.deleted_at.is_(None))
                                 .order_by(Message.seq, Message.id)).all())
    groups: dict[str | None, list[str]] = {}
    for m in messages:
        groups.setdefault(m.parent_id, []).append(m.id)
    on_path = set(path_ids_in(session, conversation_id, active_leaf_in(session, conversation)))
    rows = []
    for m in messages:
        group = groups[m.parent_id]
        rows.append(TreeRow(m, len(group), group.index(m.id) + 1, m.id in on_path))
    return rows


def live_thread_in(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.deleted_at is not None:
        raise ValueError("That thread no longer exists.")
    return conversation


def live_message_in(session: Session, conversation_id: str, message_id: str) -> Message:
    message = session.get(Message, message_id)
    if message is None or message.deleted_at is not None or message.conversation_id != conversation_id:
        raise ValueError("That message is not in this thread (or was deleted).")
    return message


# --- moving through a tree -------------------------------------------------------------------------------
def switch(db: LocalDatabase, conversation_id: str, message_id: str) -> str:
    """Make the branch through `message_id` the active one: its newest leaf. Returns that leaf's id."""
    with db.write() as session:
        conversation = live_thread_in(session, conversation_id)
        live_message_in(session, conversation_id, message_id)
        leaf = newest_leaf_in(session, conversation_id, under=message_id)
        if conversation.active_leaf_id != leaf:
            conversation.active_leaf_id = leaf
            session.add(conversation)
    return leaf


def fork(db: LocalDatabase, conversation_id: str, message_id: str, title: str | None = None) -> Conversation:
    """A new thread holding a copy of the path from the first message to `message_id` (new ids; text,
    roles, times, order, authorship and status kept), with the thread's connection and settings; its
    active leaf is the copy of `message_id`. The questions' attachments are copied with them (same bytes).
    The original is not touched."""
    with db.write() as session:
        original = live_thread_in(session, conversation_id)
        live_message_in(session, conversation_id, message_id)
        path = path_to_in(session, conversation_id, message_id)
        name = title if title is not None else f"{original.title or 'Untitled thread'} (fork)"
        copy = Conversation(user_id=original.user_id, agent_connection_id=original.agent_connection_id,
                            title=" ".join(name.split())[:TITLE_LIMIT] or None, temperature=original.temperature,
                            max_tokens=original.max_tokens, stop_sequences=original.stop_sequences,
                            system_addition=original.system_addition)
        session.add(copy)
        parent = None
        asked: dict[str, Message] = {}  # the user messages copied: their attachments are copied too
        for m in path:
            duplicate = Message(user_id=m.user_id, conversation_id=copy.id, parent_id=parent, role=m.role,
                                content=m.content, seq=m.seq, created_at=m.created_at, status=m.status,
                                error=m.error, agent_connection_id=m.agent_connection_id, model=m.model)
            session.add(duplicate)
            parent = duplicate.id
            if m.role == "user":
                asked[m.id] = duplicate
        copy.active_leaf_id = parent
        copy_attachments_in(session, asked)
    return copy


# --- changing a tree -----------------------------------------------------------------------------------------
def checked_text(value: str) -> str:
    """A message's text as it can be stored and synced (no NUL, no lone surrogate, trimmed, bounded)."""
    value = clean_text(value or "").strip()
    if not value:
        raise ValueError("Type a message first.")
    if len(value) > MESSAGE_LIMIT:
        raise ValueError(f"This message is {len(value):,} characters long; the limit is {MESSAGE_LIMIT:,}. "
                         "Shorten it or split it into several messages.")
    return value


def edit_message(db: LocalDatabase, conversation_id: str, message_id: str, new_text: str) -> Message:
    """Save: change a message's text in place (a typo); nothing is asked again and no branch is made."""
    new_text = checked_text(new_text)
    with db.write() as session:
        live_thread_in(session, conversation_id)
        message = live_message_in(session, conversation_id, message_id)
        if message.content != new_text:
            message.content = new_text
            session.add(message)
    return message


def delete_branch(db: LocalDatabase, conversation_id: str, message_id: str) -> int:
    """Delete a message and everything below it (its replies and their branches); its siblings stay.
    Returns how many messages went. One tombstone is pushed (the message's); the server takes the
    subtree with it, so the descendants' deletes are not captured here. When the active path went
    through the branch, the thread shows the newest leaf under the message's parent instead."""
    with db.write() as session:
        conversation = live_thread_in(session, conversation_id)
        message = live_message_in(session, conversation_id, message_id)
        below = session.execute(text(DOWN_SQL + "SELECT id FROM down WHERE depth > 0"),
                                {"start": message_id, "cid": conversation_id, "limit": PATH_LIMIT}).scalars().all()
        leaf_gone = active_leaf_in(session, conversation) in {message_id, *below}
        parent_id = message.parent_id
        session.delete(message)
        session.flush()
        conn = session.connection()
        with db.applying_remote(conn):  # the server's tombstone cascade covers them
            for i in range(0, len(below), 500):
                chunk = below[i:i + 500]
                marks = ",".join("?" * len(chunk))
                conn.exec_driver_sql(f"DELETE FROM messages WHERE id IN ({marks})", tuple(chunk))
                conn.exec_driver_sql(f"DELETE FROM sync_outbox WHERE table_name = 'messages' AND state = 'pending' "
                                     f"AND row_id IN ({marks})", tuple(chunk))
        if leaf_gone:
            conversation.active_leaf_id = newest_leaf_in(session, conversation_id, under=parent_id) if parent_id else None
            session.add(conversation)
    return 1 + len(below)


def branch_size_in(session: Session, conversation_id: str, message_id: str) -> int:
    """How many messages `delete_branch` would remove (for the confirmation, hidden branches included)."""
    return session.execute(text(DOWN_SQL + "SELECT count(*) FROM down"),
                           {"start": message_id, "cid": conversation_id, "limit": PATH_LIMIT}).scalar() or 0


# --- thread settings -----------------------------------------------------------------------------------------
UNSET: Any = object()


@dataclass(frozen=True)
class ThreadSettings:
    """What a thread asks of every turn; None = the connection's default (temperature 0.7, no limit, no
    stop sequence, no addition to its system prompt)."""

    connection_id: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    system_addition: str | None = None

    def request_options(self) -> dict:
        """The request parameters these settings add (agent.llm.client.LLMClient.stream_chat keywords)."""
        options: dict = {}
        if self.temperature is not None:
            options["temperature"] = self.temperature
        if self.max_tokens is not None:
            options["max_tokens"] = self.max_tokens
        if self.stop:
            options["stop"] = list(self.stop)
        return options

    def to_dict(self) -> dict:
        return {"agent_connection_id": self.connection_id, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "stop_sequences": list(self.stop),
                "system_addition": self.system_addition}


def thread_settings(conversation: Conversation) -> ThreadSettings:
    """The settings stored on a thread, read tolerantly (a synced value is untrusted: anything out of
    bounds reads as unset, never as an error in the middle of a turn)."""
    temperature = conversation.temperature
    if not isinstance(temperature, int | float) or isinstance(temperature, bool) or not math.isfinite(temperature) \
            or not TEMPERATURE_RANGE[0] <= temperature <= TEMPERATURE_RANGE[1]:
        temperature = None
    max_tokens = conversation.max_tokens
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) \
            or not MAX_TOKENS_RANGE[0] <= max_tokens <= MAX_TOKENS_RANGE[1]:
        max_tokens = None
    raw_stop = conversation.stop_sequences if isinstance(conversation.stop_sequences, list) else []
    stop = tuple(s for s in raw_stop if isinstance(s, str) and 0 < len(s) <= STOP_LENGTH and "\x00" not in s)
    addition = conversation.system_addition
    addition = (clean_text(addition).strip()[:SYSTEM_ADDITION_LIMIT] or None) if isinstance(addition, str) else None
    return ThreadSettings(conversation.agent_connection_id, None if temperature is None else float(temperature),
                          max_tokens, stop[:STOP_COUNT], addition)


def set_settings(db: LocalDatabase, conversation_id: str, *, connection_id: Any = UNSET, temperature: Any = UNSET,
                 max_tokens: Any = UNSET, stop: Any = UNSET, system_addition: Any = UNSET) -> ThreadSettings:
    """Change some of a thread's settings (None clears one back to the connection's default); every value
    is checked first and nothing is written when one is wrong (ValueError naming it)."""
    changes: dict[str, Any] = {}
    if temperature is not UNSET:
        changes["temperature"] = None if temperature is None else _temperature(temperature)
    if max_tokens is not UNSET:
        changes["max_tokens"] = None if max_tokens is None else _max_tokens(max_tokens)
    if stop is not UNSET:
        changes["stop_sequences"] = _stop(stop or [])
    if system_addition is not UNSET:
        changes["system_addition"] = _addition(system_addition)
    with db.write() as session:
        conversation = live_thread_in(session, conversation_id)
        if connection_id is not UNSET:
            if connection_id is not None:
                connection = session.get(AgentConnection, connection_id)
                if connection is None or connection.deleted_at is not None:
                    raise ValueError("That connection no longer exists.")
            changes["agent_connection_id"] = connection_id
        for column, value in changes.items():
            setattr(conversation, column, value)
        session.add(conversation)
    return thread_settings(conversation)


def _temperature(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"The temperature must be a number from 0 to 2, not {value!r}.") from None
    if not math.isfinite(number) or not TEMPERATURE_RANGE[0] <= number <= TEMPERATURE_RANGE[1]:
        raise ValueError(f"The temperature must be from 0 to 2, not {value}.")
    return number


def _max_tokens(value: Any) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValueError(f"Max tokens must be a whole number from 1 to 1,000,000, not {value!r}.") from None
    if not MAX_TOKENS_RANGE[0] <= number <= MAX_TOKENS_RANGE[1]:
        raise ValueError(f"Max tokens must be from 1 to 1,000,000, not {number:,}.")
    return number


def _stop(values: Any) -> list[str] | None:
    if isinstance(values, str):
        values = [values]
    values = list(values)
    if len(values) > STOP_COUNT:
        raise ValueError(f"At most {STOP_COUNT} stop sequences (endpoints take no more); {len(values)} were given.")
    cleaned = []
    for value in values:
        if not isinstance(value, str) or not value or "\x00" in value or clean_text(value) != value:
            raise ValueError(f"A stop sequence must be non-empty text: {value!r}.")
        if len(value) > STOP_LENGTH:
            raise ValueError(f"A stop sequence has at most {STOP_LENGTH} characters; one has {len(value):,}.")
        cleaned.append(value)
    return cleaned or None


def _addition(value: Any) -> str | None:
    if value is None:
        return None
    value = clean_text(str(value)).strip()
    if len(value) > SYSTEM_ADDITION_LIMIT:
        raise ValueError(f"The system prompt addition has {len(value):,} characters; the limit is "
                         f"{SYSTEM_ADDITION_LIMIT:,}.")
    return value or None
