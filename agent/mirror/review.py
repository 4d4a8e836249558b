"""Mirror Mode (rite V; docs/mirror.md): a grounded self-review, stored as a report, with one-click actions.

    request = preview(db, spec)                              # size and what is left out; no network
    result = run_review(db, spec, api_key=key, ctx=ctx)       # a long job (agent.jobs): cancel, progress
    apply_prompt(db, report_id) / undo_prompt(db, report_id)  # the suggested prompt, and back
    recommendation_to_memory(db, report_id, n)                # n counts from 1, as shown
    recommendation_to_skill(db, report_id, n)
    list_reports(session) / get_report(session, id) / delete_report(db, id)

What is sent is built by agent/mirror/request.py; the answer is checked by agent/mirror/report.py
(one repair request through agent.llm.structured.ask_json, then a clear error and nothing stored).
Storing a report is one transaction: the report row, plus the memory nodes it cites reinforced (the
Atlas's rule); the promoted skills it scores then get their `score` through the Skill Forge's set_score.
Every write goes through LocalDatabase.write(), so everything here syncs like any other edit.

`details` of a stored report (a JSON object; all keys optional when read):
    reviewer      {"id", "name", "model"} of the connection that wrote the review
    logs          {"sources": [{"kind": "thread"|"pasted", "id"?, "title"}] (at most 50), "source_count",
                   "parts_sent", "parts_left_out", "left_out": [summary lines], "chars", "tokens",
                   "budget_tokens"}
    memory_used   [{"number", "id", "label"}]    the cited nodes (reinforced when the report was stored)
    skill_scores  [{"number", "id", "name", "score"}]
    ignored       [sentences]                    out-of-range numbers the reviewer gave
A recommendation turned into a memory node or a skill records it in its item: "memory_node_id",
"skill_id".
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, select

from agent.jobs import JobContext
from agent.llm.client import LLMClient
from agent.llm.structured import Invalid, ask_json
from agent.memory import atlas
from agent.memory.sources import mirror_source
from agent.mirror.report import LISTS, ParsedReview, claim_of, normalise, validator
from agent.mirror.request import PASTED_SOURCE, ReviewError, ReviewRequest, ReviewSpec, build_request_in
from agent.skills import forge
from local_schema.database import LocalDatabase
from local_schema.models import AgentConnection, MemoryNode, MirrorReport, Skill
from local_schema.timestamps import format_timestamp

__all__ = ["MirrorError", "ReviewError", "ReviewResult", "ReviewSpec", "apply_prompt", "delete_report",
           "get_report", "get_report_in", "list_reports", "list_reports_in", "preview", "prompt_diff", "run_review", "undo_prompt"]

READ_TIMEOUT = 300.0  # a review of long logs can take minutes on a local model


class MirrorError(ValueError):
    """An action on a report that cannot be done; str() is one sentence for the user. Nothing was written."""


class PromptChanged(MirrorError):
    """Undo would overwrite an edit made to the connection's prompt after Apply."""


@dataclass
class ReviewResult:
    report_id: str
    title: str
    counts: tuple[int, int, int]  # strengths, weaknesses, recommendations
    unverified: int
    suggests_prompt: bool
    reinforced: int  # memory nodes reinforced
    scored: int  # skills whose score was updated
    attempts: int  # 1, or 2 when the repair request was needed

    def summary(self) -> str:
        s, w, r = self.counts
        parts = [f"{s} strengths, {w} weaknesses, {r} recommendations"]
        if self.unverified:
            parts.append(f"{self.unverified} unverified")
        parts.append("a new prompt suggested" if self.suggests_prompt else "no prompt change")
        return f"Mirror report “{self.title}”: " + "; ".join(parts) + "."


# --- running a review -------------------------------------------------------------------------------
def preview(db: LocalDatabase, spec: ReviewSpec, now: datetime | None = None) -> ReviewRequest:
    """What Run would send (no network, no writes); raises ReviewError with the reason it cannot run."""
    with db.session() as session:
        return build_request_in(session, spec, now)


