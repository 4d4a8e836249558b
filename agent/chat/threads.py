"""Console threads: create, rename, delete, list by recent activity, every message in thread order.

A thread is a tree of messages (agent.chat.tree): what it shows and sends is its active path; the functions
here see every message of every branch."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from local_schema.database import LocalDatabase
from local_schema.models import AgentConnection, Conversation, Message, sane_seq_ceiling
from local_schema.timestamps import now_micros

TITLE_LENGTH = 60
TITLE_LIMIT = 500  # conversations.title on the server


def default_title(text: str, limit: int = TITLE_LENGTH) -> str:
    """The start of the first user message, on one line, cut at a word boundary with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line or "New thread"
    cut = line[:limit].rsplit(" ", 1)[0] if " " in line[:limit] else line[:limit]
    return cut.rstrip(" ,.;:") + "…"


# The writers take the database, not a session: each is one write() transaction (BEGIN IMMEDIATE), so
# a sync commit landing between its read and its write makes it wait instead of failing.
def new_thread(db: LocalDatabase, connection_id: str | None = None, title: str | None = None) -> Conversation:
    """A new empty thread bound to `connection_id`. The title comes from the first message."""
    with db.write() as session:
        owner = None
        if connection_id is not None:
            connection = session.get(AgentConnection, connection_id)
            if connection is None:
                raise ValueError("That connection no longer exists.")
            owner = connection.user_id
        conversation = Conversation(user_id=owner, agent_connection_id=connection_id, title=title)
        session.add(conversation)
    return conversation


def rename_thread(db: LocalDatabase, conversation_id: str, title: str) -> Conversation:
    title = " ".join((title or "").split())
    if not title:
        raise ValueError("A thread title cannot be empty.")
    if len(title) > TITLE_LIMIT:  # the server's limit: a longer title could never sync
        title = default_title(title, TITLE_LIMIT - 1)
    with db.write() as session:
        conversation = _live(session, conversation_id)
        conversation.title = title
        session.add(conversation)
    return conversation


def delete_thread(db: LocalDatabase, conversation_id: str) -> None:
    """Delete the thread and its messages (a real local delete; sync pushes one tombstone for the
    thread and the server cascades it to the messages)."""
    with db.write() as session:  # the messages go by ON DELETE CASCADE
        session.delete(_live(session, conversation_id))


def _live(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.deleted_at is not None:
        raise ValueError("That thread no longer exists.")
    return conversation


@dataclass(frozen=True)
class ThreadSummary:
    id: str
    title: str
    agent_connection_id: str | None
    last_activity: str  # newest message time, or the thread's creation time
    message_count: int  # every branch's
    row: Conversation | None = None  # the thread itself (its settings, its active leaf)


def list_threads(db: LocalDatabase) -> list[ThreadSummary]:
    """Live threads, most recently active first (what the Console, the Mirror and the CLI list)."""
    with db.session() as session:
        return list_threads_in(session)


def list_threads_in(session: Session) -> list[ThreadSummary]:
    """Live threads, most recent activity first."""
    last = func.max(Message.created_at)
    query = (
        select(Conversation, last, func.count(Message.id))
        .join(Message, (Message.conversation_id == Conversation.id) & Message.deleted_at.is_(None), isouter=True)
        .where(Conversation.deleted_at.is_(None))
        .group_by(Conversation.id)
    )
    rows = [(c, latest or c.created_at, count) for c, latest, count in session.exec(query).all()]
    rows.sort(key=lambda row: (row[1], row[0].id), reverse=True)
    return [ThreadSummary(c.id, c.title or "New thread", c.agent_connection_id, activity, count, c)
            for c, activity, count in rows]


def count_messages_in(session: Session, conversation_id: str) -> int:
    query = select(func.count(Message.id)).where(Message.conversation_id == conversation_id,
                                                 Message.deleted_at.is_(None))
    return session.exec(query).one()


def next_seq_in(session: Session, conversation_id: str) -> int:
    """The `seq` of a message about to be added to the thread: a hybrid logical clock in microseconds,
    max(this device's clock, the thread's largest seq + 1). It follows everything the thread holds here,
    whatever this device's clock says; between devices that have synced, it keeps their order too.
    A seq more than SEQ_SANE_AHEAD_US after this clock is not followed (models.sane_seq_ceiling)."""
    now = now_micros()
    largest = session.exec(select(func.max(Message.seq)).where(
        Message.conversation_id == conversation_id, Message.seq <= sane_seq_ceiling(now))).one()
    return max(now, (largest or 0) + 1)


# Thread order is (seq, id) everywhere: seq is never rewritten by sync (nor is created_at), and id
# breaks the tie two devices could make identically on every device (rowid differs between devices).
IN_ORDER = (Message.seq, Message.id)


def thread_messages_in(session: Session, conversation_id: str, offset: int = 0,
                    limit: int | None = None) -> list[Message]:
    """Every live message of every branch in thread order (seq, id); `offset`/`limit` page through
    long threads. What the thread shows is its active path (agent.chat.tree.active_path_in)."""
    query = (select(Message)
             .where(Message.conversation_id == conversation_id, Message.deleted_at.is_(None))
             .order_by(*IN_ORDER)
             .offset(offset))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query).all())
