"""Memory Atlas (rite III; docs/memory.md): the one implementation of every memory rule, used by the Atlas page,
the Console, `mirari memory …`, Mirror Mode and template installs alike. docs/memory.md says the rules
in prose; the text rules (duplicates, "the reply uses it", promote cleaning) are in agent/memory/text.py,
the `source` forms in agent/memory/sources.py.

- Strength: new nodes start at 0.5; nodes at or above 0.75 effective strength are injected into chat,
  strongest first, at most 40. Decay is computed (-0.05 per full 14 days since the last reference),
  never written by a timer: every device derives the same value and sync stays quiet. Every function
  takes `now` so tests (and the page) can fix the clock.
- No duplicates: an add whose label duplicates a live node (`text.is_duplicate`: the same words
  in the same order) reinforces that node instead and says so; found through a local index of keys.
- Reinforcement: +0.05 on the effective strength, capped at 1.0, `last_referenced_at` = now.
- Delete: a real local delete; sync pushes it as a tombstone and the server keeps it deleted.
- Pause: a paused node (synced `paused`) is kept and listed, but never injected into a prompt (whatever
  its strength; it does not count against the cap of 40) and never served to an outside app
  (agent.mcp_server). Resuming it brings it back as it was.

Writes go through `LocalDatabase.write()`; the `*_in(session, …)` variants let a caller (a template
install) put memory writes in the same transaction as its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, select

from agent.memory.sources import MANUAL, SOURCE_LIMIT, check_source, conversation_source, describe_sources_in
from agent.memory.text import dedup_key, one_line, reply_uses_node, shorten_label, strip_markdown
from local_schema.database import LocalDatabase
from local_schema.models import MemoryNode, Message, all_columns
from local_schema.timestamps import format_timestamp, parse_timestamp

NEW_NODE_STRENGTH = 0.5
INJECT_THRESHOLD = 0.75  # nodes at or above this effective strength go into the chat prompt
MEMORY_LIMIT = 40  # ... at most this many, strongest first
REINFORCE_STEP = 0.05
DECAY_STEP = 0.05
DECAY_PERIOD = timedelta(days=14)
LABEL_LIMIT = 2000  # the server's memory_nodes_label_length check: a longer label would never sync
CATEGORY_LIMIT = 500  # memory_nodes_category_length
CATEGORIES = ("preference", "fact", "goal", "style")  # suggested; any other short text is allowed
DEFAULT_CATEGORY = "fact"
MEMORY_HEADING = "## Memory\nWhat you remember about the user, strongest first:"


class AtlasError(ValueError):
    """A memory operation that cannot be done; str() is one sentence for the user. Nothing was written."""


# --- strength ------------------------------------------------------------------------------------------
def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _clamp(value: float) -> float:
    # Six decimals: the server stores `real` (float4), so 0.8 comes back as 0.800000011920929.
    return round(min(1.0, max(0.0, value)), 6)


def effective_strength(node: MemoryNode, now: datetime | None = None) -> float:
    """Stored strength minus 0.05 for each FULL 14 days since the last reference, within [0, 1].

    The last reference is `last_referenced_at`, or `created_at` for a node never referenced.
    A reference time in the future (clock skew between devices) counts as no decay.
    """
    since = node.last_referenced_at or node.created_at
    periods = 0
    if since:
        elapsed = _now(now) - parse_timestamp(since)
        periods = max(0, math.floor(elapsed / DECAY_PERIOD))
    return _clamp(_clamp(node.strength) - DECAY_STEP * periods)


PAUSED_GLYPH = "‖"


def strength_glyph(effective: float, paused: bool = False) -> str:
    """Atlas glyph: ‖ paused, else ✶ injected (>= 0.75), ◌ 0.4–0.75, · below."""
    if paused:
        return PAUSED_GLYPH
    if effective >= INJECT_THRESHOLD:
        return "✶"
    return "◌" if effective >= 0.4 else "·"


def reinforce_node(node: MemoryNode, now: datetime | None = None) -> tuple[float, float]:
    """Referencing a node: +0.05 on its *effective* strength (capped at 1.0), and it was referenced now.
    Returns (effective before, strength after). The caller adds the node to its session.

    Starting from the effective value keeps decay that already happened instead of silently undoing
    it when `last_referenced_at` is reset."""
    now = _now(now)
    before = effective_strength(node, now)
    node.strength = _clamp(before + REINFORCE_STEP)
    node.last_referenced_at = format_timestamp(now)
    return before, node.strength


# --- validation ---------------------------------------------------------------------------------------
def clean_label(label: str | None) -> str:
    text = one_line(label or "")
    if not text:
        raise AtlasError("A memory needs a label: the fact itself, e.g. “Prefers tea over coffee”.")
    if len(text) > LABEL_LIMIT:
        raise AtlasError(f"The label is {len(text):,} characters long; the limit is {LABEL_LIMIT:,}. "
                         "Keep only the fact.")
    return text


def clean_category(category: str | None) -> str:
    text = one_line(category or "") or DEFAULT_CATEGORY
    if len(text) > CATEGORY_LIMIT:
        raise AtlasError(f"The category is too long (at most {CATEGORY_LIMIT} characters).")
    return text


def check_strength(strength: float) -> float:
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise AtlasError(f"Strength must be a number between 0 and 1, not {strength!r}.") from None
    if not (0.0 <= value <= 1.0) or math.isnan(value):
        raise AtlasError(f"Strength must be between 0 and 1 (got {value:g}).")
    return _clamp(value)


def _check_source(source: str | None) -> str:
    try:
        raw = check_source(source)
    except ValueError as exc:
        raise AtlasError(str(exc)) from None
    if len(raw) > SOURCE_LIMIT:
        raise AtlasError(f"The source is too long (at most {SOURCE_LIMIT} characters).")
    return raw


# --- reading ------------------------------------------------------------------------------------------
@dataclass
class NodeView:
    """A node as the Atlas shows it: the row plus what is computed from it at `now`."""

    node: MemoryNode
    effective: float
    injected: bool  # in the memory block right now (>= 0.75 and within the first 40)
    source_title: str = ""

    @property
    def id(self) -> str:
        return self.node.id

    @property
    def glyph(self) -> str:
        return strength_glyph(self.effective, self.node.paused)

    def to_json(self) -> dict:
        """The table's columns plus the computed fields (`mirari memory list --json`)."""
        data = {column: getattr(self.node, column) for column in all_columns(MemoryNode)}
        data.update(effective_strength=self.effective, glyph=self.glyph, injected=self.injected,
                    source_title=self.source_title)
        return data