def run_review(db: LocalDatabase, spec: ReviewSpec, *, api_key: str | None, ctx: JobContext | None = None,
               now: datetime | None = None) -> ReviewResult:
    """Build the request, ask the reviewer, check the answer, store the report. A long job.

    Raises ReviewError (cannot run as asked), agent.llm.errors.LLMError (network/HTTP),
    agent.llm.structured.StructuredOutputError (unusable answer after one repair) or JobCancelled;
    in every one of those cases nothing was stored.
    """
    ctx = ctx or JobContext()
    ctx.progress(0, 4, "Reading the logs")
    with db.session() as session:
        request = build_request_in(session, spec, now)
        reviewer = session.get(AgentConnection, spec.reviewer_id or spec.connection_id)
        if reviewer is None or reviewer.deleted_at is not None:
            raise ReviewError("The reviewing connection does not exist (or was deleted).")
    ctx.progress(1, 4, f"Asking {reviewer.name} for a review (~{request.tokens:,} tokens)")
    attempts = {"n": 0}

    def attempted(number: int) -> None:  # called by ask_json as each answer arrives, before it is checked
        attempts["n"] = number
        if number == 2:
            ctx.progress(2, 4, "The first answer was not usable; checking the repaired one")

    client = LLMClient(reviewer.base_url, reviewer.model, api_key, read_timeout=READ_TIMEOUT)
    try:
        parsed = ask_json(client, request.messages, validator(request), cancel=ctx.cancel, on_attempt=attempted)
    finally:
        client.close()
    ctx.progress(3, 4, "Saving the report")  # a Cancel up to here stores nothing
    report_id, reinforced, scored = store_review(db, request, parsed, reviewer, now)
    ctx.progress(4, 4, "Done")
    return ReviewResult(report_id, request.title, (len(parsed.strengths), len(parsed.weaknesses),
                                                   len(parsed.recommendations)),
                        parsed.unverified, parsed.suggested_prompt is not None, reinforced, scored, attempts["n"])


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


MAX_DETAIL_SOURCES = 50  # with every text cut to 200 characters, `details` stays far below the
MAX_DETAIL_IGNORED = 20  # server's 100,000 bytes (40 nodes, 50 sources, 20 notes, the skills scored)


def _details(request: ReviewRequest, parsed: ParsedReview, reviewer: AgentConnection) -> dict:
    """What the report keeps about its review. Labels and titles are display copies, cut short; the
    ids are there for links."""
    sources: dict[str, dict] = {}
    for part in (*request.omitted, *request.included):
        if part.source not in sources:
            sources[part.source] = ({"kind": "pasted", "title": "Pasted logs"} if part.source == PASTED_SOURCE
                                    else {"kind": "thread", "id": part.source, "title": _short(part.source_title)})
    return {
        "reviewer": {"id": reviewer.id, "name": _short(reviewer.name), "model": _short(reviewer.model)},
        "logs": {"sources": list(sources.values())[:MAX_DETAIL_SOURCES], "source_count": len(sources),
                 "parts_sent": len(request.included), "parts_left_out": len(request.omitted),
                 "left_out": [_short(line) for line in request.omitted_summary()[:MAX_DETAIL_SOURCES]],
                 "chars": request.chars, "tokens": request.tokens, "budget_tokens": request.spec.budget_tokens},
        "memory_used": [{"number": n, "id": request.node_ids[n - 1], "label": _short(request.node_labels[n - 1])}
                        for n in parsed.memory_used],
        "skill_scores": [{"number": n, "id": request.skill_ids[n - 1], "name": _short(request.skill_names[n - 1]),
                          "score": score} for n, score in sorted(parsed.skill_scores.items())],
        "ignored": [_short(note) for note in parsed.ignored[:MAX_DETAIL_IGNORED]],
    }


def store_review(db: LocalDatabase, request: ReviewRequest, parsed: ParsedReview, reviewer: AgentConnection,
                 now: datetime | None = None) -> tuple[str, int, int]:
    """One transaction: the report, and the cited memory nodes reinforced; then the scored skills'
    `score` through the Skill Forge. Returns (report id, nodes reinforced, skills scored)."""
    now = now or datetime.now(UTC)
    with db.write() as session:
        report = MirrorReport(agent_connection_id=request.connection_id, title=request.title,
                              strengths=parsed.strengths, weaknesses=parsed.weaknesses,
                              recommendations=parsed.recommendations, suggested_prompt=parsed.suggested_prompt,
                              details=_details(request, parsed, reviewer))
        session.add(report)
        # The Atlas's rule (+0.05, capped); a node deleted while the review ran is skipped.
        reinforced = atlas.reinforce_in(session, [request.node_ids[n - 1] for n in parsed.memory_used], now)
    scored = 0
    for number, score in sorted(parsed.skill_scores.items()):  # the Forge's own write, one per skill
        try:
            forge.set_score(db, request.skill_ids[number - 1], score)
            scored += 1
        except forge.SkillError:  # deleted while the review ran: the report still records the score
            pass
    return report.id, len(reinforced), scored


