"""Small builders for server rows, written through an ApiSession exactly as the sync client would
(POST = insert with an explicit client-chosen id; PATCH = update of the changed columns only)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from psycopg import sql

from standin.impersonate import ApiSession

OWNER = {"templates": "author_id"}  # every other table: user_id

# The smallest valid row of each table (besides id/owner).
MINIMAL: dict[str, dict[str, Any]] = {
    "agent_connections": {"name": "Hermes · Local", "provider": "hermes",
                          "base_url": "http://localhost:11434/v1", "model": "hermes3"},
    "conversations": {"title": "A thread"},
    "messages": {"role": "user", "content": "hello"},
    "attachments": {"name": "notes.txt", "mime_type": "text/plain", "size": 5,
                    "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"},
    "memory_nodes": {"label": "likes tea", "category": "preference"},
    "skills": {"name": "Summarise", "template_prompt": "Summarise briefly."},
    "mirror_reports": {"title": "Review"},
    "tasks": {"title": "Write tests"},
    "templates": {"name": "Starter", "payload": {"skills": [], "seed_memory": []}},
    "dream_reports": {"kind": "consolidate", "started_at": "2026-11-30T12:00:00+00:00", "summary": "A dream"},
}


def _adapt(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict | list) else value


def insert(session: ApiSession, table: str, **values: Any) -> dict:
    """INSERT ... RETURNING * with the given columns (and a fresh uuid id unless given)."""
    values = {"id": str(uuid.uuid4()), **values}
    query = sql.SQL("insert into public.{} ({}) values ({}) returning *").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)))
    return session.one(query, [_adapt(v) for v in values.values()])


def patch(session: ApiSession, table: str, row_id: Any, **values: Any) -> dict | None:
    """UPDATE only the given columns of one row, as PostgREST's PATCH ?id=eq.X; None if 0 rows."""
    query = sql.SQL("update public.{} set {} where id = %s returning *").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values))
    return session.one(query, [*(_adapt(v) for v in values.values()), row_id])


def get(session: ApiSession, table: str, row_id: Any) -> dict | None:
    return session.one(sql.SQL("select * from public.{} where id = %s").format(sql.Identifier(table)), [row_id])


def make(session: ApiSession, table: str, **values: Any) -> dict:
    """A minimal valid row of `table`, creating the parents it needs (messages need a conversation)."""
    row = dict(MINIMAL[table])
    if table == "messages" and "conversation_id" not in values:
        row["conversation_id"] = make(session, "conversations")["id"]
    if table == "attachments":  # a message to hang on, and the object path in the owner's folder
        row.setdefault("id", str(uuid.uuid4()))
        if "message_id" not in values:
            row["message_id"] = make(session, "messages")["id"]
        row["storage_path"] = f"{values.get('user_id') or session.user_id}/{values.get('id') or row['id']}"
    row.update(values)
    return insert(session, table, **row)