def ranked_in(session: Session, now: datetime | None = None) -> list[tuple[MemoryNode, float]]:
    """Every live node with its effective strength, in injection order: strongest first, ties newest
    first, then by id. The Atlas, the prompt and the CLI all use this one order."""
    now = _now(now)
    rows = session.exec(select(MemoryNode).where(MemoryNode.deleted_at.is_(None))).all()
    scored = [(node, effective_strength(node, now)) for node in rows]
    scored.sort(key=lambda item: (item[0].created_at, item[0].id), reverse=True)  # two stable sorts
    scored.sort(key=lambda item: item[1], reverse=True)
    return scored


def split_at_cap(scored: list[tuple[MemoryNode, float]],
               limit: int = MEMORY_LIMIT) -> tuple[list[tuple[MemoryNode, float]], list[tuple[MemoryNode, float]]]:
    eligible = [item for item in scored if item[1] >= INJECT_THRESHOLD and not item[0].paused]
    return eligible[:limit], eligible[limit:]


def injected_nodes_in(session: Session, now: datetime | None = None,
                   limit: int = MEMORY_LIMIT) -> list[tuple[MemoryNode, float]]:
    """The nodes a chat turn injects: not paused, effective strength >= 0.75, in `ranked_in` order, at most
    `limit`."""
    return split_at_cap(ranked_in(session, now), limit)[0]


def render_memory_block(nodes: Iterable[MemoryNode]) -> str:
    """The exact memory part of the system message ("" when there is nothing to inject):

        ## Memory
        What you remember about the user, strongest first:
        - <label> (<category>)      one line per node, whitespace collapsed; "(…)" left out without category
    """
    lines = [f"- {one_line(n.label)} ({one_line(n.category)})" if one_line(n.category or "")
             else f"- {one_line(n.label)}" for n in nodes]
    return MEMORY_HEADING + "\n" + "\n".join(lines) if lines else ""


def list_nodes(db: LocalDatabase, now: datetime | None = None, query: str = "") -> list[NodeView]:
    """Live nodes in `ranked_in` order; `query` keeps those whose label, category or source contains it
    (case-insensitive)."""
    now = _now(now)
    with db.session() as session:
        scored = ranked_in(session, now)
        injected_ids = {node.id for node, _ in split_at_cap(scored)[0]}
        titles = describe_sources_in(session, (node.source for node, _ in scored))
    views = [NodeView(node, eff, node.id in injected_ids, titles[node.source or MANUAL]) for node, eff in scored]
    needle = one_line(query).casefold()
    if needle:
        views = [v for v in views if needle in " ".join(
            (v.node.label, v.node.category or "", v.node.source or "", v.source_title)).casefold()]
    return views