# --- reading ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportSummary:
    id: str
    title: str
    created_at: str
    connection_id: str | None
    connection_name: str  # "" when the connection is gone
    counts: tuple[int, int, int]
    unverified: int
    suggests_prompt: bool
    applied: bool


def list_reports(db: LocalDatabase) -> list[ReportSummary]:
    """Live reports, newest first."""
    with db.session() as session:
        return list_reports_in(session)


def get_report(db: LocalDatabase, report_id: str) -> MirrorReport:
    """One live report (a detached row); MirrorError when it does not exist or was deleted."""
    with db.session() as session:
        return get_report_in(session, report_id)


def list_reports_in(session: Session) -> list[ReportSummary]:
    """`list_reports` inside the caller's session."""
    rows = session.exec(select(MirrorReport, AgentConnection.name)
                        .join(AgentConnection, AgentConnection.id == MirrorReport.agent_connection_id, isouter=True)
                        .where(MirrorReport.deleted_at.is_(None))
                        .order_by(MirrorReport.created_at.desc(), MirrorReport.id)).all()
    out = []
    for report, name in rows:
        lists = [[claim_of(i) for i in getattr(report, key) or []] for key in LISTS]
        out.append(ReportSummary(report.id, report.title or "Untitled review", report.created_at,
                                 report.agent_connection_id, name or "", tuple(len(x) for x in lists),
                                 sum(1 for x in lists for c in x if not c["verified"]),
                                 bool(report.suggested_prompt), report.applied_at is not None))
    return out


def get_report_in(session: Session, report_id: str) -> MirrorReport:
    report = session.get(MirrorReport, report_id)
    if report is None or report.deleted_at is not None:
        raise MirrorError(f"Report {report_id} does not exist (or was deleted).")
    return report


def current_prompt_in(session: Session, report: MirrorReport) -> str | None:
    """The reviewed connection's prompt now; None when the connection is gone."""
    connection = session.get(AgentConnection, report.agent_connection_id) if report.agent_connection_id else None
    if connection is None or connection.deleted_at is not None:
        return None
    return connection.system_prompt or ""


def prompt_diff(old: str | None, new: str | None) -> list[tuple[str, str]]:
    """A line diff for display: (tag, line) with tag ' ' (same), '-' (removed) or '+' (added)."""
    out: list[tuple[str, str]] = []
    a, b = (old or "").splitlines(), (new or "").splitlines()
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out += [(" ", line) for line in a[i1:i2]]
        else:
            out += [("-", line) for line in a[i1:i2]] + [("+", line) for line in b[j1:j2]]
    return out


def unified_diff(old: str | None, new: str | None) -> str:
    lines = difflib.unified_diff((old or "").splitlines(), (new or "").splitlines(), "current prompt",
                                 "suggested prompt", lineterm="")
    return "\n".join(lines)


# --- acting on a report -----------------------------------------------------------------------------
def _connection(session: Session, report: MirrorReport) -> AgentConnection:
    connection = session.get(AgentConnection, report.agent_connection_id) if report.agent_connection_id else None
    if connection is None or connection.deleted_at is not None:
        raise MirrorError("The reviewed connection no longer exists, so there is no prompt to change.")
    return connection


def apply_prompt(db: LocalDatabase, report_id: str, now: datetime | None = None) -> None:
    """The suggested prompt becomes the connection's system prompt; the old one is kept on the report."""
    with db.write() as session:
        report = get_report_in(session, report_id)
        if not report.suggested_prompt:
            raise MirrorError("This report suggests no change to the prompt.")
        if report.applied_at is not None:
            raise MirrorError("The suggested prompt is already applied (Undo restores the previous one).")
        connection = _connection(session, report)
        report.previous_prompt = connection.system_prompt
        report.applied_at = format_timestamp(now or datetime.now(UTC))
        connection.system_prompt = report.suggested_prompt
        session.add_all([report, connection])


