"""`mirari skills add|suggest|list|show|move|edit|test|tools|delete|threshold`: the Skill Forge from the command
line, over agent.skills.forge / suggest / runner / tools (the same functions as the page).

IDs may be given in full or as a unique prefix (lists show 8 characters). `--json` prints the skills
table's columns plus computed fields: `test_state` (none | current | stale) and `next_status` (the one
legal move). Errors are one line on stderr with a non-zero exit, and nothing half-written.
"""

from __future__ import annotations

import signal
import sys

from agent.cli.common import (
    CommandError,
    data_dir,
    fail,
    guard,
    key_store,
    open_db,
    print_json,
    read_text,
    resolve_id,
    short,
)


def register(subparsers) -> None:
    skills = subparsers.add_parser("skills", help="the Skill Forge: suggest, test and promote skills")
    sub = skills.add_subparsers(dest="skills_command", metavar="ACTION", required=True)

    p = sub.add_parser("add", help="write a new skill by hand (stored as suggested, like the page's New skill)")
    p.add_argument("--name", required=True)
    p.add_argument("--prompt", required=True, metavar="TEXT",
                   help='the template prompt: the instruction itself ("-" reads standard input)')
    p.add_argument("--description")
    p.add_argument("--category")
    p.add_argument("--tests", metavar="FILE", help='test cases as a JSON array (a file, or "-" for standard input), '
                                                   'as for `skills edit`')
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_add)

    p = sub.add_parser("suggest", help="let a connection draft a new skill (stored as suggested)")
    p.add_argument("--connection", required=True, metavar="ID")
    p.add_argument("--context", metavar="TEXT", help='what the skill should help with ("-" reads standard input)')
    p.add_argument("--thread", metavar="ID", help="use a Console thread as the context")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_suggest)

    p = sub.add_parser("list", help="skills by status: suggested, accepted, testing, promoted, archived")
    p.add_argument("--status", choices=["suggested", "accepted", "testing", "promoted", "archived"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = sub.add_parser("show", help="one skill: its prompt, test cases and last test result")
    p.add_argument("id", metavar="ID")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_show)

    p = sub.add_parser("move", help="move a skill one step: suggested → accepted → testing → promoted → "
                                    "archived → suggested")
    p.add_argument("id", metavar="ID")
    p.add_argument("status", metavar="STATUS")
    p.add_argument("--min-score", type=float, help="promotion threshold for this move (default: the "
                                                   "setting, see `mirari skills threshold`)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_move)

    p = sub.add_parser("edit", help="change a skill; a new template prompt is a new version")
    p.add_argument("id", metavar="ID")
    p.add_argument("--name")
    p.add_argument("--description", help='"" clears it')
    p.add_argument("--category", help='"" clears it')
    p.add_argument("--prompt", metavar="TEXT", help='the template prompt ("-" reads standard input)')
    p.add_argument("--tests", metavar="FILE", help='the test cases as a JSON array (a file, or "-" for standard '
                                                   'input): [{"prompt": "…", "expectations": '
                                                   '[{"kind": "contains", "value": "…"}]}]')
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_edit)

    p = sub.add_parser("test", help="run the skill's test cases with and without it; stores the result")
    p.add_argument("id", metavar="ID")
    p.add_argument("--connection", required=True, metavar="ID")
    p.add_argument("--runs", type=int, default=1, choices=[1, 2, 3], help="runs per case and configuration")
    p.add_argument("--approve", choices=["all", "never"], default="never",
                   help="calls of the skill's tools not marked 'Always' on this device: allow each once (all) or "
                        "deny them (never, the default; the result records each denial)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_test)

    p = sub.add_parser("tools", help="the tools a skill needs (server/tool names); whether this device has them")
    p.add_argument("id", metavar="ID")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--set", metavar="SERVER/TOOL,…", help="replace the list (comma-separated names)")
    group.add_argument("--clear", action="store_true", help="the skill needs no tools")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_tools)

    p = sub.add_parser("delete", help="delete (dismiss) a suggested skill")
    p.add_argument("id", metavar="ID")
    p.set_defaults(handler=_delete)

    p = sub.add_parser("threshold", help="show or set the score a skill needs to be promoted (default 0.7)")
    p.add_argument("score", nargs="?", type=float, metavar="SCORE")
    p.set_defaults(handler=_threshold)


def skill_json(skill) -> dict:
    """Every column of the row, plus what is computed from it."""
    from agent.skills.forge import legal_targets, run_state
    from local_schema.models import all_columns

    row = {column: getattr(skill, column) for column in all_columns("skills")}
    targets = legal_targets(skill.status)
    row["test_state"] = run_state(skill)
    row["next_status"] = targets[0] if targets else None
    return row


def _device_servers(db):
    """This device's MCP servers and their tools (loaded only by the commands that need them)."""
    from agent.tools.config import list_servers as servers

    return servers(db)


def _skill_id(db, text: str) -> str:
    from local_schema.models import Skill

    return resolve_id(db, Skill, text, "skill")


def _load(db, skill_id: str):
    from agent.skills.forge import get_skill_in

    with db.session() as session:
        return get_skill_in(session, skill_id)


def _rates(last: dict | None) -> str:
    if not isinstance(last, dict):
        return "not tested"
    return (f"{float(last.get('with_rate', 0)):.0%} with, {float(last.get('without_rate', 0)):.0%} without "
            f"(v{last.get('version')})")


def _cancellable(job, show_progress: bool = False):
    """Run a long job here; Ctrl-C cancels it (nothing is stored). A failed request or an unusable
    draft becomes CommandError (its message only); JobCancelled is left to the caller (exit 130)."""
    from agent.jobs import JobContext
    from agent.llm.errors import LLMError
    from agent.llm.structured import StructuredOutputError

    def report(done: int, total: int, text: str) -> None:
        print(f"[{done}/{total}] {text}" if total else text, file=sys.stderr, flush=True)

    ctx = JobContext(on_progress=report if show_progress else None)
    previous = signal.signal(signal.SIGINT, lambda *_: ctx.cancel.cancel())
    try:
        return job(ctx)
    except (LLMError, StructuredOutputError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        signal.signal(signal.SIGINT, previous)


def _interruptible(handler):
    """A cancelled job exits 130 with one line, like an interrupted command."""
    import functools

    @functools.wraps(handler)
    def run(args) -> int:
        from agent.jobs import JobCancelled

        try:
            return handler(args)
        except JobCancelled:
            return fail("cancelled; nothing was stored", 130)
    return run


@guard
def _add(args) -> int:
    from agent.skills.forge import create_skill

    if args.prompt == "-" and args.tests == "-":
        raise CommandError("--prompt and --tests cannot both read standard input")
    prompt = read_text(args.prompt)
    cases = _read_tests(args.tests) if args.tests is not None else None
    with open_db(args) as db:
        skill = create_skill(db, args.name, prompt, args.description, args.category, cases)
    if args.json:
        print_json(skill_json(skill))
    else:
        print(f"added {short(skill.id)}: {skill.name} (suggested, {len(skill.test_cases)} test case(s))")
    return 0


@guard
@_interruptible
def _suggest(args) -> int:
    from agent.skills.suggest import suggest_skill
    from local_schema.models import AgentConnection, Conversation

    context = read_text(args.context) if args.context else None
    with open_db(args) as db:
        cid = resolve_id(db, AgentConnection, args.connection, "connection")
        thread = resolve_id(db, Conversation, args.thread, "thread") if args.thread else None
        key = key_store(args).get_key(cid)
        skill = _cancellable(lambda ctx: suggest_skill(db, cid, key, context=context, conversation_id=thread,
                                                       ctx=ctx))
    if args.json:
        print_json(skill_json(skill))
    else:
        print(f"suggested {short(skill.id)}: {skill.name} ({skill.category or 'no category'}, "
              f"{len(skill.test_cases)} test case(s))")
    return 0


@guard
def _list(args) -> int:
    from agent.skills.forge import list_skills_in

    with open_db(args) as db, db.session() as session:
        rows = list_skills_in(session, [args.status] if args.status else None)
    if args.json:
        print_json([skill_json(s) for s in rows])
        return 0
    if not rows:
        print("no skills yet: try `mirari skills suggest --connection ID`")
        return 0
    for s in rows:
        print(f"{short(s.id)}  {s.status:<9}  v{s.version:<3} score {s.score:.2f}  {s.name}"
              f"  [{s.category or '-'}; {_rates(s.last_test)}]")
    return 0


@guard
def _show(args) -> int:
    from agent.skills.cases import describe

    with open_db(args) as db:
        skill = _load(db, _skill_id(db, args.id))
    if args.json:
        print_json(skill_json(skill))
        return 0
    print(f"{skill.name} — {skill.status}, v{skill.version}, score {skill.score:.2f}, {skill.category or 'no category'}")
    if skill.description:
        print(skill.description)
    print(f"\n{skill.template_prompt or '(no template prompt)'}\n")
    for number, case in enumerate(skill.test_cases or [], start=1):
        checks = "; ".join(describe(e) for e in case.get("expectations", []))
        print(f"test {number}: {case.get('prompt')!r} → {checks}")
    print(f"last test: {_rates(skill.last_test)}")
    return 0


@guard
def _move(args) -> int:
    from agent.skills.forge import move_skill
    from agent.skills.settings import load_min_score

    threshold = args.min_score if args.min_score is not None else load_min_score(data_dir(args))
    with open_db(args) as db:
        moved = move_skill(db, _skill_id(db, args.id), args.status.strip().lower(), min_score=threshold)
    for warning in moved.warnings:
        print(f"mirari: warning: {warning}", file=sys.stderr)
    if args.json:
        print_json(skill_json(moved.skill))
    else:
        print(f"{short(moved.skill.id)} is now {moved.skill.status}: {moved.skill.name}")
    return 0


@guard
def _edit(args) -> int:
    from agent.skills.forge import edit_skill

    changes = {key: getattr(args, key) for key in ("name", "description", "category") if getattr(args, key) is not None}
    if args.prompt is not None:
        changes["template_prompt"] = read_text(args.prompt)
    if args.tests is not None:
        changes["test_cases"] = _read_tests(args.tests)
    if not changes:
        raise CommandError("nothing to change: give --name, --description, --category, --prompt or --tests")
    with open_db(args) as db:
        skill = edit_skill(db, _skill_id(db, args.id), **changes)
    if args.json:
        print_json(skill_json(skill))
    else:
        print(f"saved {short(skill.id)}: {skill.name}, version {skill.version}")
    return 0


def _read_tests(where: str):
    """Test cases from a JSON file or standard input ("-"); checked by the Forge when saved."""
    import json

    source = sys.stdin.read() if where == "-" else _read_file(where)
    try:
        return json.loads(source)
    except ValueError as exc:
        raise CommandError(f"the test cases are not valid JSON: {exc}") from None


def _read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None


@guard
@_interruptible
def _test(args) -> int:
    from agent.skills.runner import run_skill_tests
    from local_schema.models import AgentConnection

    with open_db(args) as db:
        skill_id = _skill_id(db, args.id)
        cid = resolve_id(db, AgentConnection, args.connection, "connection")
        key = key_store(args).get_key(cid)
        secrets = key_store(args) if any(s.header_names for s in _device_servers(db)) else None
        report = _cancellable(lambda ctx: run_skill_tests(db, skill_id, cid, key, runs=args.runs, ctx=ctx,
                                                          approval=args.approve, secrets=secrets),
                              show_progress=sys.stderr.isatty())
        skill = _load(db, skill_id)
    if args.json:
        print_json(skill_json(skill))
        return 0
    print(f"{skill.name} v{report.version}: {report.summary()}; score {skill.score:.2f}")
    for number, case in enumerate(report.cases, start=1):
        failed = f" — failed: {'; '.join(case.failed_with)}" if case.failed_with else ""
        calls = case.tool_calls
        used = (f"; tool calls: {calls.ran} ran, {calls.denied} denied, {calls.failed} failed"
                if calls else "")
        print(f"  test {number}: {case.passed_with}/{report.runs} with, {case.passed_without}/{report.runs} "
              f"without{used}{failed}")
    for note in (skill.last_test or {}).get("tools", {}).get("notes", []):
        print(f"  note: {note}")
    return 0


@guard
def _tools(args) -> int:
    from agent.skills.tools import parse_tool_list, set_skill_tools, stored_tools, tool_states

    with open_db(args) as db:
        skill_id = _skill_id(db, args.id)
        if args.set is not None or args.clear:
            set_skill_tools(db, skill_id, [] if args.clear else parse_tool_list(args.set))
        skill = _load(db, skill_id)
        states = tool_states(_device_servers(db), stored_tools(skill))
    if args.json:
        print_json([{k: v for k, v in entry.items() if k != "note"} for entry in states])
        return 0
    if not states:
        print(f"{skill.name} needs no tools.")
    for entry in states:
        always = ", always allowed" if entry["always_allow"] else ""
        print(entry["note"] or f"{entry['name']} — enabled on this device{always}")  # (a note names its tool)
    return 0


@guard
def _delete(args) -> int:
    from agent.skills.forge import dismiss

    with open_db(args) as db:
        skill_id = _skill_id(db, args.id)
        name = _load(db, skill_id).name
        dismiss(db, skill_id)
    print(f"deleted {short(skill_id)}: {name} (sync removes it from your other devices)")
    return 0


@guard
def _threshold(args) -> int:
    from agent.skills.settings import load_min_score, save_min_score

    if args.score is None:
        print(f"{load_min_score(data_dir(args)):.2f}")
    else:
        print(f"{save_min_score(data_dir(args), args.score):.2f}")
    return 0