def get_node(db: LocalDatabase, node_id: str, now: datetime | None = None) -> NodeView:
    for view in list_nodes(db, now):
        if view.id == node_id:
            return view
    raise AtlasError(f"No memory node {node_id}.")


def estimate_tokens(text: str) -> int:
    """About 4 characters per token (the usual rule of thumb for English with GPT-style tokenizers);
    an estimate, not a count: a real tokenizer may differ by a third either way."""
    return (len(text) + 3) // 4


# --- writing ------------------------------------------------------------------------------------------
@dataclass
class AddResult:
    node: MemoryNode  # the new node, or the existing one that was reinforced
    reinforced: bool  # True: a duplicate of `node`, which was reinforced instead of adding another
    message: str  # one sentence for the user


def find_duplicate_in(session: Session, label: str, exclude_id: str | None = None) -> MemoryNode | None:
    """The live node `label` duplicates (`text.is_duplicate`), or None: one lookup in the local
    index of duplicate keys (local migration v10), whatever the size of the Atlas. Several candidates:
    the strongest stored, then the oldest, so the answer does not depend on row order. Call it inside
    a write transaction: it first stores the keys of nodes written since the last lookup."""
    key = dedup_key(label)
    if not key:
        return None
    session.flush()  # nodes added in this transaction are in the index too
    _fill_missing_keys(session)
    row = session.execute(text(
        "SELECT n.id FROM memory_dedup_keys AS k JOIN memory_nodes AS n ON n.id = k.node_id "
        "WHERE k.key = :key AND n.deleted_at IS NULL AND n.id IS NOT :exclude "
        "ORDER BY n.strength DESC, n.created_at, n.id LIMIT 1"), {"key": key, "exclude": exclude_id}).first()
    return session.get(MemoryNode, row[0]) if row else None


def _fill_missing_keys(session: Session) -> int:
    """Compute the duplicate keys the index lacks: nodes inserted or relabelled since the last lookup
    (the triggers of local migration v10 mark them). Returns how many were computed."""
    rows = session.execute(text(
        "SELECT k.node_id, n.label FROM memory_dedup_keys AS k JOIN memory_nodes AS n ON n.id = k.node_id "
        "WHERE k.key IS NULL")).all()
    if rows:
        session.execute(text("UPDATE memory_dedup_keys SET key = :key WHERE node_id = :id"),
                        [{"id": node_id, "key": dedup_key(label)} for node_id, label in rows])
    return len(rows)


def _quote(label: str, width: int = 80) -> str:
    return "“" + (label if len(label) <= width else label[: width - 1] + "…") + "”"


def add_node_in(session: Session, label: str, category: str | None = DEFAULT_CATEGORY,
                strength: float = NEW_NODE_STRENGTH, source: str | None = MANUAL,
                now: datetime | None = None, user_id: str | None = None) -> AddResult:
    """`add_node` inside the caller's write transaction (validates everything before writing)."""
    label, category = clean_label(label), clean_category(category)
    strength, source, now = check_strength(strength), _check_source(source), _now(now)
    existing = find_duplicate_in(session, label)
    if existing is not None:
        before, after = reinforce_node(existing, now)
        session.add(existing)
        return AddResult(existing, True, f"Already in the Atlas as {_quote(existing.label)} "
                                         f"({existing.category or 'no category'}): reinforced it, "
                                         f"{before:.2f} → {after:.2f}, instead of adding a duplicate.")
    node = MemoryNode(user_id=user_id, label=label, category=category, strength=strength, source=source,
                      created_at=format_timestamp(now))  # decay of a never-referenced node counts from here
    session.add(node)
    return AddResult(node, False, f"Added to the Atlas: {_quote(label)} ({category}, {strength:.2f}).")


def add_node(db: LocalDatabase, label: str, category: str | None = DEFAULT_CATEGORY,
             strength: float = NEW_NODE_STRENGTH, source: str | None = MANUAL,
             now: datetime | None = None) -> AddResult:
    """Add a fact to the Atlas — unless it duplicates a live node, which is reinforced instead (the
    result says which happened). AtlasError for an empty or over-long label, a strength outside 0..1
    or an unknown source form; nothing is written then."""
    with db.write() as session:
        return add_node_in(session, label, category, strength, source, now)


def add_nodes(db: LocalDatabase, items: Iterable[dict], source: str | None = MANUAL,
              now: datetime | None = None) -> list[AddResult]:
    """Several adds in one transaction: each item {label, category?, strength?}; later items are checked
    against earlier ones too. One bad item: nothing is written. (A template's install has rules of its
    own: agent.templates.install.)"""
    with db.write() as session:
        results = []
        for item in items:
            result = add_node_in(session, item.get("label", ""), item.get("category") or DEFAULT_CATEGORY,
                                 item.get("strength", NEW_NODE_STRENGTH), source, now)
            session.flush()  # the next item's duplicate check sees this one
            results.append(result)
        return results


