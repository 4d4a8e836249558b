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

from local_schema.models import DreamReport
from local_schema.timestamps import format_timestamp

SUMMARY_LIMIT = 20_000  # dream_reports_summary_length on the server
SIZE_LIMIT = 500_000  # dream_reports_size: budget + findings + proposals, in bytes of JSON text
OPEN, ACCEPTED, REJECTED = "open", "accepted", "rejected"
FINAL_STATUSES = ("done", "partial", "cancelled", "failed", "interrupted")


class DreamError(ValueError):
    """A dream command cannot be carried out; str() is the sentence for the user."""


@dataclass
class DreamProgress:
    """What a running dream has so far (written to the report after each step)."""

    findings: list[dict] = field(default_factory=list)
    proposals: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what went wrong in a step, said plainly

    def propose(self, kind: str, title: str, **payload: Any) -> dict:
        proposal = {"id": f"p{len(self.proposals) + 1}", "kind": kind, "state": OPEN, "title": title, **payload}
        self.proposals.append(proposal)
        return proposal


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
        report.findings, report.proposals = _fit(progress.findings, progress.proposals)
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
        report.findings, report.proposals = _fit(progress.findings, progress.proposals)
        report.budget = dict(budget)
        session.add(report)


def mark_interrupted(db, device: str, keep: set[str] = frozenset(), now: datetime | None = None) -> int:
    """Reports of this device still `running` (their process died) become `interrupted`."""
    count = 0
    with db.write() as session:
        rows = session.exec(select(DreamReport).where(DreamReport.status == "running",
                                                      DreamReport.deleted_at.is_(None))).all()
        for report in rows:
            if report.id in keep or (report.budget or {}).get("device") != device:
                continue
            report.status = "interrupted"
            report.finished_at = format_timestamp(now or datetime.now(UTC))
            report.summary = ((report.summary or "") + " The app closed before this dream ended; "
                              "what it found until then is kept.").strip()
            session.add(report)
            count += 1
    return count


def list_reports(db) -> list[DreamReport]:
    with db.session() as session:
        return list(session.exec(select(DreamReport).where(DreamReport.deleted_at.is_(None))
                                 .order_by(DreamReport.started_at.desc(), DreamReport.id)).all())


def get_report(db, report_id: str) -> DreamReport:
    with db.session() as session:
        report = _find(session, report_id)
    return report


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
    """A proposal by its number as shown (1, 2, …) or its id (p1, p2, …)."""
    proposals = list(report.proposals or [])
    ref = str(ref).strip()
    if ref.isdigit() and 1 <= int(ref) <= len(proposals):
        return proposals[int(ref) - 1]
    for proposal in proposals:
        if isinstance(proposal, dict) and proposal.get("id") == ref:
            return proposal
    raise DreamError(f"The report has no proposal '{ref}' (it has {len(proposals)}).")


def _fit(findings: list[dict], proposals: list[dict]) -> tuple[list[dict], list[dict]]:
    """Keep the report under the server's size check: drop the oldest findings first, never proposals
    a user may still act on (there are never many of those)."""
    import json

    findings = list(findings)
    while findings and len(json.dumps(findings)) + len(json.dumps(proposals)) > SIZE_LIMIT - 10_000:
        findings.pop(0)
    return findings, list(proposals)