def undo_prompt(db: LocalDatabase, report_id: str, *, force: bool = False) -> None:
    """Restore the prompt the connection had before Apply. Refuses (PromptChanged) when the prompt was
    edited after Apply, unless `force`: Undo must not silently throw that edit away."""
    with db.write() as session:
        report = get_report_in(session, report_id)
        if report.applied_at is None:
            raise MirrorError("The suggested prompt of this report is not applied; there is nothing to undo.")
        connection = _connection(session, report)
        if not force and normalise(connection.system_prompt or "") != normalise(report.suggested_prompt or ""):
            raise PromptChanged("The connection's prompt was changed after Apply; Undo would overwrite that "
                                "change. Undo anyway to restore the prompt from before Apply.")
        connection.system_prompt = report.previous_prompt
        report.previous_prompt = None
        report.applied_at = None
        session.add_all([report, connection])


@dataclass
class ActionResult:
    id: str  # the memory node or skill the recommendation became (or was merged into)
    message: str  # one sentence for the user
    reinforced: bool = False  # the Atlas found a duplicate and reinforced it instead of adding


def _recommendation(report: MirrorReport, number: int) -> tuple[list, dict]:
    items = list(report.recommendations or [])
    if not items:
        raise MirrorError("This report has no recommendations.")
    if not 1 <= number <= len(items):
        raise MirrorError(f"There is no recommendation {number}; this report has 1 to {len(items)}.")
    return items, claim_of(items[number - 1])


def recommendation_to_memory(db: LocalDatabase, report_id: str, number: int, category: str = "style",
                             now: datetime | None = None) -> ActionResult:
    """Recommendation `number` (from 1) becomes a memory node with source mirror:<report id>, through the
    Atlas's no-duplicates rule (a duplicate reinforces the existing node instead). The item records the
    node, so the same recommendation is not added twice while that node lives."""
    with db.write() as session:
        report = get_report_in(session, report_id)
        items, item = _recommendation(report, number)
        linked = item.get("memory_node_id")
        node = session.get(MemoryNode, linked) if linked else None
        if node is not None and node.deleted_at is None:
            raise MirrorError(f"Recommendation {number} is already in the Atlas.")
        try:
            added = atlas.add_node_in(session, item["text"], category, source=mirror_source(report.id), now=now)
        except atlas.AtlasError as exc:
            raise MirrorError(str(exc)) from None
        items[number - 1] = {**item, "memory_node_id": added.node.id}
        report.recommendations = items
        session.add(report)
    return ActionResult(added.node.id, added.message, added.reinforced)


def _skill_name(text: str, limit: int = 60) -> str:
    """A short name from a recommendation: its first words, cut at a word boundary."""
    words, name = text.split(), ""
    for word in words:
        if len(name) + len(word) + 1 > limit:
            return name.rstrip(" ,.;:") + "…"
        name = f"{name} {word}".strip()
    return name.rstrip(" .")


def recommendation_to_skill(db: LocalDatabase, report_id: str, number: int) -> ActionResult:
    """Recommendation `number` (from 1) becomes a *suggested* skill in the Skill Forge: its first words
    as the name, the recommendation as the template prompt. It goes through the Forge's pipeline like any
    suggestion (accept, test, promote) before it reaches a chat prompt. The item records the skill."""
    with db.session() as session:
        report = get_report_in(session, report_id)
        _items, item = _recommendation(report, number)
        linked = item.get("skill_id")
        existing = session.get(Skill, linked) if linked else None
        if existing is not None and existing.deleted_at is None:
            raise MirrorError(f"Recommendation {number} is already the skill “{existing.name}”.")
        title = report.title or "Untitled review"
    draft = forge.SkillDraft(name=_skill_name(item["text"]), template_prompt=item["text"],
                              description=f"{item['text']}\n\nFrom the Mirror report “{title}”.")
    try:
        skill = forge.create_suggested(db, draft)
    except (forge.SkillError, Invalid) as exc:
        raise MirrorError(str(exc)) from None
    with db.write() as session:  # link it (the report may have been deleted meanwhile: the skill stays)
        report = session.get(MirrorReport, report_id)
        if report is not None and report.deleted_at is None:
            items = list(report.recommendations or [])
            items[number - 1] = {**claim_of(items[number - 1]), "skill_id": skill.id}
            report.recommendations = items
            session.add(report)
    return ActionResult(skill.id, f"Suggested skill “{skill.name}” added to the Skill Forge.")


def delete_report(db: LocalDatabase, report_id: str) -> None:
    """A real local delete; sync pushes it as a tombstone. The prompt of an applied report stays."""
    with db.write() as session:
        session.delete(get_report_in(session, report_id))
