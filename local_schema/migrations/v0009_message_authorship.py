"""v9: who wrote each reply (messages.agent_connection_id, messages.model), and a sane seq for raw inserts.

Server: supabase/migrations/20261206100100_message_authorship.sql (the same columns and the same backfill)
and 20261206100000_client_times.sql (the seq bound).

- `messages.agent_connection_id`: the connection that wrote an assistant message (NULL for the user's own
  messages). A soft reference, no foreign key: when the connection is deleted the message keeps the id,
  nothing is cascaded (that would rewrite every reply it ever wrote, on every device), and readers fall
  back to `model`. `messages.model`: the model name the connection had when it wrote the reply, so
  authorship stays readable after the connection is deleted or re-pointed at another model.
- Existing replies are attributed the way the transcript showed them until now: to their thread's
  connection and its current model, exactly as the server migration does for the rows it has, so nothing
  needs pulling again. Rows a device pulled while the server already had authorship but this version did
  not (the app upgraded after the server) keep this guess; that is the only way the two can differ.
- Capture: both columns are ordinary synced columns, so the messages update trigger is recreated with
  them; the backfill runs with the capture triggers gone (it is not a change to push).
- `messages_seq_fill` (v6's trigger for an insert without seq) ignores a seq more than a year after this
  device's clock, as agent.chat.threads.next_seq does: "largest + 1" after 2^63 - 1 no longer fits an integer.

Frozen: never edit; add a version.
"""

from __future__ import annotations

import sqlite3

from local_schema.migrations._capture import capture_trigger_statements, drop_capture_trigger_statements

CAPTURED_MESSAGES_V9 = ("conversation_id", "role", "content", "agent_connection_id", "model", "deleted_at")

BACKFILL_SQL = """
UPDATE messages SET
  agent_connection_id = (SELECT c.agent_connection_id FROM conversations c
                          JOIN agent_connections a ON a.id = c.agent_connection_id
                         WHERE c.id = messages.conversation_id),
  model = (SELECT a.model FROM conversations c JOIN agent_connections a ON a.id = c.agent_connection_id
            WHERE c.id = messages.conversation_id)
WHERE role = 'assistant'
"""

# v6's trigger with the one-year sanity bound (models.SEQ_SANE_AHEAD_US = 31,536,000,000,000 µs).
SEQ_FILL_SQL = """
CREATE TRIGGER messages_seq_fill AFTER INSERT ON messages WHEN NEW.seq IS NULL
BEGIN
  UPDATE messages SET seq = max(
    CAST(round((julianday(NEW.created_at) - 2440587.5) * 86400000.0) AS INTEGER) * 1000,
    coalesce((SELECT max(seq) FROM messages WHERE conversation_id = NEW.conversation_id
               AND seq <= CAST(round((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) * 1000
                          + 31536000000000), 0) + 1)
  WHERE rowid = NEW.rowid;
END
"""


def upgrade(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE messages ADD COLUMN agent_connection_id TEXT")
    conn.execute("ALTER TABLE messages ADD COLUMN model TEXT")
    for statement in drop_capture_trigger_statements("messages"):
        conn.execute(statement)
    conn.execute(BACKFILL_SQL)
    for statement in capture_trigger_statements("messages", CAPTURED_MESSAGES_V9,
                                                cascaded_from=("conversation_id", "conversations")):
        conn.execute(statement)
    conn.execute("DROP TRIGGER messages_seq_fill")
    conn.execute(SEQ_FILL_SQL)
