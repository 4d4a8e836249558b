"""Dream reports in the local database: started, checkpointed after every step, finished; decisions.

A report row is written when a dream starts (status `running`) and rewritten after each step with
what was found so far, so quitting mid-dream loses nothing: the next start marks this device's
leftover `running` reports `interrupted`, and their proposals stay actionable. Every write goes
through `LocalDatabase.write()`, so reports and decisions sync like any other row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import select

from agent.dream.report_shape import as_text, readable
from agent.storable import jsonb_text_size
from local_schema.models import DreamReport
from local_schema.timestamps import format_timestamp

SUMMARY_LIMIT = 20_000  # dream_reports_summary_length on the server
SIZE_LIMIT = 500_000  # dream_reports_size: budget + findings + proposals, octet_length of their jsonb text
# What a dream writes at most, measured as PostgreSQL measures it (agent.storable.jsonb_text_size): 50 kB
# below the server's limit, so the report syncs whatever a model sent.
REPORT_BYTES = 450_000
PROPOSALS_BYTES = 300_000  # proposals first (they are what the user acts on); findings fill the rest
MAX_PROPOSALS = 200  # more is not a review anyone finishes; the next dream finds the rest
DECISION_BYTES = 64  # what deciding adds to a proposal later ("state": "accepted", "decided_at": …)
OPEN, ACCEPTED, REJECTED = "open", "accepted", "rejected"


class DreamError(ValueError):
    """A dream command cannot be carried out; str() is the sentence for the user."""


@dataclass
class DreamProgress:
    """What a running dream has so far (written to the report after each step)."""

    findings: list[dict] = field(default_factory=list)
    proposals: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what went wrong in a step, said plainly
    proposal_bytes: int = 2  # the jsonb size of `proposals` ("[]"), with room for each decision
    left_out: int = 0  # proposals not kept: past MAX_PROPOSALS or PROPOSALS_BYTES

    def propose(self, kind: str, title: str, **payload: Any) -> dict | None:
        """Add a proposal, or None when the report has no room left for it (counted in `left_out`).
        A proposal is kept whole or not at all: a cut label or prompt would apply what nobody proposed.
        The dreams propose in order of value (consolidate: deletes of weak nodes, merges, contradictions,
        then rewordings), so what is left out is the least valuable, and the next dream finds it again."""
        proposal = {"id": f"p{len(self.proposals) + 1}", "kind": kind, "state": OPEN, "title": title, **payload}
        try:
            size = jsonb_text_size(proposal) + 2 + DECISION_BYTES  # ", " between items
        except ValueError:  # not storable at all (the model's text is checked before; this is a last guard)
            size = PROPOSALS_BYTES
        if len(self.proposals) >= MAX_PROPOSALS or self.proposal_bytes + size > PROPOSALS_BYTES:
            self.left_out += 1
            return None
        self.proposals.append(proposal)
        self.proposal_bytes += size
        return proposal

    def size_note(self) -> str:
        """The sentence for the summary when proposals were left out, else ""."""
        if not self.left_out:
            return ""
        many = self.left_out != 1
        return (f"{self.left_out} more proposal{'s were' if many else ' was'} left out to keep the report within "
                "the size it can sync; dream again after deciding on these.")


def device_id(db) -> str:
    """A random id for this database file, so leftovers of a dream that died here can be recognised."""
    with db.write() as session:
        value = session.execute(text("SELECT value FROM sync_meta WHERE key = 'device_id'")).scalar()
        if not value:
            value = str(uuid.uuid4())
            session.execute(text("INSERT INTO sync_meta (key, value) VALUES ('device_id', :v)"), {"v": value})
    return value


def start_report(db, kind: str, connection_id: str | None, budget: dict, now: datetime) -> str:
    from local_schema.models import AgentConnection

    with db.write() as session:
        connection = session.get(AgentConnection, connection_id) if connection_id else None
        owner = connection.user_id if connection is not None else None  # as threads take theirs
        report = DreamReport(user_id=owner, agent_connection_id=connection_id, kind=kind, status="running",
                             started_at=format_timestamp(now), budget=dict(budget))
        session.add(report)
    return report.id


def checkpoint(db, report_id: str, progress: DreamProgress, budget: dict) -> None:
    with db.write() as session:
        report = session.get(DreamReport, report_id)
        if report is None or report.deleted_at is not None:
            return  # deleted meanwhile (on another device): nothing to keep it for
        report.findings, report.proposals = _fit(progress.findings, progress.proposals, budget)
        report.budget = dict(budget)
        session.add(report)


def finish_report(db, report_id: str, status: str, summary: str, progress: DreamProgress, budget: dict,
                  now: datetime) -> None:
    with db.write() as session:
        report = session.get(DreamReport, report_id)
        if report is None or report.deleted_at is not None:
            return
        report.status = status
        report.finished_at = format_timestamp(now)
        report.summary = summary[:SUMMARY_LIMIT]
        report.findings, report.proposals = _fit(progress.findings, progress.proposals, budget)
        report.budget = dict(budget)
        session.add(report)


def mark_interrupted(db, device: str, keep: set[str] = frozenset(), now: datetime | None = None) -> int:
    """Reports of this device still `running` (their process died) become `interrupted`."""
    count = 0
    with db.write() as session:
        rows = session.exec(select(DreamReport).where(DreamReport.status == "running",
                                                      DreamReport.deleted_at.is_(None))).all()
        for report in rows:
            budget = report.budget if isinstance(report.budget, dict) else {}
            if report.id in keep or budget.get("device") != device:
                continue
            report.status = "interrupted"
            report.finished_at = format_timestamp(now or datetime.now(UTC))
            report.summary = ((as_text(report.summary) or "") + " The app closed before this dream ended; "
                              "what it found until then is kept.").strip()[:SUMMARY_LIMIT]
            session.add(report)
            count += 1
    return count


def list_reports(db) -> list[DreamReport]:
    """Newest first, each a detached copy in the shape readers expect (agent.dream.report_shape)."""
    with db.session() as session:
        return [readable(r) for r in session.exec(select(DreamReport).where(DreamReport.deleted_at.is_(None))
                                                  .order_by(DreamReport.started_at.desc(), DreamReport.id)).all()]


def get_report(db, report_id: str) -> DreamReport:
    """One report (full id or a unique prefix), as `list_reports` shapes it."""
    with db.session() as session:
        return readable(_find(session, report_id))


def delete_report(db, report_id: str) -> None:
    with db.write() as session:
        session.delete(_find(session, report_id))


def last_dream_started(db) -> datetime | None:
    from local_schema.timestamps import parse_timestamp

    with db.session() as session:
        value = session.execute(text("SELECT max(started_at) FROM dream_reports WHERE deleted_at IS NULL")).scalar()
    return parse_timestamp(value) if value else None


def _find(session, report_id: str) -> DreamReport:
    """By full id, or by a unique prefix of it (as `mirari dream list` shows them)."""
    report = session.get(DreamReport, report_id)
    if report is None and report_id and len(report_id) >= 4:
        matches = session.exec(select(DreamReport).where(DreamReport.id.startswith(report_id),
                                                         DreamReport.deleted_at.is_(None))).all()
        if len(matches) > 1:
            raise DreamError(f"'{report_id}' matches {len(matches)} dream reports; give more of the id.")
        report = matches[0] if matches else None
    if report is None or report.deleted_at is not None:
        raise DreamError(f"There is no dream report '{report_id}'.")
    return report


def find_proposal(report: DreamReport, ref: str | int) -> dict:
    """A proposal by its number as shown (1, 2, …: objects only, as every reader numbers them) or its id
    (p1, p2, …)."""
    proposals = [p for p in report.proposals if isinstance(p, dict)] if isinstance(report.proposals, list) else []
    ref = str(ref).strip()
    if ref.isdigit() and 1 <= int(ref) <= len(proposals):
        return proposals[int(ref) - 1]
    for proposal in proposals:
        if isinstance(proposal, dict) and proposal.get("id") == ref:
            return proposal
    raise DreamError(f"The report has no proposal '{ref}' (it has {len(proposals)}).")


def _fit(findings: list[dict], proposals: list[dict], budget: dict) -> tuple[list[dict], list[dict]]:
    """Keep the report within REPORT_BYTES (jsonb bytes, as the server counts them): the proposals are
    already bounded when made (DreamProgress.propose); the findings take what is left, the newest first,
    so the oldest are dropped (a finding the server could not store is dropped too)."""
    room = REPORT_BYTES - _jsonb_size(budget) - _jsonb_size(proposals) - DECISION_BYTES * len(proposals)
    kept: list[dict] = []
    used = 2
    for finding in reversed(findings):
        size = _jsonb_size(finding) + 2
        if used + size > room:
            break
        kept.append(finding)
        used += size
    return kept[::-1], list(proposals)


def _jsonb_size(value) -> int:
    try:
        return jsonb_text_size(value)
    except ValueError:
        return REPORT_BYTES + 1  # never fits
