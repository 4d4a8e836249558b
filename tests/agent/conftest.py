"""Fixtures for the agent tests: a real SQLite mirror per test and rows with chosen timestamps
(the in-memory keychain is the suite-wide `memory_keyring` fixture of standin/keyrings.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from local_schema.database import open_database
from local_schema.models import AgentConnection, Conversation, MemoryNode, Message, Skill
from local_schema.timestamps import format_timestamp

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def ts(days_ago: float = 0, seconds: float = 0) -> str:
    return format_timestamp(NOW - timedelta(days=days_ago) + timedelta(seconds=seconds))


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path / "data" / "local.sqlite3")
    yield database
    database.close()


@pytest.fixture
def session(db):
    with db.session() as s:
        yield s


def add_connection(session, base_url="http://127.0.0.1:9/v1", model="fake-model", system_prompt=None,
                   name="Test") -> AgentConnection:
    c = AgentConnection(name=name, provider="custom", base_url=base_url, model=model, system_prompt=system_prompt)
    session.add(c)
    session.commit()
    return c


def add_thread(session, connection=None, title=None) -> Conversation:
    t = Conversation(agent_connection_id=connection.id if connection else None, title=title)
    session.add(t)
    session.commit()
    return t


def add_message(session, thread, role, content, created_at=None, author=None) -> Message:
    """`author`: the AgentConnection that wrote a reply (its id and model are recorded, as agent.chat.turn does)."""
    m = Message(conversation_id=thread.id, role=role, content=content,
                agent_connection_id=author.id if author else None, model=author.model if author else None)
    if created_at:
        m.created_at = created_at
    session.add(m)
    session.commit()
    return m


def add_node(session, label, strength=0.8, category="fact", created_at=None, last_referenced_at=None,
             deleted_at=None) -> MemoryNode:
    n = MemoryNode(label=label, strength=strength, category=category, last_referenced_at=last_referenced_at,
                   deleted_at=deleted_at)
    if created_at:
        n.created_at = created_at
    session.add(n)
    session.commit()
    return n


def add_skill(session, name, template_prompt, status="promoted", created_at=None) -> Skill:
    s = Skill(name=name, template_prompt=template_prompt, status=status)
    if created_at:
        s.created_at = created_at
    session.add(s)
    session.commit()
    return s
