"""Prompt assembly (MIRARI.md §II): the one place that decides exactly what a chat turn sends.

System message text, in this order, parts separated by one blank line (empty parts are left out):

    <the connection's system prompt, trimmed>

    ## Memory
    What you remember about the user, strongest first:
    - <label> (<category>)            one line per node; whitespace in a label collapsed to one space;
    - <label>                         "(<category>)" left out when the node has no category

    ## Skills
    ### <skill name>
    <template_prompt, trimmed>

    ### <next skill name>
    ...

Memory = nodes with effective strength >= 0.75 (decay included), strongest first, at most 40,
tombstoned nodes skipped. Skills = every promoted skill with a non-empty template_prompt, oldest first.
When all three parts are empty no system message is sent at all (an empty one carries nothing and
some chat templates reject it).

Messages sent: [system] + the last 40 messages of the thread before the new user message, in
chronological order, + the new user message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import tuple_
from sqlmodel import Session, select

from agent.memory import MEMORY_HEADING, MEMORY_LIMIT, injected_nodes, render_memory_block
from agent.tools.history import wire_messages
from local_schema.models import AgentConnection, Message, Skill

__all__ = ["HISTORY_LIMIT", "MEMORY_HEADING", "MEMORY_LIMIT", "AssembledPrompt", "assemble_prompt", "history",
           "preview_system_prompt", "system_parts"]

HISTORY_LIMIT = 40
SKILLS_HEADING = "## Skills"


@dataclass
class AssembledPrompt:
    system: str  # the system message text ("" = none sent)
    messages: list[dict] = field(default_factory=list)  # exactly the `messages` of the request
    memory_node_ids: list[str] = field(default_factory=list)  # injected, strongest first
    skill_ids: list[str] = field(default_factory=list)
    history_ids: list[str] = field(default_factory=list)  # thread messages sent, oldest first


def _one_line(text: str) -> str:
    return " ".join(text.split())


def system_parts(session: Session, connection: AgentConnection | None,
                 now: datetime | None = None) -> tuple[str, list[str], list[str]]:
    """(system text, injected node ids, promoted skill ids)."""
    parts: list[str] = []
    base = ((connection.system_prompt if connection else None) or "").strip()
    if base:
        parts.append(base)
    nodes = injected_nodes(session, now or datetime.now(UTC), MEMORY_LIMIT)
    block = render_memory_block(n for n, _ in nodes)  # the Atlas's "What the agent sees" shows the same text
    if block:
        parts.append(block)
    skills = session.exec(
        select(Skill).where(Skill.status == "promoted", Skill.deleted_at.is_(None))
        .order_by(Skill.created_at, Skill.id)
    ).all()
    skills = [s for s in skills if (s.template_prompt or "").strip()]
    if skills:
        blocks = [f"### {_one_line(s.name)}\n{s.template_prompt.strip()}" for s in skills]
        parts.append(SKILLS_HEADING + "\n" + "\n\n".join(blocks))
    return "\n\n".join(parts), [n.id for n, _ in nodes], [s.id for s in skills]


def preview_system_prompt(session: Session, connection: AgentConnection | None,
                          now: datetime | None = None) -> str:
    """Exactly the system message the next turn would send (for the Console's preview)."""
    return system_parts(session, connection, now)[0]


def _ordered(query):  # thread order, newest first (agent.threads: seq never rewritten by sync, then id)
    return query.order_by(Message.seq.desc(), Message.id.desc())


def history(session: Session, conversation_id: str, before: Message | None = None,
            limit: int = HISTORY_LIMIT) -> list[Message]:
    """The last `limit` live messages of the thread (before `before`, if given), oldest first."""
    query = select(Message).where(Message.conversation_id == conversation_id, Message.deleted_at.is_(None))
    if before is not None:
        query = query.where(tuple_(Message.seq, Message.id) < tuple_(before.seq, before.id))
    rows = session.exec(_ordered(query).limit(limit)).all()
    return list(reversed(rows))


def assemble_prompt(session: Session, connection: AgentConnection | None, conversation_id: str,
                    user_message: Message | str | None = None, now: datetime | None = None) -> AssembledPrompt:
    """What a turn sends. `user_message` is the new message: a stored row (history is what came before
    it), a text not stored yet (history is the thread's last 40), or None (preview without one)."""
    system, node_ids, skill_ids = system_parts(session, connection, now)
    before = user_message if isinstance(user_message, Message) else None
    past = history(session, conversation_id, before)
    messages = [{"role": "system", "content": system}] if system else []
    messages += wire_messages(past)  # tool calls and results as endpoints accept them (agent.tools.history)
    if isinstance(user_message, Message):
        messages.append({"role": "user", "content": user_message.content})
    elif isinstance(user_message, str):
        messages.append({"role": "user", "content": user_message})
    return AssembledPrompt(system, messages, node_ids, skill_ids, [m.id for m in past])
