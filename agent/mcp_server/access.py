"""The access log of outside apps using this memory (device-local tables mcp_access, mcp_access_nodes).

Every read and write through `mirari mcp serve` is one entry: when, which app (the name its MCP client
gave), read or write, which tool, a short detail (the query, what was added) and the facts it touched.
The Atlas shows a fact's entries; the log keeps the newest KEEP entries (older ones are pruned as new ones
are written), and deleting a fact deletes its entries (local migration v12).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text

from local_schema.database import LocalDatabase
from local_schema.models import McpAccess, McpAccessNode
from local_schema.timestamps import utc_now

KEEP = 20_000
DETAIL_LIMIT = 300
READ, WRITE = "read", "write"


@dataclass(frozen=True)
class AccessEntry:
    id: int
    at: str
    app: str
    action: str
    tool: str
    detail: str
    node_ids: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"id": self.id, "at": self.at, "app": self.app, "action": self.action, "tool": self.tool,
                "detail": self.detail, "node_ids": list(self.node_ids)}


def _one_line(value: str | None, limit: int) -> str:
    return " ".join((value or "").replace("\x00", "").split())[:limit]


def log_access(db: LocalDatabase, app: str, action: str, tool: str, node_ids: Iterable[str] = (),
               detail: str | None = None) -> int:
    """Record one access; returns its id."""
    with db.write() as session:
        entry = McpAccess(at=utc_now(), app=_one_line(app, 100) or "unknown app", action=action,
                          tool=_one_line(tool, 100), detail=_one_line(detail, DETAIL_LIMIT) or None)
        session.add(entry)
        session.flush()
        for node_id in dict.fromkeys(node_ids):
            session.add(McpAccessNode(access_id=entry.id, node_id=node_id))
        session.execute(text("DELETE FROM mcp_access WHERE id <= :cut"), {"cut": entry.id - KEEP})
        return entry.id


def _entries(db: LocalDatabase, where: str, params: dict, limit: int) -> list[AccessEntry]:
    with db.session() as session:
        rows = session.execute(text(
            f"SELECT a.id, a.at, a.app, a.action, a.tool, a.detail FROM mcp_access AS a {where} "
            "ORDER BY a.id DESC LIMIT :limit"), {**params, "limit": limit}).all()
        ids = [r.id for r in rows]
        nodes: dict[int, list[str]] = {}
        if ids:
            marks = ", ".join(f":i{n}" for n in range(len(ids)))
            for access_id, node_id in session.execute(text(
                    f"SELECT access_id, node_id FROM mcp_access_nodes WHERE access_id IN ({marks})"),
                    {f"i{n}": i for n, i in enumerate(ids)}).all():
                nodes.setdefault(access_id, []).append(node_id)
    return [AccessEntry(r.id, r.at, r.app, r.action, r.tool, r.detail or "", tuple(nodes.get(r.id, ())))
            for r in rows]


def access_of_node(db: LocalDatabase, node_id: str, limit: int = 100) -> list[AccessEntry]:
    """The newest accesses that read or wrote this fact."""
    return _entries(db, "JOIN mcp_access_nodes AS n ON n.access_id = a.id WHERE n.node_id = :node",
                    {"node": node_id}, limit)


def recent_access(db: LocalDatabase, limit: int = 100) -> list[AccessEntry]:
    return _entries(db, "", {}, limit)
