"""v11: conversations as trees (messages.parent_id, .status, .error; conversations.active_leaf_id and the
thread's settings).

Server: supabase/migrations/20261207000000_message_trees.sql (the same columns, the same backfill).

- `messages.parent_id`: the message this one answers or follows, NULL for a first message. Insert-only,
  like seq (the server keeps the first value), so changing it is never captured. No foreign key here:
  rows of one table arrive in pages ordered by the server's stamp, so a child may be pulled before its
  parent; readers treat a message whose parent is not here as the start of its path. Push still sends a
  parent before its children (models.SOFT_PARENTS). Siblings are found by the index below.
- Not given on insert (raw SQL, code that knows no trees): the column default, the nil uuid
  (models.FOLLOWS_LAST), means "follows the thread's newest message"; `messages_parent_fill` replaces it
  by that message's id, as the server's follow_thread does. An explicit NULL is a root.
- `messages_reparent`: a message deleted inside a live thread hands its children to its own parent. A
  branch deleted here goes whole (agent.chat.tree.delete_branch) and the server's tombstones take whole
  subtrees, so this only matters where this device's parents differ from the server's: a device whose
  backfill below ran while it still held a message the server had already deleted linked the next
  message to it; the server linked that one past it. When the tombstone arrives, this trigger gives the
  orphan exactly the server's parent. Not captured (parent_id is insert-only).
- `messages.status` (done | error | stopped) and `messages.error`: a failed generation is a reply with
  status 'error' and its reason; ordinary synced columns.
- `conversations.active_leaf_id`, `temperature`, `max_tokens`, `stop_sequences` (JSON), `system_addition`:
  ordinary synced columns.
- Existing threads become one path: each live message's parent is the previous live message of its
  thread by (seq, id), and the thread's active leaf its last live message, what the server migration
  gives the rows it has. The backfill runs with the capture triggers gone: it is not a change to push.
  (A message only this device has may end a thread here and not on the server: the server's leaf is
  then its parent, which readers follow down to it once it is pushed.)

Frozen: never edit; add a version.
"""

from __future__ import annotations

import sqlite3

from local_schema.migrations._capture import capture_trigger_statements, drop_capture_trigger_statements

FOLLOWS_LAST = "00000000-0000-0000-0000-000000000000"

CAPTURED_V11 = {
    "messages": ("conversation_id", "role", "content", "agent_connection_id", "model", "status", "error",
                 "deleted_at"),
    "conversations": ("agent_connection_id", "title", "active_leaf_id", "temperature", "max_tokens",
                      "stop_sequences", "system_addition", "deleted_at"),
}
CASCADED_FROM = {"messages": ("conversation_id", "conversations")}
NULLED_BY = {"conversations": {"agent_connection_id": "agent_connections"}}

COLUMNS_SQL = f"""
ALTER TABLE messages ADD COLUMN parent_id TEXT DEFAULT '{FOLLOWS_LAST}';
ALTER TABLE messages ADD COLUMN status TEXT NOT NULL DEFAULT 'done';
ALTER TABLE messages ADD COLUMN error TEXT;
ALTER TABLE conversations ADD COLUMN active_leaf_id TEXT;
ALTER TABLE conversations ADD COLUMN temperature REAL;
ALTER TABLE conversations ADD COLUMN max_tokens INTEGER;
ALTER TABLE conversations ADD COLUMN stop_sequences TEXT;
ALTER TABLE conversations ADD COLUMN system_addition TEXT;
"""

# Children of a message in thread order; roots are (conversation_id, NULL).
INDEX_SQL = "CREATE INDEX messages_parent ON messages(conversation_id, parent_id, seq)"

# The newest live message of the thread before the new one (by seq, id). The seq may not be filled in yet
# (messages_seq_fill fires after this trigger): then the new row comes after every other one.
PARENT_FILL_SQL = f"""
CREATE TRIGGER messages_parent_fill AFTER INSERT ON messages WHEN NEW.parent_id = '{FOLLOWS_LAST}'
BEGIN
  UPDATE messages SET parent_id = (
    SELECT m.id FROM messages m
     WHERE m.conversation_id = NEW.conversation_id AND m.deleted_at IS NULL AND m.rowid <> NEW.rowid
       AND (NEW.seq IS NULL OR m.seq < NEW.seq OR (m.seq = NEW.seq AND m.id < NEW.id))
     ORDER BY m.seq DESC, m.id DESC LIMIT 1)
  WHERE rowid = NEW.rowid;
END
"""

# A thread's own delete (its messages go by ON DELETE CASCADE, the thread already gone) needs no repair.
REPARENT_SQL = """
CREATE TRIGGER messages_reparent AFTER DELETE ON messages
WHEN EXISTS (SELECT 1 FROM conversations WHERE id = OLD.conversation_id)
BEGIN
  UPDATE messages SET parent_id = OLD.parent_id
   WHERE conversation_id = OLD.conversation_id AND parent_id = OLD.id;
END
"""


def _backfill(conn: sqlite3.Connection) -> None:
    rows = conn.execute("SELECT rowid, id, conversation_id, deleted_at IS NULL FROM messages "
                        "ORDER BY conversation_id, seq, id").fetchall()
    previous: dict[str, str] = {}
    updates = []
    for rowid, row_id, conversation_id, live in rows:
        updates.append((previous.get(conversation_id) if live else None, rowid))
        if live:
            previous[conversation_id] = row_id
    conn.executemany("UPDATE messages SET parent_id = ? WHERE rowid = ?", updates)
    conn.executemany("UPDATE conversations SET active_leaf_id = ? WHERE id = ? AND deleted_at IS NULL",
                     [(leaf, conversation_id) for conversation_id, leaf in previous.items()])


def upgrade(conn: sqlite3.Connection) -> None:
    for statement in COLUMNS_SQL.strip().split(";\n"):
        conn.execute(statement.strip().rstrip(";"))
    for table in CAPTURED_V11:
        for statement in drop_capture_trigger_statements(table):
            conn.execute(statement)
    _backfill(conn)  # with the capture triggers gone: linking old messages is not a change to push
    for table, columns in CAPTURED_V11.items():
        for statement in capture_trigger_statements(table, columns, cascaded_from=CASCADED_FROM.get(table),
                                                    nulled_by=NULLED_BY.get(table)):
            conn.execute(statement)
    conn.execute(INDEX_SQL)
    conn.execute(PARENT_FILL_SQL)
    conn.execute(REPARENT_SQL)
