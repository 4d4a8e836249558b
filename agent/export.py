"""Export one thread as Markdown (for reading, Obsidian) or JSON (for tools), written atomically.

Exports contain the thread, its messages, the connection the thread is bound to now (name/provider/URL/
model) and, for every reply, what wrote it (agent.authorship: a thread may have changed connection or
model since). Never a key.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session

from agent.atomic import atomic_write
from agent.authorship import connection_names, message_author
from agent.threads import thread_messages
from local_schema.models import AgentConnection, Conversation
from local_schema.timestamps import utc_now

FORMATS = ("markdown", "json")
_ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System"}


def _load(session: Session, conversation_id: str):
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.deleted_at is not None:
        raise ValueError("That thread no longer exists.")
    connection = (session.get(AgentConnection, conversation.agent_connection_id)
                  if conversation.agent_connection_id else None)
    messages = thread_messages(session, conversation_id)
    names = connection_names(session, (m.agent_connection_id for m in messages))
    return conversation, connection, messages, names


def thread_to_json(session: Session, conversation_id: str, exported_at: str | None = None) -> str:
    conversation, connection, messages, names = _load(session, conversation_id)
    doc = {
        "format": "mirari.thread",
        "version": 1,
        "exported_at": exported_at or utc_now(),
        "conversation": {"id": conversation.id, "title": conversation.title, "created_at": conversation.created_at},
        "connection": None if connection is None else {
            "name": connection.name, "provider": connection.provider, "base_url": connection.base_url,
            "model": connection.model},
        # In thread order; `seq` is that order (created_at is each device's own clock and can disagree with it).
        # `author`: what wrote a reply ({label, connection_id, connection, model}); null for the user's.
        "messages": [{"id": m.id, "role": m.role, "content": m.content, "created_at": m.created_at, "seq": m.seq,
                      "author": message_author(m, names)}
                     for m in messages],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def thread_to_markdown(session: Session, conversation_id: str, exported_at: str | None = None) -> str:
    conversation, connection, messages, names = _load(session, conversation_id)
    lines = [f"# {conversation.title or 'Untitled thread'}", ""]
    about = f"Exported from MIRARI on {exported_at or utc_now()}"
    if connection is not None:
        about += f" · {connection.name} ({connection.model})"
    lines += [f"_{about}_", ""]
    for m in messages:
        author = message_author(m, names)
        who = author["label"] if author is not None else _ROLE_TITLES.get(m.role, m.role)
        lines += [f"## {who} · {m.created_at}", "", m.content.rstrip(), ""]
    return "\n".join(lines)


def export_thread(session: Session, conversation_id: str, path: str | Path, fmt: str | None = None) -> Path:
    """Write the thread to `path` atomically. `fmt` 'markdown' or 'json'; by default from the suffix
    (.json -> json, anything else -> markdown). Returns the path written."""
    path = Path(path)
    fmt = fmt or ("json" if path.suffix.lower() == ".json" else "markdown")
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}: choose markdown or json.")
    text = (thread_to_json if fmt == "json" else thread_to_markdown)(session, conversation_id)
    return atomic_write(path, text.encode("utf-8"), mode=0o600)  # chats are private by default
