"""Storing one imported thread: one transaction per conversation, through LocalDatabase.write().

So a conversation is stored whole or not at all (a failure, a Cancel or a cut-off file never leaves one
half-written), every row is an ordinary row the change capture sends to the server, and a long import
never holds the write lock for more than one conversation at a time.

- A new thread: the conversation and all its messages, each `parent_id` its nearest kept ancestor (an
  explicit None for a first message), `active_leaf_id` the export's current message.
- A thread imported before (the record in sync_meta, or the same deterministic id already here, e.g.
  pulled from another device that imported the file): unchanged → nothing is written at all; changed (a
  later export of a conversation that went on) → only the messages it lacks are added, and the active
  leaf moves to the export's. Its title and the messages already here are left as they are (they may
  have been renamed or edited here). Messages are not remembered one by one, so a branch deleted here
  comes back with such a later export (signed in, the next sync finds it deleted on the server and
  deletes it here again); an unchanged export never brings anything back.
- A thread imported before and deleted here stays deleted.

Order: `seq` is the message's time in microseconds, but always after its parent's, so a reply follows
its question even when the export's clock says otherwise (a missing time, an edit).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from agent.imports import ids
from agent.imports.model import ImportedThread, ImportFailed
from local_schema.database import LocalDatabase
from local_schema.models import Conversation, Message
from local_schema.timestamps import format_timestamp, to_micros, utc_now

ADDED, UPDATED, UNCHANGED, DELETED_HERE, EMPTY = "added", "updated", "unchanged", "deleted here", "empty"
LOOKUP_CHUNK = 500  # ids per `IN (...)` (SQLite allows many more; this keeps each statement small)


@dataclass
class Outcome:
    status: str  # ADDED | UPDATED | UNCHANGED | DELETED_HERE | EMPTY
    conversation_id: str | None = None
    added: int = 0  # messages stored
    skipped: int = 0  # messages not stored because their parent is gone here
    truncated: int = 0  # of those stored, cut to the message limit


def write_thread(db: LocalDatabase, thread: ImportedThread, account_id: str | None,
                 position: int | None = None) -> Outcome:
    """Store `thread` (or what it adds to the one already here); ImportFailed if the database refuses."""
    if not thread.messages:
        return Outcome(EMPTY)
    with db.session() as session:  # a re-import settles most threads with a read, no write lock
        settled = _settled(session, thread, ids.read_record_in(session, thread.source, thread.source_id))
    if settled is not None:
        return settled
    try:
        with db.write() as session:  # the messages go in as one executemany, not as objects
            return _write(session, thread, account_id)
    except SQLAlchemyError as exc:
        where = f"conversation {position} " if position is not None else "conversation "
        problem = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise ImportFailed(f"{where}“{thread.title}” could not be stored ({problem}); nothing of it was "
                           "written") from exc


def _settled(session, thread: ImportedThread, record: ids.Record | None) -> Outcome | None:
    """UNCHANGED or DELETED_HERE when the record says so, else None (there is something to write)."""
    if record is None:
        return None
    conversation = session.get(Conversation, record.conversation_id)
    if conversation is None or conversation.deleted_at is not None:
        return Outcome(DELETED_HERE, record.conversation_id)  # imported, then deleted: it stays deleted
    if record.digest == thread.digest():
        return Outcome(UNCHANGED, record.conversation_id)
    return None


def _write(session, thread: ImportedThread, account_id: str | None) -> Outcome:
    record = ids.read_record_in(session, thread.source, thread.source_id)
    settled = _settled(session, thread, record)  # again, in the write transaction: nothing ran between
    if settled is not None:
        return settled
    conversation_id = record.conversation_id if record is not None else _known_id(session, thread, account_id)
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None and conversation.deleted_at is not None:
        return Outcome(DELETED_HERE, conversation_id)  # deleted on another device, its tombstone pulled here

    outcome = Outcome(ADDED if conversation is None else UPDATED, conversation_id)
    if conversation is None:
        conversation = Conversation(id=conversation_id, user_id=account_id, title=thread.title,
                                    created_at=format_timestamp(thread.created_at))
        session.add(conversation)
        existing: set[str] = set()
        seqs: dict[str, int] = {}  # message id -> seq, of the live messages here and those added
    else:
        existing, seqs = _existing(session, conversation_id, thread)

    owner, now = account_id or conversation.user_id, utc_now()
    message_ids = {m.source_id: ids.message_uuid(conversation_id, thread.source, m.source_id) for m in thread.messages}
    rows = []
    for message in thread.messages:
        row_id = message_ids[message.source_id]
        if row_id in existing:
            continue
        parent_id = message_ids[message.parent_source_id] if message.parent_source_id else None
        if parent_id is not None and parent_id not in seqs:
            outcome.skipped += 1  # its parent was deleted here (or skipped just now): the branch stays gone
            continue
        created = format_timestamp(message.created_at)
        at = max(1, to_micros(created))
        seq = max(at, seqs[parent_id] + 1) if parent_id is not None else at
        seqs[row_id] = seq
        rows.append({"id": row_id, "user_id": owner, "conversation_id": conversation_id, "role": message.role,
                     "content": message.content, "seq": seq, "parent_id": parent_id, "agent_connection_id": None,
                     "model": message.model, "status": "done", "error": None, "deleted_at": None,
                     "created_at": created, "updated_at": now})
        outcome.truncated += message.truncated
    outcome.added = len(rows)
    if rows or outcome.status == ADDED:
        leaf = message_ids.get(thread.active_leaf) if thread.active_leaf else None
        if leaf in seqs:
            conversation.active_leaf_id = leaf
            session.add(conversation)
        session.flush()  # the conversation before its messages (they reference it)
        if rows:
            session.execute(insert(Message.__table__), rows)
    ids.write_record_in(session, thread.source, thread.source_id, ids.Record(conversation_id, thread.digest()))
    if outcome.status == UPDATED and not rows:
        outcome.status = UNCHANGED  # known here (e.g. synced from another device), nothing new in the file
    return outcome


def _known_id(session, thread: ImportedThread, account_id: str | None) -> str:
    """The id of a thread this database has no record of: under the account's namespace, else (signed
    out) this database's salt. A first sign-in keeps the records (they are in the file it claims), so
    threads imported while signed out are found by their record, not by this id."""
    salt = None if account_id else ids.database_salt_in(session, create=True)
    return ids.conversation_uuid(ids.namespace(account_id, salt), thread.source, thread.source_id)


def _existing(session, conversation_id: str, thread: ImportedThread) -> tuple[set[str], dict[str, int]]:
    """The ids of the export's messages that are here (never inserted again), and id -> seq of the live
    ones (the parents new messages may hang under)."""
    wanted = [ids.message_uuid(conversation_id, thread.source, m.source_id) for m in thread.messages]
    here: set[str] = set()
    live: dict[str, int] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        for row_id, seq, deleted_at in session.exec(select(Message.id, Message.seq, Message.deleted_at).where(
                Message.id.in_(wanted[start:start + LOOKUP_CHUNK]))).all():
            here.add(row_id)
            if deleted_at is None:
                live[row_id] = seq
    return here, live
