"""Running one dream: budget, report checkpoints, and an honest ending whatever happens.

    outcome = run_dream(db, "consolidate", connection_id, api_key=key, settings=settings, ctx=ctx)

The report row exists from the first moment (status `running`) and is rewritten after every step, so
a dream cut short — by the budget (`partial`), Cancel (`cancelled`), a dead endpoint or unusable model
output (`failed` / `partial`), or the app closing (`interrupted`, set at the next start) — keeps what
it found, and says why it stopped. A dream only proposes: nothing in the Atlas or the Forge changes
until the user accepts a proposal (see `agent.dream.decide`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.dream.budget import Budget, BudgetedClient, BudgetExhausted
from agent.dream.kinds import KINDS
from agent.dream.reports import DreamError, DreamProgress, checkpoint, device_id, finish_report, start_report
from agent.dream.settings import DreamSettings
from agent.jobs import JobCancelled, JobContext
from agent.llm.client import LLMClient
from agent.llm.errors import LLMError
from agent.llm.structured import StructuredOutputError
from local_schema.models import AgentConnection

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass
class DreamOutcome:
    report_id: str
    status: str
    summary_text: str

    def summary(self) -> str:
        return self.summary_text


def run_dream(db, kind: str, connection_id: str, *, api_key: str, settings: DreamSettings,
              ctx: JobContext | None = None, clock: Clock | None = None,
              min_score: float | None = None) -> DreamOutcome:
    """`min_score`: the Skill Forge's promotion threshold (`agent.skills.settings.load_min_score`); a stressed
    skill below it gets an archive proposal."""
    if kind not in KINDS:
        raise DreamError(f"Unknown dream '{kind}': choose one of {', '.join(KINDS)}.")
    ctx = ctx or JobContext()
    clock = clock or (lambda: datetime.now(UTC))
    with db.session() as session:
        connection = session.get(AgentConnection, connection_id)
        if connection is None or connection.deleted_at is not None:
            raise DreamError(f"There is no connection '{connection_id}'.")
        base_url, model = connection.base_url, connection.model
    settings = settings.validated()
    budget = Budget(settings.max_requests, settings.max_chars)
    device = device_id(db)

    def budget_dict() -> dict:
        return {**budget.as_dict(), "device": device}

    try:
        raw_client = LLMClient(base_url, model, api_key)
    except LLMError as err:
        raise DreamError(err.message) from None
    progress = DreamProgress()
    report_id = start_report(db, kind, connection_id, budget_dict(), clock())
    steps_done = [0]

    def step(name: str) -> None:
        steps_done[0] += 1
        checkpoint(db, report_id, progress, budget_dict())
        ctx.progress(steps_done[0], 0, f"{kind}: {name} done")

    client = BudgetedClient(raw_client, budget)
    status, stop_reason = "done", ""
    try:
        ctx.progress(0, 0, f"{kind}: starting")
        _dream(kind, db, client, connection_id, settings, progress, ctx, clock(), step, min_score)
    except BudgetExhausted as exc:
        status, stop_reason = "partial", f"Stopped by the budget: {exc}."
    except StructuredOutputError as exc:
        status, stop_reason = "partial", f"Stopped: {exc}"
    except LLMError as exc:
        status, stop_reason = "failed", f"The endpoint failed: {exc.message}"
    except JobCancelled:
        _finish(db, report_id, "cancelled", kind, "Cancelled; what was found until then is kept.", progress,
                budget, budget_dict(), clock())
        raise
    except BaseException as exc:
        _finish(db, report_id, "failed", kind, f"Failed: {type(exc).__name__}: {exc}", progress, budget,
                budget_dict(), clock())
        raise
    finally:
        raw_client.close()
    summary = _finish(db, report_id, status, kind, stop_reason, progress, budget, budget_dict(), clock())
    return DreamOutcome(report_id, status, summary)


def _dream(kind, db, client, connection_id, settings, progress, ctx, now, step, min_score) -> None:
    if kind == "consolidate":
        from agent.dream.consolidate import consolidate

        consolidate(db, client, progress, ctx, now, step)
    elif kind == "replay":
        from agent.dream.replay import replay

        replay(db, client, connection_id, settings.replay_turns, progress, ctx, now, step)
    else:
        from agent.dream.stress import stress
        from agent.skills.forge import DEFAULT_MIN_SCORE

        stress(db, client, connection_id, progress, ctx, now, step,
               DEFAULT_MIN_SCORE if min_score is None else min_score)


def _finish(db, report_id, status, kind, stop_reason, progress, budget, budget_dict, now) -> str:
    summary = " ".join(part for part in (_describe(kind, progress), stop_reason, *progress.notes,
                                         progress.size_note(), f"Used {budget.describe()}.") if part)
    finish_report(db, report_id, status, summary, progress, budget_dict, now)
    return summary


def _describe(kind: str, progress: DreamProgress) -> str:
    proposals = len(progress.proposals)
    proposed = f"{proposals} proposal{'s' if proposals != 1 else ''} to review" if proposals else "no changes proposed"
    if kind == "replay":
        from agent.dream.replay import tally

        t = tally(progress.findings)
        replayed = sum(t.values())
        if not replayed:
            return ""
        return f"Replayed {replayed} turn{'s' if replayed != 1 else ''}: {t['better']} better, {t['worse']} worse, {t['same']} the same."
    kinds: dict[str, int] = {}
    for finding in progress.findings:
        kinds[finding.get("kind", "?")] = kinds.get(finding.get("kind", "?"), 0) + 1
    found = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "nothing to fix"
    return f"Found {found}; {proposed}."
