"""Replay: re-answer recent user turns with today's prompt, memory and skills, and judge old vs new.

For each of the last N user messages (in threads of the dreaming connection) that got a reply, the
turn is asked again exactly as the Console would ask it today (`agent.prompt.assemble_prompt_in`, with
the question's attachments as the same content parts), then
the model judges the two replies side by side against a fixed rubric. The two are shown as A and B in
an order fixed by the message id (not always old-first), so position bias does not read as progress.
Findings only: the report says which turns got better, worse or stayed the same; nothing changes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlmodel import select

from agent.attachments.request import RequestContent
from agent.chat.threads import thread_messages_in
from agent.dream.reports import DreamProgress
from agent.llm.structured import Invalid, ask_json, require_object
from agent.prompt import assemble_prompt_in
from local_schema.models import AgentConnection, Conversation, Message

RUBRIC = ("1. Correct and truthful.\n2. Answers what was actually asked.\n"
          "3. Respects what is known about the user and their preferences.\n4. Clear and concise.")
JUDGE_SYSTEM = ("You compare two replies an assistant gave to the same message. Judge them only by the "
                "rubric. Answer with JSON only.")
SHOWN = 4000  # characters of each reply shown to the judge


def recent_turns(db, connection_id: str, limit: int) -> list[tuple[Message, Message]]:
    """(user message, a finished reply to it), newest first, from threads of this connection. A reply
    answers its parent (agent.chat.tree), so every branch's turns count, and failed or stopped replies none."""
    with db.session() as session:
        threads = session.exec(select(Conversation.id).where(Conversation.agent_connection_id == connection_id,
                                                             Conversation.deleted_at.is_(None))).all()
        turns: list[tuple[Message, Message]] = []
        for conversation_id in threads:
            messages = thread_messages_in(session, conversation_id)
            by_id = {m.id: m for m in messages}
            answered: dict[str, tuple[Message, Message]] = {}  # a regenerated question counts once: its newest reply
            for after in messages:
                before = by_id.get(after.parent_id)
                if (before is not None and before.role == "user" and after.role == "assistant"
                        and after.status == "done" and after.content.strip()):
                    answered[before.id] = (before, after)
            turns.extend(answered.values())
    # seq: the writing device's clock, never rewritten by sync (created_at is bounded by the server)
    turns.sort(key=lambda t: (t[0].seq or 0, t[0].id), reverse=True)
    return turns[:limit]


def replay(db, client: Any, connection_id: str, turns_wanted: int, progress: DreamProgress, ctx,
           now: datetime, step) -> None:
    turns = recent_turns(db, connection_id, turns_wanted)
    if not turns:
        progress.notes.append("No answered turns in this connection's threads: nothing to replay.")
        return
    for index, (question, old) in enumerate(turns, 1):
        ctx.progress(index - 1, len(turns), f"Replaying turn {index} of {len(turns)}")
        with db.session() as session:
            connection = session.get(AgentConnection, connection_id)
            # Files only on another device are not fetched while dreaming: that turn is left out, said in a note.
            content_of = RequestContent(db, accepts_images=bool(connection.accepts_images))
            try:
                prompt = assemble_prompt_in(session, connection, question.conversation_id, question, now,
                                            content_of=content_of)
            except ValueError as exc:  # an attachment gone, unreadable, or an image the model cannot take
                progress.notes.append(f"Turn {index} was not replayed: {exc}")
                step(f"turn {index}")
                continue
        new = "".join(client.stream_chat(prompt.messages, cancel=ctx.cancel, **prompt.options)).strip()
        ctx.check()
        verdict, reason = _judge(client, question.content, old.content, new, question.id, ctx)
        progress.findings.append({
            "kind": "replay", "verdict": verdict, "reason": reason,
            "conversation_id": question.conversation_id, "message_id": question.id,
            "question": question.content[:500], "old": old.content[:2000], "new": new[:2000],
        })
        step(f"turn {index}")


def tally(findings: list[dict]) -> dict[str, int]:
    counts = {"better": 0, "worse": 0, "same": 0}
    for finding in findings:
        if finding.get("kind") == "replay" and finding.get("verdict") in counts:
            counts[finding["verdict"]] += 1
    return counts


def _judge(client, question: str, old: str, new: str, message_id: str, ctx) -> tuple[str, str]:
    old_first = hashlib.sha256(message_id.encode()).digest()[0] % 2 == 0
    a, b = (old, new) if old_first else (new, old)
    prompt = (f"Rubric:\n{RUBRIC}\n\nThe user's message:\n{question[:SHOWN]}\n\nReply A:\n{a[:SHOWN]}\n\n"
              f"Reply B:\n{b[:SHOWN]}\n\n"
              'Which reply is better by the rubric? Answer as {"winner": "A" | "B" | "tie", "reason": "..."}.')

    def validate(value):
        obj = require_object(value)
        winner = obj.get("winner")
        if not isinstance(winner, str) or winner.strip().upper() not in ("A", "B", "TIE"):
            raise Invalid('"winner" must be "A", "B" or "tie".')
        reason = obj.get("reason") if isinstance(obj.get("reason"), str) else ""
        return winner.strip().upper(), reason.strip()[:500]

    winner, reason = ask_json(client, [{"role": "system", "content": JUDGE_SYSTEM},
                                       {"role": "user", "content": prompt}], validate, cancel=ctx.cancel)
    if winner == "TIE":
        return "same", reason
    new_won = (winner == "B") == old_first
    return ("better" if new_won else "worse"), reason
