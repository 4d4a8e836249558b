"""Suggest Skill (docs/skills.md): the bound agent drafts a skill from optional context. No Qt.

    skill = suggest_skill(db, connection_id, api_key, context="…", ctx=ctx)          # typed context
    skill = suggest_skill(db, connection_id, api_key, conversation_id=tid, ctx=ctx)  # a Console thread

The request asks for one JSON object {name, description, category, template_prompt, test_cases}
(`response_format` json_object where the endpoint takes it), the reply is parsed tolerantly (code
fences accepted) and validated against the server's limits (agent.skills.forge.validate_draft); an invalid
reply gets exactly one repair request quoting the problem, then StructuredOutputError — and nothing is
stored unless a valid draft came back (agent.llm.structured.ask_json). The new skill's status is 'suggested'.
"""

from __future__ import annotations

from agent.chat.tree import active_path_in
from agent.jobs import JobContext
from agent.llm.client import LLMClient
from agent.llm.structured import ask_json
from agent.skills.cases import KINDS, MAX_CASES
from agent.skills.forge import (
    NAME_LIMIT,
    PROMPT_LIMIT,
    SkillError,
    create_suggested,
    list_skills_in,
    validate_draft,
)
from local_schema.database import LocalDatabase
from local_schema.models import AgentConnection, Conversation, Skill

CONTEXT_LIMIT = 20_000  # characters of context sent (a thread: its most recent messages that fit)
TAIL_MESSAGES = 200
EXISTING_LISTED = 50  # names of existing skills shown to the model, so it does not repeat one

INSTRUCTIONS = f"""You design reusable skills for an LLM agent. A skill is a short instruction fragment \
("template_prompt") that is added to the agent's system prompt once the user promotes it.
Draft ONE new skill that would help with what the context shows (or a generally useful one when there is \
no context), different from the agent's existing skills.
Answer with a single JSON object and nothing else:
{{"name": "short title (at most 80 characters)",
  "description": "one or two sentences: when the skill applies",
  "category": "one lower-case word, e.g. writing, coding, research, style",
  "template_prompt": "the instruction itself, addressed to the agent, at most 1,500 characters",
  "test_cases": [{{"prompt": "a user message", "expectations": [{{"kind": "contains", "value": "text"}}]}}]}}
Give 1 to 3 test cases whose expectations a reply following the skill meets and an ordinary reply \
probably does not. Expectation kinds: {", ".join(KINDS)}. contains / not_contains / regex take a text \
"value", max_chars a whole number "value", is_json none.
Hard limits: name {NAME_LIMIT} characters, template_prompt {PROMPT_LIMIT:,} characters, at most \
{MAX_CASES} test cases."""


def thread_context(db: LocalDatabase, conversation_id: str, limit: int = CONTEXT_LIMIT) -> str:
    """A Console thread as a plain transcript, its most recent messages that fit in `limit` characters."""
    with db.session() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.deleted_at is not None:
            raise SkillError("That thread no longer exists.")
        # What the thread shows (its active path); a long thread: only its tail can fit anyway.
        messages = [m for m in active_path_in(session, conversation_id, TAIL_MESSAGES) if m.status != "error"]
    lines: list[str] = []
    used = 0
    for message in reversed(messages):
        line = f"{message.role.capitalize()}: {message.content.strip()}"
        if used + len(line) > limit:
            if not lines:
                lines.append(line[-limit:])
            break
        lines.append(line)
        used += len(line) + 2
    if not lines:
        raise SkillError("That thread has no messages yet.")
    return "\n\n".join(reversed(lines))


def build_messages(context: str, existing: list[str]) -> list[dict]:
    parts = []
    if existing:
        parts.append("Existing skills (do not repeat them): " + "; ".join(existing[:EXISTING_LISTED]))
    context = (context or "").strip()
    parts.append(f"Context:\n{context[-CONTEXT_LIMIT:]}" if context else "Context: (none given)")
    return [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": "\n\n".join(parts)}]


def suggest_skill(db: LocalDatabase, connection_id: str, api_key: str | None = "", *, context: str | None = None,
                  conversation_id: str | None = None, ctx: JobContext | None = None,
                  client: LLMClient | None = None) -> Skill:
    """Draft, validate (one repair), store as 'suggested'. Raises SkillError, LLMError,
    StructuredOutputError or JobCancelled — having stored nothing."""
    ctx = ctx or JobContext()
    with db.session() as session:
        connection = session.get(AgentConnection, connection_id)
        if connection is None or connection.deleted_at is not None:
            raise SkillError("That connection no longer exists; choose another one in Bind.")
        existing = [s.name for s in list_skills_in(session)]
    if conversation_id:
        context = "\n\n".join(part for part in ((context or "").strip(), thread_context(db, conversation_id))
                              if part)
    ctx.progress(0, 0, f"Asking {connection.name} for a skill")
    own_client = client is None
    client = client or LLMClient(connection.base_url, connection.model, api_key)
    try:
        draft = ask_json(client, build_messages(context or "", existing), validate_draft, cancel=ctx.cancel,
                         on_attempt=lambda n: ctx.progress(n, 0, "Checking the draft" if n == 1 else
                                                           "Checking the repaired draft"))
    finally:
        if own_client:
            client.close()
    ctx.check()
    return create_suggested(db, draft, user_id=connection.user_id)
