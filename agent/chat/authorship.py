"""Who wrote a reply, as the transcript, the exports and the command line name it.

Each assistant message records the connection that wrote it and that connection's model at the time
(messages.agent_connection_id, messages.model; agent.chat.turn fills both). A reply is therefore named by
what wrote it, never by whatever its thread is bound to today:
- "Hermes · hermes3": the connection still exists here (its current name) and the model it used then;
- "hermes3": the connection was deleted (the id stays, soft reference): the model keeps it readable;
- UNKNOWN: nothing recorded — a reply older than authorship whose thread had no connection when the
  migrations (local v9, server 20261206100100) attributed old replies to their thread's connection.
"""

from __future__ import annotations

from sqlmodel import Session, select

from local_schema.models import AgentConnection

UNKNOWN = "Agent · unknown model"


def reply_author(connection_name: str | None, model: str | None) -> str:
    """The label of a reply written by the connection named `connection_name` (None: gone or never
    recorded) running `model`."""
    # One line whatever was stored (a synced value is untrusted): it heads a Markdown section and a row.
    name, model = " ".join((connection_name or "").split()), " ".join((model or "").split())
    if name and model:
        return f"{name} · {model}"
    return name or model or UNKNOWN


def connection_names_in(session: Session, ids) -> dict[str, str]:
    """The current name of each live connection among `ids` (the deleted ones are left out)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = session.exec(select(AgentConnection.id, AgentConnection.name).where(
        AgentConnection.id.in_(wanted), AgentConnection.deleted_at.is_(None))).all()
    return dict(rows)


def message_author(message, names: dict[str, str]) -> dict | None:
    """Authorship of one message for an export or JSON output: None for the user's (and system) messages."""
    if message.role != "assistant":
        return None
    name = names.get(message.agent_connection_id) if message.agent_connection_id else None
    return {"label": reply_author(name, message.model), "connection_id": message.agent_connection_id,
            "connection": name, "model": message.model}
