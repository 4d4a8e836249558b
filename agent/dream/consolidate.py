"""Consolidate: duplicates, contradictions and weak nodes in the Memory Atlas — proposed, never applied.

1. Weak nodes (deterministic, no request): effective strength < 0.2 and not referenced for 60 days
   → a `delete` proposal each.
2. Duplicates: a deterministic similarity (content-word overlap, see `similarity`) picks candidate
   pairs; the model only confirms them and words the merged fact → one `merge` proposal per group.
3. Contradictions: the model sees the strongest nodes as small numbers (1, 2, …, never ids) and
   answers pairs that cannot both be true, which to keep, and nodes worth rewording → `keep_one` and
   `reword` proposals. Numbers out of range, a node paired with itself and repeats are ignored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import select

from agent.dream.reports import DreamProgress
from agent.llm.structured import Invalid, ask_json, list_field, require_object
from agent.memory.atlas import LABEL_LIMIT, effective_strength
from agent.memory.text import normalise, word_overlap
from local_schema.models import MemoryNode
from local_schema.timestamps import parse_timestamp

WEAK_STRENGTH = 0.2
WEAK_AFTER = timedelta(days=60)
MAX_WEAK = 50  # delete proposals for weak nodes per dream, so merges and contradictions keep their room
CANDIDATE_SIMILARITY = 0.5  # content-word overlap at which a pair is worth asking about
MAX_PAIRS = 25  # candidate pairs sent in one request
MAX_NODES_SHOWN = 60  # nodes shown for the contradiction check (strongest first)
MAX_SHOWN_CHARS = 12_000

SYSTEM = ("You help maintain a person's long-term memory: short facts an assistant keeps about them. "
          "Be conservative: only flag what is clearly true. Answer with JSON only.")


def similarity(a: str, b: str) -> float:
    """The Atlas's own measure (`agent.memory.text`): 1.0 for the same normalised text, else the word
    overlap (blind to word order). Adding a node merges only the same words in the same order; a dream
    asks the model about pairs from 0.5 up, which covers rows that met on sync, the same fact in other
    words, and pairs such as "tea over coffee" / "coffee over tea" that only a reader can tell apart."""
    return 1.0 if normalise(a) == normalise(b) else word_overlap(a, b)


def live_nodes(db) -> list[MemoryNode]:
    with db.session() as session:
        return list(session.exec(select(MemoryNode).where(MemoryNode.deleted_at.is_(None))
                                 .order_by(MemoryNode.created_at, MemoryNode.id)).all())


def find_weak(nodes: list[MemoryNode], now: datetime) -> list[MemoryNode]:
    weak = []
    for node in nodes:
        since = node.last_referenced_at or node.created_at
        if effective_strength(node, now) < WEAK_STRENGTH and since and now - parse_timestamp(since) >= WEAK_AFTER:
            weak.append(node)
    return weak


def candidate_pairs(nodes: list[MemoryNode]) -> list[tuple[MemoryNode, MemoryNode, float]]:
    pairs = []
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            score = similarity(a.label, b.label)
            if score >= CANDIDATE_SIMILARITY:
                pairs.append((a, b, score))
    pairs.sort(key=lambda p: p[2], reverse=True)
    return pairs[:MAX_PAIRS]


def consolidate(db, client: Any, progress: DreamProgress, ctx, now: datetime, step) -> None:
    """Run the three checks, adding findings and proposals to `progress`. `step(name)` checkpoints."""
    nodes = live_nodes(db)
    if not nodes:
        progress.notes.append("The Memory Atlas is empty: nothing to consolidate.")
        return
    strength = {n.id: effective_strength(n, now) for n in nodes}

    weak = find_weak(nodes, now)
    if len(weak) > MAX_WEAK:  # the weakest first; the next dream proposes the rest
        weak = sorted(weak, key=lambda n: (strength[n.id], n.id))
        progress.notes.append(f"{len(weak) - MAX_WEAK} more weak memories are left for the next dream.")
        weak = weak[:MAX_WEAK]
    for node in weak:
        progress.findings.append({"kind": "weak", "node_ids": [node.id],
                                  "text": f"“{node.label}” is weak ({strength[node.id]:.2f}) and unused for 60+ days."})
        progress.propose("delete", f"Delete the weak memory “{_short(node.label)}”", node_id=node.id,
                         label=node.label)
    step("weak nodes")

    pairs = candidate_pairs(nodes)
    if pairs:
        ctx.check()
        _duplicates(client, pairs, strength, progress, ctx)
    step("duplicates")

    shown = sorted(nodes, key=lambda n: strength[n.id], reverse=True)[:MAX_NODES_SHOWN]
    shown = _within_chars(shown)
    if len(shown) >= 2:
        ctx.check()
        _contradictions(client, shown, progress, ctx)
    step("contradictions")


# -- duplicates -----------------------------------------------------------------------------------
def _duplicates(client, pairs, strength, progress: DreamProgress, ctx) -> None:
    lines = [f"{i}. A: {_quoted(a.label)}\n   B: {_quoted(b.label)}" for i, (a, b, _s) in enumerate(pairs, 1)]
    prompt = ("Each numbered pair below holds two memories that look alike. For each pair, say whether A "
              "and B state the same fact (duplicate: true) or different facts (false). For duplicates give "
              "one merged wording that keeps every detail of both.\n\n" + "\n".join(lines) +
              '\n\nAnswer as {"pairs": [{"pair": 1, "duplicate": true, "merged_label": "..."}]}.')

    def validate(value):
        obj = require_object(value)
        answers = {}
        for item in list_field(obj, "pairs", max_items=len(pairs) * 2):
            if not isinstance(item, dict):
                raise Invalid('Each item of "pairs" must be an object.')
            number = item.get("pair")
            if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= len(pairs):
                continue  # out of range: ignored
            label = item.get("merged_label")
            if label is not None and (not isinstance(label, str) or len(label.strip()) > LABEL_LIMIT):
                raise Invalid(f'"merged_label" must be a string of at most {LABEL_LIMIT} characters.')
            answers[number] = (item.get("duplicate") is True, (label or "").strip())
        return answers

    answers = ask_json(client, [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
                       validate, cancel=ctx.cancel)
    groups = _groups([(pairs[n - 1], label) for n, (dup, label) in sorted(answers.items()) if dup])
    for members, label in groups:
        keep = max(members, key=lambda n: (strength[n.id], n.created_at))
        others = [n for n in members if n.id != keep.id]
        merged = label or keep.label
        progress.findings.append({"kind": "duplicate", "node_ids": [n.id for n in members],
                                  "text": "Same fact: " + " / ".join(f"“{n.label}”" for n in members)})
        progress.propose("merge", f"Merge {len(members)} memories into “{_short(merged)}”", keep_id=keep.id,
                         drop_ids=[n.id for n in others], label=merged,
                         labels=[n.label for n in members])


def _groups(confirmed) -> list[tuple[list[MemoryNode], str]]:
    """Confirmed pairs joined into groups (A=B and B=C is one merge of three)."""
    groups: list[tuple[dict[str, MemoryNode], str]] = []
    for (a, b, _score), label in confirmed:
        hit = [g for g in groups if a.id in g[0] or b.id in g[0]]
        members = {a.id: a, b.id: b}
        for g in hit:
            members.update(g[0])
            groups.remove(g)
        groups.append((members, label or (hit[0][1] if hit else "")))
    return [(list(members.values()), label) for members, label in groups]


# -- contradictions -------------------------------------------------------------------------------
def _contradictions(client, shown: list[MemoryNode], progress: DreamProgress, ctx) -> None:
    lines = [f"{i}. {_quoted(n.label)}" + (f" ({n.category})" if n.category else "") for i, n in enumerate(shown, 1)]
    prompt = ("Here are the memories, numbered:\n\n" + "\n".join(lines) +
              "\n\nList the pairs that cannot both be true (contradictions), with the number of the one to "
              "keep if the list makes it clear (else null) and a short reason. Also list memories that are "
              "unclear, with a clearer wording that keeps their meaning. Empty lists are a fine answer.\n"
              'Answer as {"contradictions": [{"a": 1, "b": 2, "keep": 2, "reason": "..."}], '
              '"unclear": [{"node": 3, "label": "..."}]}.')
    n = len(shown)

    def number(value) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= n else None

    def validate(value):
        obj = require_object(value)
        pairs, rewords = [], []
        for item in list_field(obj, "contradictions", max_items=4 * n):
            if not isinstance(item, dict):
                raise Invalid('Each item of "contradictions" must be an object.')
            a, b = number(item.get("a")), number(item.get("b"))
            if a is None or b is None or a == b:
                continue  # out of range or meaningless: ignored
            keep = number(item.get("keep"))
            reason = item.get("reason") if isinstance(item.get("reason"), str) else ""
            pairs.append((a, b, keep if keep in (a, b) else None, reason.strip()[:500]))
        for item in list_field(obj, "unclear", max_items=4 * n, required=False):
            if not isinstance(item, dict) or number(item.get("node")) is None:
                continue
            label = item.get("label")
            if not isinstance(label, str) or not label.strip():
                continue
            if len(label.strip()) > LABEL_LIMIT:
                raise Invalid(f'An "unclear" label is over {LABEL_LIMIT} characters.')
            rewords.append((number(item.get("node")), label.strip()))
        return pairs, rewords

    pairs, rewords = ask_json(client, [{"role": "system", "content": SYSTEM},
                                       {"role": "user", "content": prompt}], validate, cancel=ctx.cancel)
    seen: set[frozenset[int]] = set()
    for a, b, keep, reason in pairs:
        if frozenset((a, b)) in seen:
            continue
        seen.add(frozenset((a, b)))
        first, second = shown[a - 1], shown[b - 1]
        kept = shown[keep - 1] if keep else max((first, second), key=_recency)
        dropped = second if kept is first else first
        progress.findings.append({"kind": "contradiction", "node_ids": [first.id, second.id],
                                  "text": f"“{first.label}” contradicts “{second.label}”"
                                          + (f": {reason}" if reason else ".")})
        progress.propose("keep_one", f"Keep “{_short(kept.label)}”, delete “{_short(dropped.label)}”",
                         keep_id=kept.id, drop_ids=[dropped.id], labels=[kept.label, dropped.label],
                         reason=reason)
    for index, label in rewords:
        node = shown[index - 1]
        if normalise(label) == normalise(node.label):
            continue
        progress.findings.append({"kind": "unclear", "node_ids": [node.id], "text": f"“{node.label}” is unclear."})
        progress.propose("reword", f"Reword “{_short(node.label)}”", node_id=node.id, old_label=node.label,
                         label=label)


def _recency(node: MemoryNode) -> str:
    return node.last_referenced_at or node.created_at or ""


def _within_chars(nodes: list[MemoryNode]) -> list[MemoryNode]:
    kept, total = [], 0
    for node in nodes:
        total += len(node.label) + 8
        if total > MAX_SHOWN_CHARS:
            break
        kept.append(node)
    return kept


def _quoted(label: str) -> str:
    return "“" + " ".join(label.split()) + "”"


def _short(label: str, limit: int = 60) -> str:
    line = " ".join(label.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
