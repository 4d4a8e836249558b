"""Read queries the Console needs, shaped for the views (no Qt; run inside background ops).

Thread logic lives in agent.threads; this module only adapts it to windows of a long thread: the
Console never loads a whole 10,000-message thread, only the page it shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from agent import threads
from desktop.models.transcript_model import MessageRow

ThreadInfo = threads.ThreadSummary


def list_threads(db) -> list[ThreadInfo]:
    with db.session() as s:
        return threads.list_threads(s)


def count_messages(db, conversation_id: str) -> int:
    with db.session() as s:
        return threads.count_messages(s, conversation_id)


def _row(m) -> MessageRow:
    return MessageRow(m.id, m.role, m.content, m.created_at)


def load_page(db, conversation_id: str, offset: int, limit: int) -> list[MessageRow]:
    with db.session() as s:
        return [_row(m) for m in threads.thread_messages(s, conversation_id, max(0, offset), limit)]


def position_of(db, message_id: str) -> tuple[str, int] | None:
    """(conversation id, index of the message within its thread), or None if it is gone."""
    with db.engine.connect() as conn:
        found = conn.execute(
            text("SELECT conversation_id, created_at, rowid FROM messages WHERE id = :m AND deleted_at IS NULL"),
            {"m": message_id},
        ).first()
        if found is None:
            return None
        conversation_id, created_at, rowid = found
        # Same order as agent.threads.thread_messages: created_at, then rowid.
        before = conn.execute(
            text(
                "SELECT count(*) FROM messages WHERE conversation_id = :c AND deleted_at IS NULL "
                "AND (created_at < :t OR (created_at = :t AND rowid < :r))"
            ),
            {"c": conversation_id, "t": created_at, "r": rowid},
        ).scalar_one()
        return conversation_id, before


@dataclass
class Window:
    conversation_id: str
    rows: list[MessageRow]
    offset: int
    total: int
    unanswered: str | None = None  # id of a trailing user message that never got a reply


def tail_window(db, conversation_id: str, size: int) -> Window:
    with db.session() as s:
        total = threads.count_messages(s, conversation_id)
        offset = max(0, total - size)
        rows = [_row(m) for m in threads.thread_messages(s, conversation_id, offset, size)]
    unanswered = rows[-1].id if rows and rows[-1].role == "user" else None
    return Window(conversation_id, rows, offset, total, unanswered)


def window_around(db, message_id: str, size: int) -> tuple[Window, str] | None:
    found = position_of(db, message_id)
    if found is None:
        return None
    conversation_id, index = found
    total = count_messages(db, conversation_id)
    offset = max(0, min(index - size // 3, total - size))
    return Window(conversation_id, load_page(db, conversation_id, offset, size), offset, total), message_id
