"""Connections without Qt (rite I, Bind), for `mirari connections …`: add one (row + key), list them
with their last check. The Bind page keeps its own form logic; both validate with agent.connections.validation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from agent.connections.validation import clean_base_url, validate_connection
from local_schema.database import LocalDatabase
from local_schema.models import AgentConnection, all_columns, new_id


class ConnectionInvalid(ValueError):
    """A connection that cannot be saved; str() names every problem. Nothing was written."""


def add_connection(db: LocalDatabase, secrets, *, name: str, base_url: str, model: str,
                   provider: str = "custom", system_prompt: str | None = None, api_key: str = "",
                   accepts_images: bool = False) -> AgentConnection:
    """Validate, keep the key (if any) in the key store, then write the row; returns it.

    The key goes first: if there is nowhere safe to keep it (no keychain, key file locked), nothing is
    written. If the row cannot be written after that, the key is removed again."""
    problems = validate_connection(name, base_url, model, provider)
    if problems:
        raise ConnectionInvalid(" ".join(problems.values()))
    row = AgentConnection(id=new_id(), name=name.strip(), provider=provider, base_url=clean_base_url(base_url),
                          model=model.strip(), system_prompt=(system_prompt or "").strip() or None,
                          accepts_images=bool(accepts_images))
    if api_key.strip():
        secrets.set_key(row.id, api_key)
    try:
        with db.write() as session:
            session.add(row)
    except BaseException:
        if api_key.strip():
            secrets.delete_key(row.id)
        raise
    return row


@dataclass
class ConnectionRow:
    connection: AgentConnection
    checked_at: str | None  # the last Test, local to this device
    last_error: str | None

    def to_json(self) -> dict:
        data = {column: getattr(self.connection, column) for column in all_columns(AgentConnection)}
        data.update(checked_at=self.checked_at, last_error=self.last_error)
        return data


def live_connections(db: LocalDatabase, order: str = "created") -> list[AgentConnection]:
    """The connections not deleted, oldest first (`order="name"`: by name): what every picker lists."""
    from sqlmodel import select

    if order not in ("created", "name"):
        raise ValueError(f"order must be 'created' or 'name', not {order!r}")
    keys = ((AgentConnection.created_at, AgentConnection.id) if order == "created" else
            (AgentConnection.name, AgentConnection.id))
    with db.session() as session:
        return list(session.exec(select(AgentConnection).where(AgentConnection.deleted_at.is_(None))
                                 .order_by(*keys)).all())


def list_connections(db: LocalDatabase) -> list[ConnectionRow]:
    """Live connections, oldest first, with the time and error of their last check."""
    rows = live_connections(db)
    with db.session() as session:
        checks = {cid: (at, err) for cid, at, err in session.execute(
            text("SELECT connection_id, checked_at, error FROM connection_checks"))}
    return [ConnectionRow(c, *checks.get(c.id, (None, None))) for c in rows]
