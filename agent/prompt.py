"""Prompt assembly (rite II, the Console): the one place that decides exactly what a chat turn sends.

System message text, in this order, parts separated by one blank line (empty parts are left out):

    <the connection's system prompt, trimmed>

    <the thread's system prompt addition, trimmed>      (its settings, agent.chat.tree)

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
When all the parts are empty no system message is sent at all (an empty one carries nothing and
some chat templates reject it).

Messages sent: [system] + the last 40 messages of the path from the thread's first message down to the
new message's parent (conversations are trees, agent.chat.tree: other branches are never sent), in order,
+ the new message. Failed replies (status "error") on that path are skipped: they are not part of the
conversation, only a record that a call failed. The request's temperature, max_tokens and stop come from
the thread's settings when set (`AssembledPrompt.options`), else the connection's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, select

from agent.chat.tree import ThreadSettings, active_leaf_in, path_to_in, thread_settings
from agent.memory.atlas import (
    MEMORY_HEADING,
    MEMORY_LIMIT,
    AtlasError,
    NodeView,
    estimate_tokens,
    injected_nodes_in,
    ranked_in,
    render_memory_block,
    split_at_cap,
)
from agent.memory.sources import MANUAL, describe_sources_in
from agent.tools.history import wire_messages
from local_schema.database import LocalDatabase
from local_schema.models import AgentConnection, Conversation, Message, Skill

__all__ = ["HISTORY_LIMIT", "MEMORY_HEADING", "MEMORY_LIMIT", "AssembledPrompt", "MemoryBlock", "assemble_prompt_in",
           "history_in", "memory_block", "preview_system_prompt_in", "system_parts_in"]

HISTORY_LIMIT = 40
SKILLS_HEADING = "## Skills"


@dataclass
class AssembledPrompt:
    system: str  # the system message text ("" = none sent)
    messages: list[dict] = field(default_factory=list)  # exactly the `messages` of the request
    memory_node_ids: list[str] = field(default_factory=list)  # injected, strongest first
    skill_ids: list[str] = field(default_factory=list)
    history_ids: list[str] = field(default_factory=list)  # thread messages sent, oldest first
    options: dict = field(default_factory=dict)  # request parameters from the thread's settings


def _one_line(text: str) -> str:
    return " ".join(text.split())


def system_parts_in(session: Session, connection: AgentConnection | None, now: datetime | None = None,
                 addition: str | None = None) -> tuple[str, list[str], list[str]]:
    """(system text, injected node ids, promoted skill ids). `addition`: the thread's own addition."""
    parts: list[str] = []
    base = ((connection.system_prompt if connection else None) or "").strip()
    if base:
        parts.append(base)
    if (addition or "").strip():
        parts.append(addition.strip())
    nodes = injected_nodes_in(session, now or datetime.now(UTC), MEMORY_LIMIT)
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


def preview_system_prompt_in(session: Session, connection: AgentConnection | None,
                          now: datetime | None = None, conversation_id: str | None = None) -> str:
    """Exactly the system message the next turn would send (for the Console's preview): with the
    thread's own addition when `conversation_id` is given."""
    return system_parts_in(session, connection, now, _settings(session, conversation_id).system_addition)[0]


def _settings(session: Session, conversation_id: str | None) -> ThreadSettings:
    conversation = session.get(Conversation, conversation_id) if conversation_id else None
    return thread_settings(conversation) if conversation is not None else ThreadSettings()


def history_in(session: Session, conversation_id: str, before: Message | None = None,
            limit: int = HISTORY_LIMIT) -> list[Message]:
    """The last `limit` messages a turn sends, oldest first: the path down to `before`'s parent (None:
    to the thread's active leaf, where a new message would go), failed replies left out."""
    if before is not None:
        start = before.parent_id
    else:
        conversation = session.get(Conversation, conversation_id)
        start = active_leaf_in(session, conversation) if conversation is not None else None
    steps = limit
    while True:  # failed replies are rare: one walk nearly always finds `limit` messages to send
        path = path_to_in(session, conversation_id, start, steps)
        sendable = [m for m in path if m.status != "error"]
        if len(sendable) >= limit or len(path) < steps:
            return sendable[-limit:] if limit else []
        steps *= 2


def assemble_prompt_in(session: Session, connection: AgentConnection | None, conversation_id: str,
                    user_message: Message | str | None = None, now: datetime | None = None) -> AssembledPrompt:
    """What a turn sends. `user_message` is the new message: a stored row (history is the path to its
    parent), a text not stored yet (history is the path to the active leaf), or None (preview without one)."""
    settings = _settings(session, conversation_id)
    system, node_ids, skill_ids = system_parts_in(session, connection, now, settings.system_addition)
    before = user_message if isinstance(user_message, Message) else None
    past = history_in(session, conversation_id, before)
    messages = [{"role": "system", "content": system}] if system else []
    # A turn that goes on after a tool result (Retry, Regenerate of the reply to it) asks under that result:
    # it is sent with the call it answers, like the rest of the path (agent.tools.history).
    after_tool = isinstance(user_message, Message) and user_message.role == "tool"
    messages += wire_messages(past + [user_message] if after_tool else past)
    if isinstance(user_message, Message) and not after_tool:
        messages.append({"role": user_message.role, "content": user_message.content})
    elif isinstance(user_message, str):
        messages.append({"role": "user", "content": user_message})
    return AssembledPrompt(system, messages, node_ids, skill_ids, [m.id for m in past], settings.request_options())


# --- what the agent sees (the Atlas's panel, `mirari memory prompt`) ----------------------------------
@dataclass
class MemoryBlock:
    """What the agent sees for one connection ("What the agent sees" panel, `mirari memory prompt`)."""

    block: str  # the memory part, exactly as inserted into the system message
    system: str  # the whole system message a turn sends now (base prompt + block + promoted skills)
    injected: list[NodeView] = field(default_factory=list)
    over_cap: list[NodeView] = field(default_factory=list)  # >= 0.75 but beyond the first 40
    connection_name: str | None = None

    @property
    def chars(self) -> int:
        return len(self.block)

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.block)

    @property
    def system_chars(self) -> int:
        return len(self.system)

    @property
    def system_tokens(self) -> int:
        return estimate_tokens(self.system)


def memory_block(db: LocalDatabase, connection_id: str | None, now: datetime | None = None) -> MemoryBlock:
    """The exact memory block and system message for `connection_id` (None: no connection), with the
    nodes injected and those that fell outside the cap of 40. AtlasError if the connection is gone."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        connection = session.get(AgentConnection, connection_id) if connection_id else None
        if connection_id and (connection is None or connection.deleted_at is not None):
            raise AtlasError(f"No connection {connection_id}.")
        system, _node_ids, _skill_ids = system_parts_in(session, connection, now)
        scored = ranked_in(session, now)
        inside, outside = split_at_cap(scored)
        titles = describe_sources_in(session, (node.source for node, _ in inside + outside))
    return MemoryBlock(
        block=render_memory_block(node for node, _ in inside),
        system=system,
        injected=[NodeView(n, e, True, titles[n.source or MANUAL]) for n, e in inside],
        over_cap=[NodeView(n, e, False, titles[n.source or MANUAL]) for n, e in outside],
        connection_name=connection.name if connection else None,
    )
