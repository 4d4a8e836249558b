"""v6: messages.seq (an order sync never rewrites) and capture that leaves foreign-key cascades to the server.

- `messages.seq`: the message's place in its thread (see models.Message). Existing messages get the
  microseconds of their `created_at`, which is exactly what the server migration
  (supabase/migrations/20261130100000_message_order.sql) gives the rows it has, so no row needs pulling
  again; a message not pushed yet is kept after everything before it in its thread (the HLC rule). A
  trigger fills `seq` for an insert that leaves it NULL (raw SQL, old code paths) with
  max(created_at in µs, the thread's largest seq + 1).
- Capture: `seq` is insert-only (the server keeps the first value), so updates of it are not captured.
  A delete that a conversation's ON DELETE CASCADE makes is not captured (and the message's queued ops
  are dropped), nor is the null an agent connection's ON DELETE SET NULL writes into conversations,
  mirror_reports, tasks and dream_reports: the server's tombstone cascade does both, so deleting a
  thread or a connection is one request.

Frozen: never edit; add a version.
"""

from __future__ import annotations

import sqlite3

from local_schema.migrations._capture import capture_trigger_statements, drop_capture_trigger_statements
from local_schema.timestamps import parse_timestamp

# The columns each table's update capture compares, as of v6 (unchanged from v1/v4/v5; messages.seq is
# insert-only, so it is not among them).
CAPTURED_V6 = {
    "messages": ("conversation_id", "role", "content", "deleted_at"),
    "conversations": ("agent_connection_id", "title", "deleted_at"),
    "mirror_reports": ("agent_connection_id", "title", "strengths", "weaknesses", "recommendations",
                       "suggested_prompt", "details", "previous_prompt", "applied_at", "deleted_at"),
    "tasks": ("connection_id", "title", "description", "status", "deleted_at"),
    "dream_reports": ("agent_connection_id", "kind", "status", "started_at", "finished_at", "summary", "budget",
                      "findings", "proposals", "deleted_at"),
}
CASCADED_FROM = {"messages": ("conversation_id", "conversations")}
NULLED_BY = {
    "conversations": {"agent_connection_id": "agent_connections"},
    "mirror_reports": {"agent_connection_id": "agent_connections"},
    "tasks": {"connection_id": "agent_connections"},
    "dream_reports": {"agent_connection_id": "agent_connections"},
}

# Milliseconds are what SQLite's date functions read of a fraction; the HLC rule keeps rows of one
# millisecond apart. Only rows this device wrote without a seq pass through here (pulled rows have one).
SEQ_FILL_SQL = """
CREATE TRIGGER messages_seq_fill AFTER INSERT ON messages WHEN NEW.seq IS NULL
BEGIN
  UPDATE messages SET seq = max(
    CAST(round((julianday(NEW.created_at) - 2440587.5) * 86400000.0) AS INTEGER) * 1000,
    coalesce((SELECT max(seq) FROM messages WHERE conversation_id = NEW.conversation_id), 0) + 1)
  WHERE rowid = NEW.rowid;
END
"""


def micros(stamp: str) -> int:
    """Microseconds since the epoch of a stored timestamp, exactly as the server computes it."""
    moment = parse_timestamp(stamp)
    return (moment.toordinal() - 719163) * 86_400_000_000 + (
        moment.hour * 3600 + moment.minute * 60 + moment.second) * 1_000_000 + moment.microsecond


def _backfill(conn: sqlite3.Connection) -> None:
    unpushed = {row_id for (row_id,) in conn.execute(
        "SELECT row_id FROM sync_outbox WHERE table_name = 'messages' AND kind = 'insert'")}
    rows = conn.execute("SELECT rowid, id, conversation_id, created_at FROM messages").fetchall()
    by_thread: dict[str, list[tuple[int, int, str]]] = {}
    for rowid, row_id, conversation_id, created_at in rows:
        try:
            at = micros(created_at)
        except ValueError:
            at = 0
        by_thread.setdefault(conversation_id, []).append((at, rowid, row_id))
    updates = []
    for thread in by_thread.values():
        thread.sort()
        last = 0
        for at, rowid, row_id in thread:
            # A row the server has keeps exactly its created_at (what the server migration gives it);
            # one only this device has comes after everything before it.
            seq = max(at, last + 1) if row_id in unpushed or at <= 0 else at
            last = max(last, seq)
            updates.append((seq, rowid))
    conn.executemany("UPDATE messages SET seq = ? WHERE rowid = ?", updates)


def upgrade(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE messages ADD COLUMN seq INTEGER")
    for table in CAPTURED_V6:
        for statement in drop_capture_trigger_statements(table):
            conn.execute(statement)
    _backfill(conn)  # with the capture triggers gone: filling in seq is not a change to push
    for table, columns in CAPTURED_V6.items():
        for statement in capture_trigger_statements(table, columns, cascaded_from=CASCADED_FROM.get(table),
                                                    nulled_by=NULLED_BY.get(table)):
            conn.execute(statement)
    conn.execute(SEQ_FILL_SQL)
    conn.execute("CREATE INDEX messages_conversation_seq ON messages(conversation_id, seq)")
