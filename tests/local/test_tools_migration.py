"""Local migration v12: tool-call columns and `paused` are synced (captured, pulled again where needed);
the MCP tables are device-local (never captured, invisible to sync); the capture trigger is extended in
place, so it keeps whatever columns another version added to it."""

from __future__ import annotations

import json
import sqlite3

from sqlalchemy import text

from local_schema.database import open_database
from local_schema.migrations import migrate
from local_schema.migrations.v0012_tools import extended_update_trigger
from local_schema.models import (
    SYNCED_TABLES,
    Conversation,
    McpAccess,
    McpAccessNode,
    McpServer,
    McpTool,
    MemoryNode,
    Message,
)

CONV = "1c8a6d3f-4a7b-4e2f-8b64-7d2e3f4a5b6c"


def _outbox(conn) -> list[tuple]:
    return [(t, k, json.loads(c) if c else None)
            for t, k, c in conn.execute("SELECT table_name, kind, changed_columns FROM sync_outbox ORDER BY rowid")]


def test_tool_calls_and_paused_changes_are_captured_for_push(db):
    with db.write() as s:
        thread = Conversation(id=CONV)
        s.add(thread)
        s.flush()
        asked = Message(conversation_id=CONV, role="assistant", content="")
        node = MemoryNode(label="likes tea")
        s.add_all([asked, node])
    with db.write() as s:
        s.execute(text("DELETE FROM sync_outbox"))
    with db.write() as s:
        row = s.get(Message, asked.id)
        row.tool_calls = [{"id": "c1", "type": "function", "function": {"name": "a__b", "arguments": "{}"}}]
        s.add(row)
        s.add(Message(conversation_id=CONV, role="tool", content="result", tool_call_id="c1"))
        fact = s.get(MemoryNode, node.id)
        fact.paused = True
        s.add(fact)
    raw = sqlite3.connect(db.path)
    try:
        assert sorted(_outbox(raw), key=str) == sorted([("messages", "update", ["tool_calls"]),
                                                        ("messages", "insert", None),
                                                        ("memory_nodes", "update", ["paused"])], key=str)
        assert raw.execute("SELECT tool_calls FROM messages WHERE id = ?", (asked.id,)).fetchone()[0].startswith('[{"id"')
    finally:
        raw.close()
    with db.session() as s:
        assert s.get(Message, asked.id).tool_calls[0]["function"]["name"] == "a__b"
        assert s.get(MemoryNode, node.id).paused is True


def test_mcp_tables_are_local_only(db):
    with db.write() as s:
        server = McpServer(name="files", transport="stdio", command="node", args=["x.js"], env={"A": "1"})
        s.add(server)
        s.flush()
        s.add(McpTool(server_id=server.id, name="read_file", input_schema={"type": "object"}))
        access = McpAccess(app="Claude", action="read", tool="search_memory")
        s.add(access)
        s.flush()
        s.add(McpAccessNode(access_id=access.id, node_id="n1"))
    with db.session() as s:
        assert s.execute(text("SELECT count(*) FROM sync_outbox")).scalar() == 0
    assert not {"mcp_servers", "mcp_tools", "mcp_access", "mcp_access_nodes"} & set(SYNCED_TABLES)
    with db.write() as s:  # a server's tools go with it
        s.delete(s.get(McpServer, server.id))
    with db.session() as s:
        assert s.execute(text("SELECT count(*) FROM mcp_tools")).scalar() == 0


def test_deleting_a_fact_forgets_its_access_log(db):
    with db.write() as s:
        node = MemoryNode(label="likes tea")
        access = McpAccess(app="Cursor", action="read", tool="search_memory")
        s.add_all([node, access])
        s.flush()
        s.add(McpAccessNode(access_id=access.id, node_id=node.id))
    with db.write() as s:
        s.delete(s.get(MemoryNode, node.id))
    with db.session() as s:
        assert s.execute(text("SELECT count(*) FROM mcp_access_nodes")).scalar() == 0


def _file_at(path, version: int) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=version)
    return conn


def test_upgrade_resets_the_memory_cursor_and_the_messages_one_only_when_tool_rows_exist(db_path, tmp_path):
    for has_tool_rows in (False, True):
        path = tmp_path / str(has_tool_rows) / "local.sqlite3"
        conn = _file_at(path, 10)
        conn.executemany("INSERT INTO sync_cursors (table_name, cursor) VALUES (?, '2026-01-01T00:00:00+00:00')",
                         [("messages",), ("memory_nodes",), ("skills",)])
        conn.execute("INSERT INTO conversations (id) VALUES (?)", (CONV,))
        # an older version pulled a tool row written by a newer device, without its tool_call_id
        conn.execute("INSERT INTO messages (conversation_id, role, content) VALUES (?, ?, 'x')",
                     (CONV, "tool" if has_tool_rows else "user"))
        migrate(conn, target=12)  # v12's own resets (v14 resets the skills cursor itself)
        cursors = {t for (t,) in conn.execute("SELECT table_name FROM sync_cursors")}
        conn.close()
        assert cursors == ({"skills"} if has_tool_rows else {"messages", "skills"})


def test_the_trigger_is_extended_in_place_and_keeps_columns_another_version_added(db_path):
    conn = _file_at(db_path, 10)
    # what a version 11 may do: a new captured column on messages, its trigger rebuilt with it
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'messages_capture_update'").fetchone()[0]
    conn.execute("BEGIN")
    conn.execute("ALTER TABLE messages ADD COLUMN parent_id TEXT")
    conn.execute("DROP TRIGGER messages_capture_update")
    conn.execute(extended_update_trigger(sql, ("parent_id",)))
    conn.execute("PRAGMA user_version = 11")
    conn.execute("COMMIT")
    migrate(conn)
    conn.execute("INSERT INTO conversations (id) VALUES (?)", (CONV,))
    conn.execute("INSERT INTO messages (id, conversation_id, role, content) VALUES ('m', ?, 'assistant', '')",
                 (CONV,))
    conn.execute("DELETE FROM sync_outbox")
    conn.execute("UPDATE messages SET parent_id = 'p', tool_calls = '[]', content = 'x' WHERE id = 'm'")
    assert _outbox(conn) == [("messages", "update", ["content", "parent_id", "tool_calls"])]
    conn.close()
    db = open_database(db_path)  # the app opens it as usual
    db.close()
