"""v12: tool calls as messages, paused facts, and the device-local tables of MCP tools (issue 22).

Server: supabase/migrations/20261207100000_tool_calls.sql and 20261207100100_memory_paused.sql.

Synced columns:
- `messages.tool_calls` (JSON text: [{id, type: "function", function: {name, arguments}}], on assistant
  messages) and `messages.tool_call_id` (on messages of role `tool`: the call they answer).
- `memory_nodes.paused` (0/1): a paused fact is kept but never injected nor served to outside apps.
- Capture: the update triggers of both tables get the new columns. The trigger found in the file is
  extended in place (the new CASE lines go before `deleted_at`'s) instead of being rebuilt from a column
  list frozen here, so this version composes with any other version that reshaped the same trigger
  (v11 gives messages `parent_id`), in whichever order the two were written.
- Pull cursors: memory_nodes is pulled again (a fact another device paused must not stay unpaused here,
  and the table is small). messages only if this device already holds `tool` rows, which an older version
  pulled without their `tool_call_id`: no other row can lack the new columns.

Local only (never synced, never captured): the configuration of this device's MCP servers — they name
programs and paths of this machine, and syncing them would run commands on other machines:
- `mcp_servers`: name, transport (stdio: command, args, env; http: url and the *names* of its headers —
  their values are secrets, kept in the key store, never here), enabled;
- `mcp_tools`: the tools each server listed last (description, input schema), each with its enabled flag
  and "always allow" approval;
- `mcp_access` / `mcp_access_nodes`: the access log of outside apps using this memory through
  `mirari mcp serve` (which app, read or write, which tool, when; which facts). Deleting a fact removes
  its log entries.

Frozen: never edit; add a version.
"""

from __future__ import annotations

import re
import sqlite3

from local_schema.migrations._script import run_script

SQL = """
ALTER TABLE messages ADD COLUMN tool_calls TEXT;
ALTER TABLE messages ADD COLUMN tool_call_id TEXT;
ALTER TABLE memory_nodes ADD COLUMN paused BOOLEAN NOT NULL DEFAULT 0;
DELETE FROM sync_cursors WHERE table_name = 'memory_nodes';
DELETE FROM sync_cursors WHERE table_name = 'messages' AND EXISTS (SELECT 1 FROM messages WHERE role = 'tool');

CREATE TABLE mcp_servers (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL UNIQUE,
  transport TEXT NOT NULL CHECK (transport IN ('stdio', 'http')),
  command TEXT,
  args TEXT NOT NULL DEFAULT '[]',
  env TEXT NOT NULL DEFAULT '{}',
  url TEXT,
  headers TEXT NOT NULL DEFAULT '[]',
  enabled BOOLEAN NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  CHECK ((transport = 'stdio') = (command IS NOT NULL)),
  CHECK ((transport = 'http') = (url IS NOT NULL))
);

CREATE TABLE mcp_tools (
  server_id TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT,
  input_schema TEXT NOT NULL DEFAULT '{}',
  enabled BOOLEAN NOT NULL DEFAULT 1,
  always_allow BOOLEAN NOT NULL DEFAULT 0,
  seen_at TEXT NOT NULL,
  PRIMARY KEY (server_id, name)
);

CREATE TABLE mcp_access (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  at TEXT NOT NULL,
  app TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('read', 'write')),
  tool TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX mcp_access_at ON mcp_access (at);

CREATE TABLE mcp_access_nodes (
  access_id INTEGER NOT NULL REFERENCES mcp_access (id) ON DELETE CASCADE,
  node_id TEXT NOT NULL,
  PRIMARY KEY (access_id, node_id)
) WITHOUT ROWID;
CREATE INDEX mcp_access_nodes_node ON mcp_access_nodes (node_id, access_id);

CREATE TRIGGER mcp_access_nodes_forget AFTER DELETE ON memory_nodes
BEGIN
  DELETE FROM mcp_access_nodes WHERE node_id = OLD.id;
END;
"""

NEW_CAPTURED = {"messages": ("tool_calls", "tool_call_id"), "memory_nodes": ("paused",)}
_DELETED_CASE = re.compile(r"^(\s*)CASE WHEN OLD\.\"deleted_at\" IS NOT NEW\.\"deleted_at\" THEN 'deleted_at' END",
                           re.MULTILINE)


def extended_update_trigger(sql: str, columns: tuple[str, ...]) -> str:
    """The capture update trigger `sql` with a CASE line per column of `columns` before deleted_at's."""
    found = _DELETED_CASE.search(sql)
    if found is None:
        raise ValueError("the capture update trigger has no deleted_at case to extend")
    indent = found.group(1).lstrip("\n")
    cases = "".join(f'{indent}CASE WHEN OLD."{c}" IS NOT NEW."{c}" THEN \'{c}\' END,\n' for c in columns)
    at = found.start() + len(found.group(1)) - len(indent)
    return sql[:at] + cases + sql[at:]


def upgrade(conn: sqlite3.Connection) -> None:
    run_script(conn, SQL)
    for table, columns in NEW_CAPTURED.items():
        name = f"{table}_capture_update"
        row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)).fetchone()
        if row is None:
            raise ValueError(f"{name} is missing")
        conn.execute(f"DROP TRIGGER {name}")
        conn.execute(extended_update_trigger(row[0], columns))
