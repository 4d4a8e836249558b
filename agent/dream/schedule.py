"""Which dream next, and the facts the gates (agent.dream.gates) weigh: read from the database, so the
window's automatic dreams and `mirari dream run` make the same choice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import text as sql

from agent.dream.gates import DreamFacts
from agent.dream.kinds import KINDS
from agent.dream.reports import last_dream_started
from agent.dream.settings import DreamSettings
from local_schema.models import AgentConnection
from local_schema.timestamps import format_timestamp


def next_kind_after(kinds_done: list[str]) -> str:
    """Take turns: the kind that dreamt least recently (never = first). `kinds_done`: newest first."""
    latest = {kind: i for i, kind in reversed(list(enumerate(kinds_done)))}
    never = [k for k in KINDS if k not in latest]
    return never[0] if never else max(KINDS, key=lambda k: latest[k])


def next_kind(db) -> str:
    """The kind whose turn it is, from the live reports (newest first, as `list_reports` orders them)."""
    with db.session() as session:
        kinds = session.execute(sql("SELECT kind FROM dream_reports WHERE deleted_at IS NULL "
                                    "ORDER BY started_at DESC, id")).scalars().all()
    return next_kind_after(list(kinds))


def new_messages_since(db, since: datetime | None) -> int:
    """Live messages created after `since` (None: all of them): the new material a dream would look at."""
    with db.session() as session:
        if since is None:
            return session.execute(sql("SELECT count(*) FROM messages WHERE deleted_at IS NULL")).scalar()
        return session.execute(sql("SELECT count(*) FROM messages WHERE deleted_at IS NULL AND created_at > :t"),
                               {"t": format_timestamp(since)}).scalar()


def gather_facts(db, settings: DreamSettings, *, now: datetime, idle_seconds: float, streaming: bool,
                 dreaming: bool, key_available: Callable[[str], bool]) -> DreamFacts:
    """The gates' facts: what the database says (the connection, the last dream, new messages) beside
    what only the caller knows (idle time, a reply streaming, a dream running, whether a key is readable)."""
    exists = key = False
    if settings.connection_id:
        with db.session() as session:
            connection = session.get(AgentConnection, settings.connection_id)
            exists = connection is not None and connection.deleted_at is None
        key = exists and key_available(settings.connection_id)
    last = last_dream_started(db)
    return DreamFacts(now=now, idle_seconds=idle_seconds, streaming=streaming, dreaming=dreaming,
                      connection_exists=exists, key_available=key,
                      new_messages=new_messages_since(db, last), last_dream_at=last)
