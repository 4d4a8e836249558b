"""Full-text search across all messages (FTS5 index `messages_fts`, created by migration v2).

User input is never passed to FTS5 as query syntax: each whitespace-separated word becomes a quoted
phrase (the last one a prefix, for search-as-you-type), so `foo"`, `AND(`, `NEAR` or `*` search for
themselves instead of raising.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlmodel import Session

# Snippet highlight markers: control characters that do not occur in typed text.
MARK_START = "\x02"
MARK_END = "\x03"
ELLIPSIS = "…"
MAX_TERMS = 32  # longer queries are truncated: they only slow FTS5 down without adding precision

_QUERY = text(
    """
    SELECT m.id, m.conversation_id, m.role, m.created_at,
           snippet(messages_fts, 0, :start, :end, :ellipsis, 12) AS snippet
    FROM messages_fts
    JOIN messages AS m ON m.rowid = messages_fts.rowid
    WHERE messages_fts MATCH :match
    ORDER BY messages_fts.rank, m.seq DESC, m.id DESC
    LIMIT :limit
    """
)


@dataclass(frozen=True)
class MessageHit:
    message_id: str
    conversation_id: str
    role: str
    snippet: str  # matched words wrapped in MARK_START / MARK_END
    created_at: str

    def snippet_html(self, tag: str = "b") -> str:
        """The snippet HTML-escaped, with matches wrapped in <tag>…</tag> (for Qt rich text)."""
        escaped = html.escape(self.snippet)
        return escaped.replace(MARK_START, f"<{tag}>").replace(MARK_END, f"</{tag}>")

    def snippet_plain(self) -> str:
        return self.snippet.replace(MARK_START, "").replace(MARK_END, "")


def build_match_expression(query: str) -> str | None:
    """An FTS5 MATCH expression for free user text: every word must occur, the last one as a prefix.

    Returns None when the query holds no searchable word.
    """
    # Control characters (NUL ends the string inside SQLite; our markers) are treated as spaces.
    cleaned = "".join(ch if ch.isprintable() else " " for ch in query)
    terms = [term for term in cleaned.split() if any(ch.isalnum() for ch in term)][:MAX_TERMS]
    if not terms:
        return None
    phrases = ['"' + term.replace('"', '""') + '"' for term in terms]
    phrases[-1] += "*"  # the word being typed matches as a prefix; whole words elsewhere are much faster
    return " ".join(phrases)


def search_messages(session: Session | Connection, query: str, limit: int = 50) -> list[MessageHit]:
    """Messages matching `query`, best match first (FTS5 rank), at most `limit`. Empty query -> []."""
    match = build_match_expression(query or "")
    if match is None or limit <= 0:
        return []
    rows = session.execute(
        _QUERY,
        {"match": match, "start": MARK_START, "end": MARK_END, "ellipsis": ELLIPSIS, "limit": int(limit)},
    ).all()
    return [
        MessageHit(
            message_id=row.id,
            conversation_id=row.conversation_id,
            role=row.role,
            snippet=row.snippet,
            created_at=row.created_at,
        )
        for row in rows
    ]


def rebuild_search_index(session: Session | Connection) -> None:
    """Re-index every message (after a VACUUM, which may renumber the rowids the index refers to).

    One statement over the whole table: for a big one prefer putting the rows on the backlog and
    `index_backlog` in chunks, so no single transaction holds the write lock for long."""
    session.execute(text("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')"))
    session.execute(text("DELETE FROM messages_fts_backlog"))  # everything is indexed now


def index_backlog(session: Session | Connection, limit: int) -> int:
    """Index up to `limit` backlogged messages (migration v8), oldest rowids first, and take them off the
    backlog, in the caller's transaction. Returns how many were indexed (0: the backlog is empty)."""
    bounds = session.execute(text(
        "SELECT min(msg_rowid), max(msg_rowid), count(*) FROM "
        "(SELECT msg_rowid FROM messages_fts_backlog ORDER BY msg_rowid LIMIT :limit)"), {"limit": int(limit)}).one()
    low, high, count = bounds
    if not count:
        return 0
    span = {"low": low, "high": high}
    session.execute(text(
        "INSERT INTO messages_fts (rowid, content) SELECT m.rowid, m.content FROM messages AS m "
        "JOIN messages_fts_backlog AS b ON b.msg_rowid = m.rowid WHERE b.msg_rowid BETWEEN :low AND :high"), span)
    session.execute(text("DELETE FROM messages_fts_backlog WHERE msg_rowid BETWEEN :low AND :high"), span)
    return count
