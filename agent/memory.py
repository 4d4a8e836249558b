"""Memory Atlas rules (MIRARI.md §III): effective strength with decay, reinforcement, promotion.

Decay is computed, never written on a timer: every device derives the same effective strength from
the stored `strength` and the last reference time, and sync stays quiet.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from local_schema.database import LocalDatabase
from local_schema.models import MemoryNode, Message
from local_schema.timestamps import format_timestamp, parse_timestamp

NEW_NODE_STRENGTH = 0.5
INJECT_THRESHOLD = 0.75  # nodes at or above this effective strength go into the chat prompt
REINFORCE_STEP = 0.05
DECAY_STEP = 0.05
DECAY_PERIOD = timedelta(days=14)
LABEL_LIMIT = 2000  # the server's memory_nodes_label_length check: a longer label would be rejected by sync


def _clamp(value: float) -> float:
    # Six decimals: the server stores `real` (float4), so 0.8 comes back as 0.800000011920929.
    return round(min(1.0, max(0.0, value)), 6)


def effective_strength(node: MemoryNode, now: datetime | None = None) -> float:
    """Stored strength minus 0.05 for each FULL 14 days since the last reference, within [0, 1].

    The last reference is `last_referenced_at`, or `created_at` for a node never referenced.
    A reference time in the future (clock skew between devices) counts as no decay.
    """
    now = now or datetime.now(UTC)
    since = node.last_referenced_at or node.created_at
    periods = 0
    if since:
        elapsed = now - parse_timestamp(since)
        periods = max(0, math.floor(elapsed / DECAY_PERIOD))
    return _clamp(_clamp(node.strength) - DECAY_STEP * periods)


def strength_glyph(effective: float) -> str:
    """Atlas glyph: ✶ injected (>= 0.75), ◌ 0.4–0.75, · below."""
    if effective >= INJECT_THRESHOLD:
        return "✶"
    return "◌" if effective >= 0.4 else "·"


def reinforce(node: MemoryNode, now: datetime | None = None) -> None:
    """Referencing a node: +0.05 on its *effective* strength (capped at 1.0), and it was referenced now.

    Starting from the effective value means decay that already happened is kept rather than
    silently undone by the reset of `last_referenced_at`. The caller adds and commits.
    """
    now = now or datetime.now(UTC)
    node.strength = _clamp(effective_strength(node, now) + REINFORCE_STEP)
    node.last_referenced_at = format_timestamp(now)


# --- "does the reply use this node?" --------------------------------------------------------------
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORD_TEXT = """a about above after again all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its just me more most my no nor not now of off
    on once only or other our out over own same she should so some such than that the their them then
    there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours user users agent"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def content_words(text: str) -> set[str]:
    """Lower-cased words of 3+ characters, minus stop words, with a plural/3rd-person 's' removed."""
    words = set()
    for word in _WORD.findall(text.lower()):
        if len(word) < 3 or word in _STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.add(word)
    return words


def reply_uses_node(reply: str, label: str) -> bool:
    """The deterministic word-overlap test for "the assistant's reply uses this memory node".

    Both texts are reduced to content words (see `content_words`: lower case, 3+ letters, common
    English stop words and the generic words user/agent dropped, a trailing plural 's' removed).
    The reply uses the node when it contains at least half of the label's distinct content words,
    and at least two of them if the label has two or more (so one shared common word is not enough).
    A label with no content words is never considered used.

    Example: label "Prefers Python for data work" -> {prefer, python, data, work}; a reply mentioning
    "python" and "data" uses it, a reply mentioning only "python" does not.
    """
    label_words = content_words(label)
    if not label_words:
        return False
    shared = len(label_words & content_words(reply))
    return shared >= min(2, len(label_words)) and shared * 2 >= len(label_words)


def reinforce_used(session: Session, node_ids: Iterable[str], reply: str,
                   now: datetime | None = None) -> list[str]:
    """Reinforce the injected nodes (by id) that the reply uses; returns their ids.
    Call it inside a `db.write()` block (it reads, then writes the nodes)."""
    used = []
    for node_id in node_ids:
        node = session.get(MemoryNode, node_id)
        if node is None or node.deleted_at is not None or not reply_uses_node(reply, node.label):
            continue
        reinforce(node, now)
        session.add(node)
        used.append(node.id)
    return used


def injected_nodes(session: Session, now: datetime | None = None, limit: int = 40) -> list[tuple[MemoryNode, float]]:
    """Nodes with effective strength >= 0.75, strongest first (ties: newest first, then id), at most `limit`."""
    now = now or datetime.now(UTC)
    rows = session.exec(select(MemoryNode).where(MemoryNode.deleted_at.is_(None))).all()
    scored = [(node, effective_strength(node, now)) for node in rows]
    scored = [(node, s) for node, s in scored if s >= INJECT_THRESHOLD]
    # two stable sorts: newest first, then strongest first
    scored.sort(key=lambda item: (item[0].created_at, item[0].id), reverse=True)
    scored.sort(key=lambda item: item[1], reverse=True)
    return scored[:limit]


class PromoteError(ValueError):
    """The message cannot become a memory node; str() is the user-facing reason."""


def shorten_label(text: str, limit: int = LABEL_LIMIT) -> str:
    """`text` if it fits in `limit` characters, else its start cut at a word boundary (when one is
    near the end) plus an ellipsis, `limit` characters at most."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit - 200:  # do not throw away a long unbroken tail (code, a URL) for a tidy cut
        cut = cut[:space]
    return cut.rstrip() + "…"


def promote_message(db: LocalDatabase, message_id: str) -> MemoryNode:
    """Promote a message to the Atlas: label = its trimmed text, category 'fact', strength 0.5,
    source 'conversation:<conversation id>'. One write; returns the new node.

    A message longer than the server allows for a label (LABEL_LIMIT) is shortened, so the node
    can sync; the caller can compare lengths to tell the user."""
    with db.write() as session:
        message = session.get(Message, message_id)
        if message is None or message.deleted_at is not None:
            raise PromoteError("That message no longer exists.")
        label = shorten_label(message.content.strip())
        if not label:
            raise PromoteError("An empty message cannot be promoted to the Atlas.")
        node = MemoryNode(user_id=message.user_id, label=label, category="fact", strength=NEW_NODE_STRENGTH,
                          source=f"conversation:{message.conversation_id}")
        session.add(node)
    return node