def reinforce_in(session: Session, node_ids: Iterable[str], now: datetime | None = None) -> list[str]:
    """Reinforce these nodes (missing or deleted ones are skipped); returns the ids reinforced."""
    done = []
    for node_id in dict.fromkeys(node_ids):  # once per node, in the order given
        node = session.get(MemoryNode, node_id)
        if node is None or node.deleted_at is not None:
            continue
        reinforce_node(node, now)
        session.add(node)
        done.append(node.id)
    return done


def reinforce(db: LocalDatabase, node_ids: Iterable[str], now: datetime | None = None) -> list[str]:
    """Nodes were referenced (a Mirror report cites them, a reply used them): +0.05 each, capped at 1."""
    ids = list(node_ids)
    if not ids:
        return []
    with db.write() as session:
        return reinforce_in(session, ids, now)


def reinforce_used(db: LocalDatabase, node_ids: Iterable[str], reply: str,
                   now: datetime | None = None) -> list[str]:
    """After a chat reply: reinforce those of the injected `node_ids` that the reply uses
    (`text.reply_uses_node`); returns their ids."""
    ids = list(node_ids)
    if not ids or not reply.strip():
        return []
    with db.write() as session:
        nodes = [session.get(MemoryNode, node_id) for node_id in ids]
        used = [n.id for n in nodes if n is not None and n.deleted_at is None and reply_uses_node(reply, n.label)]
        return reinforce_in(session, used, now)


def _live(session: Session, node_id: str) -> MemoryNode:
    node = session.get(MemoryNode, node_id)
    if node is None or node.deleted_at is not None:
        raise AtlasError(f"No memory node {node_id} (it may have been deleted).")
    return node


def edit_node(db: LocalDatabase, node_id: str, *, label: str | None = None, category: str | None = None,
              strength: float | None = None, now: datetime | None = None) -> MemoryNode:
    """Change label, category and/or strength. A strength set by hand is what the user sees from now
    on: `last_referenced_at` becomes now, so decay restarts. A label may not become a duplicate of
    another node (AtlasError names it). Returns the node as stored."""
    if label is None and category is None and strength is None:
        raise AtlasError("Nothing to change: give a new label, category or strength.")
    now = _now(now)
    with db.write() as session:
        node = _live(session, node_id)
        if label is not None:
            label = clean_label(label)
            other = find_duplicate_in(session, label, exclude_id=node.id)
            if other is not None:
                raise AtlasError(f"That would duplicate {_quote(other.label)}: edit or delete that node instead.")
            node.label = label
        if category is not None:
            node.category = clean_category(category)
        if strength is not None:
            node.strength = check_strength(strength)
            node.last_referenced_at = format_timestamp(now)
        session.add(node)
        return node


def set_paused(db: LocalDatabase, node_id: str, paused: bool) -> MemoryNode:
    """Pause a node (kept, never injected nor served to outside apps) or resume it; synced. Strength and
    decay are untouched: a resumed fact is what it would have been. Returns the node as stored."""
    with db.write() as session:
        node = _live(session, node_id)
        if node.paused != bool(paused):
            node.paused = bool(paused)
            session.add(node)
        return node


def delete_node(db: LocalDatabase, node_id: str) -> MemoryNode:
    """Delete a node: gone here at once, pushed as a tombstone by sync, and it stays deleted on every
    device (a later edit elsewhere is parked, not resurrected). Returns the deleted row."""
    with db.write() as session:
        node = _live(session, node_id)
        session.delete(node)
        return node


# --- promote: keep the fact, not the message ------------------------------------------------------------
@dataclass(frozen=True)
class PromoteDraft:
    label: str  # the message's text, Markdown stripped, on one line, trimmed to LABEL_LIMIT
    category: str
    source: str  # conversation:<thread>#<message>
    shortened: bool  # the text was longer than LABEL_LIMIT and was cut


def promote_draft(db: LocalDatabase, message_id: str) -> PromoteDraft:
    """What "Promote to Atlas" pre-fills for a message; the user edits it, then `add_node` saves it."""
    with db.session() as session:
        message = session.get(Message, message_id)
        if message is None or message.deleted_at is not None:
            raise AtlasError("That message no longer exists.")
        plain = strip_markdown(message.content)
        if not plain:
            raise AtlasError("An empty message cannot be promoted to the Atlas.")
        label = shorten_label(plain, LABEL_LIMIT)
        return PromoteDraft(label, DEFAULT_CATEGORY, conversation_source(message.conversation_id, message.id),
                            len(label) < len(plain))
