"""What `mirari mcp serve` offers, as plain functions over the database (the MCP wiring is server.py).

Paused facts are never served: not found by a search, not among the strongest, and an app that adds a
fact a paused one duplicates is told it is already known — nothing about the paused fact is revealed or
changed. Facts are added through the Atlas's one rule (agent.memory.atlas.add_node_in: no duplicates, a
duplicate is reinforced), with the source `mcp:<app name>`. Conversations are searched with the
Console's full-text index. Every function returns plain data (JSON-ready) and bounded sizes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from agent.memory.atlas import AtlasError, add_node_in, effective_strength, find_duplicate_in, list_nodes
from agent.memory.sources import app_source
from agent.memory.text import one_line
from local_schema.database import LocalDatabase
from local_schema.search import search_messages

MAX_RESULTS = 50
SNIPPET_LIMIT = 400


def _fact(view) -> dict:
    node = view.node
    return {"id": node.id, "fact": node.label, "category": node.category or "",
            "strength": round(view.effective, 2)}


def search_memory(db: LocalDatabase, query: str, limit: int = 10) -> list[dict]:
    """Live, unpaused facts holding every word of `query` (case-insensitive), strongest first."""
    words = one_line(query or "").casefold().split()
    if not words:
        return []
    limit = max(1, min(int(limit), MAX_RESULTS))
    found = []
    for view in list_nodes(db):
        if view.node.paused:
            continue
        haystack = f"{view.node.label} {view.node.category or ''}".casefold()
        if all(word in haystack for word in words):
            found.append(_fact(view))
            if len(found) >= limit:
                break
    return found


def strongest_facts(db: LocalDatabase, limit: int = 20) -> list[dict]:
    """The strongest live, unpaused facts (effective strength), at most `limit`."""
    limit = max(1, min(int(limit), MAX_RESULTS))
    return [_fact(view) for view in list_nodes(db) if not view.node.paused][:limit]


def add_fact(db: LocalDatabase, app: str, fact: str, category: str | None = None) -> dict:
    """Add a fact for `app` (source mcp:<app>) — or reinforce the one it duplicates. AtlasError for an empty
    or over-long fact. {"id", "added", "message"}; for a duplicate of a paused fact, no id and no change."""
    now = datetime.now(UTC)
    with db.write() as session:
        existing = find_duplicate_in(session, fact) if one_line(fact or "") else None
        if existing is not None and existing.paused:
            return {"id": None, "added": False, "message": "That fact is already known; nothing was changed."}
        result = add_node_in(session, fact, category or "fact", source=app_source(app), now=now)
        node = result.node
        return {"id": node.id, "added": not result.reinforced,
                "strength": round(effective_strength(node, now), 2), "message": result.message}


def search_conversations(db: LocalDatabase, query: str, limit: int = 10) -> list[dict]:
    """Messages of past conversations matching `query` (full-text), best first: thread, role, snippet."""
    limit = max(1, min(int(limit), MAX_RESULTS))
    with db.session() as session:
        hits = search_messages(session, query or "", limit)
    return [{"conversation_id": h.conversation_id, "message_id": h.message_id, "role": h.role,
             "at": h.created_at, "snippet": h.snippet_plain()[:SNIPPET_LIMIT]} for h in hits]


__all__ = ["AtlasError", "add_fact", "search_conversations", "search_memory", "strongest_facts"]
