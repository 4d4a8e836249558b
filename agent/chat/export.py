"""Export one thread as Markdown (for reading, Obsidian) or JSON (for tools), written atomically.

Exports contain the thread, its messages, the connection the thread is bound to now (name/provider/URL/
model) and, for every reply, what wrote it (agent.chat.authorship: a thread may have changed connection or
model since). Never a key. The messages are the thread's active path (agent.chat.tree: what it shows); a JSON
export with `whole_tree` holds every message of every branch instead, each with its parent_id, how many
siblings it has and its place among them (1-based, oldest first), and whether it is on the active path.
A failed reply is exported with its status and error (Markdown: a line saying it failed and why).
A message's attachments are listed by name, type, size and SHA-256 (the bytes are not in a thread export;
`mirari attachments get` or `mirari export` has them).
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, select

from agent.chat.authorship import connection_names_in, message_author
from agent.chat.tree import active_leaf_in, active_path_in, tree_rows_in
from local_schema.atomic import atomic_write
from local_schema.models import AgentConnection, Attachment, Conversation
from local_schema.timestamps import utc_now

FORMATS = ("markdown", "json")
_ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System"}


def _load(session: Session, conversation_id: str, whole_tree: bool = False):
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.deleted_at is not None:
        raise ValueError("That thread no longer exists.")
    connection = (session.get(AgentConnection, conversation.agent_connection_id)
                  if conversation.agent_connection_id else None)
    rows = tree_rows_in(session, conversation_id) if whole_tree else None
    messages = [r.message for r in rows] if rows is not None else active_path_in(session, conversation_id)
    names = connection_names_in(session, (m.agent_connection_id for m in messages))
    return conversation, connection, messages, names, rows


def _attachments_in(session: Session, messages) -> dict[str, list[dict]]:
    """{message id: [its live attachments, in the order attached]}."""
    ids = [m.id for m in messages if m.role == "user"]
    found: dict[str, list[dict]] = {}
    for i in range(0, len(ids), 500):
        rows = session.exec(select(Attachment).where(Attachment.message_id.in_(ids[i:i + 500]),
                                                     Attachment.deleted_at.is_(None))
                            .order_by(Attachment.created_at, Attachment.id)).all()
        for a in rows:
            found.setdefault(a.message_id, []).append(
                {"id": a.id, "name": a.name, "mime_type": a.mime_type, "size": a.size, "sha256": a.sha256})
    return found


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1024 ** 2 else f"{n / 1024 ** 2:.1f} MB"


def thread_to_json_in(session: Session, conversation_id: str, exported_at: str | None = None,
                   whole_tree: bool = False) -> str:
    conversation, connection, messages, names, rows = _load(session, conversation_id, whole_tree)
    # In thread order; `seq` is that order (created_at is each device's own clock and can disagree with it).
    # `author`: what wrote a reply ({label, connection_id, connection, model}); null for the user's.
    out = [{"id": m.id, "parent_id": m.parent_id, "role": m.role, "content": m.content, "created_at": m.created_at,
            "seq": m.seq, "status": m.status, "error": m.error, "author": message_author(m, names)}
           for m in messages]
    for item, row in zip(out, rows or (), strict=False):
        item.update(siblings=row.siblings, sibling_index=row.sibling_index, on_path=row.on_path)
    attached = _attachments_in(session, messages)
    for item in out:
        item["attachments"] = attached.get(item["id"], [])
    doc = {
        "format": "mirari.thread",
        "version": 2,  # 2: messages are a tree (parent_id, status, error; the active path or, whole, every branch);
        # each message lists its attachments (a field added within version 2: readers ignore what they do not know)
        "exported_at": exported_at or utc_now(),
        "conversation": {"id": conversation.id, "title": conversation.title, "created_at": conversation.created_at,
                         "active_leaf_id": active_leaf_in(session, conversation)},  # as read: the stored one or the newest
        "whole_tree": whole_tree,
        "connection": None if connection is None else {
            "name": connection.name, "provider": connection.provider, "base_url": connection.base_url,
            "model": connection.model},
        "messages": out,
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def thread_to_markdown_in(session: Session, conversation_id: str, exported_at: str | None = None) -> str:
    conversation, connection, messages, names, _rows = _load(session, conversation_id)
    lines = [f"# {conversation.title or 'Untitled thread'}", ""]
    about = f"Exported from MIRARI on {exported_at or utc_now()}"
    if connection is not None:
        about += f" · {connection.name} ({connection.model})"
    lines += [f"_{about}_", ""]
    attached = _attachments_in(session, messages)
    for m in messages:
        author = message_author(m, names)
        who = author["label"] if author is not None else _ROLE_TITLES.get(m.role, m.role)
        lines += [f"## {who} · {m.created_at}", ""]
        if m.content.strip():
            lines += [m.content.rstrip(), ""]
        files = attached.get(m.id, [])
        if files:
            lines += [f"- 📎 {' '.join(a['name'].split())} ({a['mime_type']}, {_size(a['size'])})" for a in files]
            lines += [""]
        if m.status == "error":
            lines += [f"_⚠ This reply failed: {' '.join((m.error or '').split())}_", ""]
        elif m.status == "stopped":
            lines += ["_(stopped before the end)_", ""]
    return "\n".join(lines)


def export_thread_in(session: Session, conversation_id: str, path: str | Path, fmt: str | None = None,
                  whole_tree: bool = False) -> Path:
    """Write the thread to `path` atomically. `fmt` 'markdown' or 'json'; by default from the suffix
    (.json -> json, anything else -> markdown). `whole_tree` (JSON only): every branch. Returns the path."""
    path = Path(path)
    fmt = fmt or ("json" if path.suffix.lower() == ".json" else "markdown")
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}: choose markdown or json.")
    if whole_tree and fmt != "json":
        raise ValueError("The whole tree is exported as JSON only (Markdown shows one path): use --format json.")
    if fmt == "json":
        text = thread_to_json_in(session, conversation_id, whole_tree=whole_tree)
    else:
        text = thread_to_markdown_in(session, conversation_id)
    return atomic_write(path, text.encode("utf-8"), mode=0o600)  # chats are private by default
