"""`mirari dream run|list|show|accept|reject|delete` — Dream Mode from the command line.

`run` dreams on demand: it skips the idle and new-material gates but keeps the budget of the dream
settings (dream.json in the data dir, the same file the window's Dream page edits), and returns when
the dream has ended and its report is stored. Errors: one line on stderr, non-zero exit.
"""

from __future__ import annotations

from agent.cli.common import (
    API_KEY_ENV,
    CommandError,
    data_dir,
    fail,
    guard,
    key_store,
    open_db,
    print_json,
    resolve_id,
)
from agent.dream.kinds import KINDS


def register(subparsers) -> None:
    dream = subparsers.add_parser("dream", help="Dream Mode: reviews that only propose changes")
    sub = dream.add_subparsers(dest="dream_command", metavar="ACTION", required=True)
    p = sub.add_parser("run", help="dream now (skips the idle gates, keeps the budget) and store the report")
    p.add_argument("--kind", choices=KINDS, help="which dream (default: the one whose turn it is, as the window chooses)")
    p.add_argument("--connection", required=True, help="id of the connection that dreams")
    p.add_argument("--max-requests", type=int, help="override the budget's request limit for this dream")
    p.add_argument("--max-chars", type=int, help="override the budget's character limit for this dream")
    p.add_argument("--json", action="store_true", help="print the stored report as JSON")
    p.set_defaults(handler=_run)
    p = sub.add_parser("list", help="dream reports, newest first")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.set_defaults(handler=_list)
    p = sub.add_parser("show", help="one report: findings and numbered proposals")
    p.add_argument("report", help="report id (or a unique start of it)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_show)
    for name, text in (("accept", "apply a proposal (it syncs like any edit)"),
                       ("reject", "turn a proposal down")):
        p = sub.add_parser(name, help=text)
        p.add_argument("report", help="report id (or a unique start of it)")
        p.add_argument("proposal", help="the proposal's number as `show` lists it (1, 2, …) or its id (p1, …)")
        p.set_defaults(handler=_decide, decision=name)
    p = sub.add_parser("delete", help="delete a report (its accepted changes stay)")
    p.add_argument("report")
    p.set_defaults(handler=_delete)


def _guard(fn):
    """The shared one-line errors, plus what only a dream can end with."""
    @guard
    def wrapper(args) -> int:
        from agent.jobs import JobCancelled
        from agent.llm.errors import LLMError

        try:
            return fn(args)
        except LLMError as exc:
            raise CommandError(exc.message) from None
        except JobCancelled:
            return fail("interrupted; what the dream found so far is kept in its report", 130)
    wrapper.__name__ = fn.__name__
    return wrapper


def _report_id(db, ref: str) -> str:
    from local_schema.models import DreamReport

    return resolve_id(db, DreamReport, ref, "dream report")


def report_dict(report) -> dict:
    """The report's columns, as `list --json` and `show --json` print them."""
    return {column.name: getattr(report, column.name) for column in report.__table__.columns}


@_guard
def _run(args) -> int:
    import os

    from agent.dream.reports import get_report
    from agent.dream.run import run_dream
    from agent.dream.schedule import next_kind
    from agent.dream.settings import load_settings
    from agent.jobs import run_headless
    from agent.skills.settings import load_min_score
    from local_schema.models import AgentConnection

    with open_db(args) as db:
        connection_id = resolve_id(db, AgentConnection, args.connection, "connection")
        settings = load_settings(data_dir(args))
        if args.max_requests is not None:
            settings.max_requests = args.max_requests
        if args.max_chars is not None:
            settings.max_chars = args.max_chars
        key = os.environ.get(API_KEY_ENV) or key_store(args).get_key(connection_id)
        min_score = load_min_score(data_dir(args))
        kind = args.kind or next_kind(db)
        outcome = run_headless(lambda ctx: run_dream(db, kind, connection_id, api_key=key,
                                                     settings=settings, ctx=ctx, min_score=min_score),
                               show_progress=not args.json)
        report = get_report(db, outcome.report_id)
    if args.json:
        print_json(report_dict(report))
    else:
        print(f"dream {report.id} ({report.kind}) {report.status}: {report.summary}")
        _print_proposals(report)
    return 0 if outcome.status in ("done", "partial") else 2


@_guard
def _list(args) -> int:
    from agent.dream.reports import list_reports

    with open_db(args) as db:
        reports = list_reports(db)
    if args.json:
        print_json([report_dict(r) for r in reports])
        return 0
    for r in reports:
        open_count = sum(1 for p in r.proposals or [] if isinstance(p, dict) and p.get("state") == "open")
        print(f"{r.id[:8]}  {r.started_at[:16].replace('T', ' ')}  {r.kind:<11} {r.status:<11} "
              f"{open_count} open proposal(s)")
    if not reports:
        print("no dreams yet")
    return 0


@_guard
def _show(args) -> int:
    from agent.dream.reports import get_report

    with open_db(args) as db:
        report = get_report(db, _report_id(db, args.report))
    if args.json:
        print_json(report_dict(report))
        return 0
    print(f"dream {report.id} — {report.kind}, {report.status}, started {report.started_at}")
    print(report.summary or "")
    for finding in report.findings or []:
        if isinstance(finding, dict):
            verdict = f"[{finding['verdict']}] " if finding.get("verdict") else ""
            print(f"  • {verdict}{finding.get('text') or finding.get('question', '')}")
    _print_proposals(report)
    return 0


def _print_proposals(report) -> None:
    from agent.mirror.review import prompt_diff

    for number, proposal in enumerate(report.proposals or [], 1):
        if isinstance(proposal, dict):
            print(f"  {number}. [{proposal.get('state')}] {proposal.get('title', proposal.get('kind'))}")
            if proposal.get("kind") == "edit":  # the new prompt, as a line diff (as the page shows it)
                for tag, line in prompt_diff(proposal.get("old_template_prompt"), proposal.get("template_prompt")):
                    print(f"       {tag} {line}")


@_guard
def _decide(args) -> int:
    from agent.dream import decide

    with open_db(args) as db:
        said = (decide.accept if args.decision == "accept" else decide.reject)(
            db, _report_id(db, args.report), args.proposal)
    print(said)
    return 0


@_guard
def _delete(args) -> int:
    from agent.dream.reports import delete_report

    with open_db(args) as db:
        delete_report(db, _report_id(db, args.report))
    print("report deleted")
    return 0
