"""`mirari mirror run|list|show|apply|undo|delete`: Mirror Mode on the command line (agent/mirror/review.py).

Imported at every start of `mirari`, so nothing heavy is imported at module level. Errors print one
line on stderr (`mirari: error: …`) and exit non-zero; nothing half-written is left behind.
"""

from __future__ import annotations

import sys

from agent.cli.common import (
    CommandError,
    data_dir,
    fail,
    guard,
    key_store,
    open_db,
    print_json,
    resolve_id,
    short,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser("mirror", help="Mirror Mode: grounded self-reviews of a connection")
    sub = parser.add_subparsers(dest="mirror_command", metavar="ACTION", required=True)

    p = sub.add_parser("run", help="review a connection's behaviour from Console threads or a log file")
    p.add_argument("--connection", required=True, metavar="ID", help="the connection under review")
    p.add_argument("--title", required=True)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--thread", action="append", metavar="ID", help="a Console thread (repeatable)")
    source.add_argument("--logs", metavar="FILE", help="a text file of logs ('-' = standard input)")
    p.add_argument("--reviewer", metavar="ID", help="the connection that reviews (default: the reviewed one)")
    p.add_argument("--budget", type=int, metavar="TOKENS", help="size budget in estimated tokens (default: "
                   "the page's setting, else 16000); the oldest parts of the logs are left out past it")
    p.add_argument("--json", action="store_true", help="print the stored report as JSON")
    p.set_defaults(handler=_run)

    p = sub.add_parser("list", help="reports, newest first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = sub.add_parser("show", help="one report: the four columns, evidence, the prompt diff")
    p.add_argument("report", metavar="REPORT")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_show)

    p = sub.add_parser("apply", help="apply the suggested prompt, or turn a recommendation into memory or a skill")
    p.add_argument("report", metavar="REPORT")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--prompt", action="store_true", help="make the suggested prompt the connection's prompt")
    what.add_argument("--recommendation", type=int, metavar="N", help="recommendation number (from 1, as shown)")
    p.add_argument("--as", dest="as_kind", choices=["memory", "skill"], help="with --recommendation")
    p.set_defaults(handler=_apply)

    p = sub.add_parser("undo", help="restore the prompt the connection had before apply --prompt")
    p.add_argument("report", metavar="REPORT")
    p.add_argument("--force", action="store_true", help="even if the prompt was edited after apply")
    p.set_defaults(handler=_undo)

    p = sub.add_parser("delete", help="delete a report (synced as a deletion)")
    p.add_argument("report", metavar="REPORT")
    p.set_defaults(handler=_delete)


# -- helpers ----------------------------------------------------------------------------------------------
def _report_id(db, text: str) -> str:
    from local_schema.models import MirrorReport

    return resolve_id(db, MirrorReport, text, "mirror report")


def _report_json(session, report) -> dict:
    from agent.mirror import review

    current = review.current_prompt_in(session, report)
    return {**report.model_dump(), "current_prompt": current,
            "diff": review.unified_diff(current if report.applied_at is None else report.previous_prompt,
                                        report.suggested_prompt) if report.suggested_prompt else ""}


# -- handlers ---------------------------------------------------------------------------------------------
@guard
def _run(args) -> int:
    from agent.jobs import JobCancelled, run_headless
    from agent.llm.errors import LLMError
    from agent.llm.structured import StructuredOutputError
    from agent.mirror import review
    from agent.mirror.request import ReviewSpec
    from agent.mirror.settings import load_budget
    from local_schema.models import AgentConnection, Conversation

    logs = ""
    if args.logs == "-":
        logs = sys.stdin.read()
    elif args.logs is not None:
        try:
            with open(args.logs, encoding="utf-8", errors="replace") as handle:
                logs = handle.read()
        except OSError as exc:
            raise CommandError(f"cannot read {args.logs}: {exc.strerror or exc}") from None
    with open_db(args) as db:
        connection = resolve_id(db, AgentConnection, args.connection, "connection")
        reviewer = resolve_id(db, AgentConnection, args.reviewer, "connection") if args.reviewer else connection
        threads = [resolve_id(db, Conversation, t, "thread") for t in args.thread or []]
        spec = ReviewSpec(args.title, connection, thread_ids=threads, pasted_logs=logs, reviewer_id=reviewer,
                          budget_tokens=args.budget or load_budget(data_dir(args)))
        key = key_store(args).get_key(reviewer)
        try:
            result = run_headless(lambda ctx: review.run_review(db, spec, api_key=key, ctx=ctx),
                                  show_progress=sys.stderr.isatty())
        except StructuredOutputError as exc:
            raise CommandError(str(exc)) from None
        except LLMError as exc:
            raise CommandError(f"the reviewer could not be reached: {exc.message} Nothing was stored.") from None
        except JobCancelled:
            return fail("interrupted; nothing was stored", 130)
        if args.json:
            with db.session() as session:
                print_json(_report_json(session, review.get_report_in(session, result.report_id)))
        else:
            print(f"{result.report_id}  {result.summary()}")
    return 0


@guard
def _list(args) -> int:
    from agent.mirror import review
    from local_schema.models import MirrorReport

    with open_db(args) as db, db.session() as session:
        reports = review.list_reports_in(session)
        if args.json:
            print_json([{**session.get(MirrorReport, r.id).model_dump(), "connection_name": r.connection_name,
                         "unverified": r.unverified, "applied": r.applied} for r in reports])
            return 0
    for r in reports:
        s, w, rec = r.counts
        flags = "applied" if r.applied else "prompt suggested" if r.suggests_prompt else "no prompt change"
        print(f"{short(r.id)}  {r.created_at[:16].replace('T', ' ')}  {r.title}  "
              f"[{r.connection_name or 'connection gone'}]  {s}/{w}/{rec}"
              + (f", {r.unverified} unverified" if r.unverified else "") + f", {flags}")
    if not reports:
        print("no mirror reports")
    return 0


def _claim_lines(number: int | None, claim: dict) -> list[str]:
    mark = "" if claim["verified"] else "  [unverified]"
    lines = [f"  {f'{number}. ' if number else '- '}{claim['text']}{mark}"]
    for evidence in claim["evidence"]:
        lines.append(f"      {'✓' if evidence.get('verified') else '✗'} “{evidence['quote']}”")
    return lines


@guard
def _show(args) -> int:
    from agent.mirror import review
    from agent.mirror.report import claim_of

    with open_db(args) as db, db.session() as session:
        report = review.get_report_in(session, _report_id(db, args.report))
        data = _report_json(session, report)
    if args.json:
        print_json(data)
        return 0
    out = [f"{report.title}  ({report.created_at[:16].replace('T', ' ')} UTC)  {report.id}"]
    for key, heading in (("strengths", "Strengths"), ("weaknesses", "Weaknesses"),
                         ("recommendations", "Recommendations")):
        claims = [claim_of(item) for item in getattr(report, key) or []]
        out.append(f"\n{heading}:" + ("" if claims else " (none)"))
        for n, claim in enumerate(claims, start=1):
            out += _claim_lines(n if key == "recommendations" else None, claim)
    details = report.details or {}
    if details.get("memory_used"):
        out.append("\nMemory the replies relied on (reinforced):")
        out += [f"  - {item.get('label')}" for item in details["memory_used"]]
    if details.get("skill_scores"):
        out.append("\nSkill scores:")
        out += [f"  - {item.get('name')}: {item.get('score')}" for item in details["skill_scores"]]
    if not report.suggested_prompt:
        out.append("\nSuggested prompt: no change")
    else:
        state = "applied; `mirari mirror undo` restores the previous one" if report.applied_at else "not applied"
        out.append(f"\nSuggested prompt ({state}):\n{data['diff']}")
    print("\n".join(out))
    return 0


@guard
def _apply(args) -> int:
    from agent.mirror import review

    if args.prompt and args.as_kind:
        return fail("--as goes with --recommendation, not --prompt")
    if args.recommendation is not None and not args.as_kind:
        return fail("say what the recommendation becomes: --as memory or --as skill")
    with open_db(args) as db:
        report_id = _report_id(db, args.report)
        if args.prompt:
            review.apply_prompt(db, report_id)
            print(f"suggested prompt applied; `mirari mirror undo {short(report_id)}` restores the previous one")
        elif args.as_kind == "memory":
            print(review.recommendation_to_memory(db, report_id, args.recommendation).message)
        else:
            print(review.recommendation_to_skill(db, report_id, args.recommendation).message)
    return 0


@guard
def _undo(args) -> int:
    from agent.mirror import review

    with open_db(args) as db:
        try:
            review.undo_prompt(db, _report_id(db, args.report), force=args.force)
        except review.PromptChanged as exc:
            return fail(f"{exc} (pass --force to undo anyway)")
    print("previous prompt restored")
    return 0


@guard
def _delete(args) -> int:
    from agent.mirror import review

    with open_db(args) as db:
        review.delete_report(db, _report_id(db, args.report))
    print("report deleted")
    return 0
