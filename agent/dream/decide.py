"""Accepting or rejecting what a dream proposed: one click, one transaction, synced.

Accepting applies the proposal and records the decision in the same `LocalDatabase.write()`
transaction, so either both land (and sync) or neither does. A proposal whose subject changed since
the dream (a node deleted or already merged on another device) is refused with a sentence saying so,
and stays open: the user can reject it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from agent.dream.report_shape import as_text, proposal_problem
from agent.dream.reports import ACCEPTED, OPEN, REJECTED, DreamError, _find, find_proposal
from agent.memory.atlas import AtlasError, clean_label, find_duplicate_in
from local_schema.models import DreamReport, MemoryNode
from local_schema.timestamps import format_timestamp


def accept(db, report_id: str, ref: str | int, now: datetime | None = None) -> str:
    """Apply the proposal; returns a sentence saying what changed."""
    return _decide(db, report_id, ref, ACCEPTED, now)


def reject(db, report_id: str, ref: str | int, now: datetime | None = None) -> str:
    return _decide(db, report_id, ref, REJECTED, now)


SKILL_KINDS = ("demote", "edit")


def _decide(db, report_id: str, ref: str | int, state: str, now: datetime | None) -> str:
    now = now or datetime.now(UTC)
    said = ""
    if state == ACCEPTED:
        with db.session() as session:
            proposal = _open_proposal(_find(session, report_id), ref, applying=True)
        if proposal.get("kind") in SKILL_KINDS:
            # The Skill Forge's own functions apply it (its pipeline, limits and version count), in their
            # transaction; the decision is recorded right after.
            said = _apply_to_skill(db, proposal)
    with db.write() as session:
        report = _find(session, report_id)
        proposal = _open_proposal(report, ref, applying=state == ACCEPTED)
        if state == ACCEPTED and proposal.get("kind") not in SKILL_KINDS:
            said = _apply(session, proposal, now)
        elif state == REJECTED:
            said = f"Rejected: {as_text(proposal.get('title')) or 'the proposal'}"
        updated = [dict(p, state=state, decided_at=format_timestamp(now)) if p is proposal else p
                   for p in report.proposals]
        report.proposals = updated  # a new list, so the JSON column is seen as changed
        session.add(report)
    return said


def _open_proposal(report, ref, *, applying: bool = False) -> dict:
    proposal = find_proposal(report, ref)
    if proposal.get("state") != OPEN:
        raise DreamError(f"Proposal {proposal.get('id')} was already {proposal.get('state')}.")
    problem = proposal_problem(proposal) if applying else None
    if problem:  # synced from elsewhere with fields of the wrong type: say so, never a database error
        raise DreamError(f"Cannot apply proposal {proposal.get('id')}: {problem}. It may come from another "
                         "version of MIRARI; reject it instead.")
    return proposal


def _apply_to_skill(db, proposal: dict) -> str:
    from agent.skills.forge import SkillError, edit_skill, move_skill

    try:
        if proposal.get("kind") == "demote":
            moved = move_skill(db, proposal.get("skill_id"), proposal.get("to", "archived"))
            return f"Skill “{moved.skill.name}” moved to {moved.skill.status}."
        skill = edit_skill(db, proposal.get("skill_id"), template_prompt=str(proposal.get("template_prompt", "")))
        return f"Skill “{skill.name}” now has the proposed prompt (version {skill.version})."
    except SkillError as exc:
        raise DreamError(f"Cannot apply: {exc} Reject this proposal instead.") from None


def _apply(session, proposal: dict, now: datetime) -> str:
    kind = proposal.get("kind")
    if kind in ("merge", "keep_one"):
        keep = _live_node(session, proposal.get("keep_id"), "the memory to keep")
        dropped = 0
        for node_id in proposal.get("drop_ids") or []:
            node = session.get(MemoryNode, node_id)
            if node is not None and node.deleted_at is None and node.id != keep.id:
                session.delete(node)  # pushed as a tombstone: deleted on every device
                dropped += 1
        label = proposal.get("label")
        if kind == "merge" and isinstance(label, str) and label.strip() and label.strip() != keep.label:
            _relabel(session, keep, label)
        return f"Kept “{keep.label}”; deleted {dropped} other memor{'y' if dropped == 1 else 'ies'}."
    if kind == "delete":
        node = _live_node(session, proposal.get("node_id"), "that memory")
        session.delete(node)
        return f"Deleted “{node.label}”."
    if kind == "reword":
        node = _live_node(session, proposal.get("node_id"), "that memory")
        old = node.label
        _relabel(session, node, str(proposal.get("label", "")))
        return f"Reworded “{old}” as “{node.label}”."
    raise DreamError(f"This MIRARI does not know how to apply a '{kind}' proposal.")


def _relabel(session, node: MemoryNode, label: str) -> None:
    """The Atlas's label rules apply to a dream's wording too: cleaned, within the limit, and never a
    duplicate of another live node (the ones this proposal deletes are already gone in this session)."""
    try:
        label = clean_label(label)
    except AtlasError as exc:
        raise DreamError(f"Cannot apply: {exc}") from None
    session.flush()
    other = find_duplicate_in(session, label, exclude_id=node.id)
    if other is not None:
        raise DreamError(f"Cannot apply: the new wording would duplicate “{other.label}”. Reject this "
                         "proposal, or merge those memories in the Atlas.")
    node.label = label
    session.add(node)


def _live_node(session, node_id, what: str) -> MemoryNode:
    node = session.get(MemoryNode, node_id) if node_id else None
    if node is None or node.deleted_at is not None:
        raise DreamError(f"Cannot apply: {what} was deleted since the dream (perhaps on another device). "
                         "Reject this proposal instead.")
    return node


__all__ = ["accept", "reject", "DreamReport"]
