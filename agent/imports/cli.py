"""`mirari import chatgpt FILE` and `mirari import claude FILE`: import an export (its ZIP or its
conversations.json) into the active database; prints what was imported, or one line on error.

`--json` prints one object (in an array, like every `--json`) keyed by the summary's fields.
`--progress` writes the progress to stderr as it goes. Ctrl+C stops between two conversations: those
stored stay, and running the command again adds only the rest.
"""

from __future__ import annotations

from agent.cli.common import data_dir, guard, open_db, print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser("import", help="import conversations from a ChatGPT or Claude export")
    sub = parser.add_subparsers(dest="import_source", metavar="SOURCE", required=True)
    for source, name in (("chatgpt", "ChatGPT"), ("claude", "Claude")):
        p = sub.add_parser(source, help=f"a {name} export: its ZIP or its conversations.json")
        p.add_argument("file")
        p.add_argument("--json", action="store_true", help="what was imported, as JSON")
        p.add_argument("--progress", action="store_true", help="report progress on stderr")
        p.set_defaults(handler=_import, source=source)


@guard
def _import(args) -> int:
    from agent.imports.run import import_export
    from agent.jobs import run_headless
    from sync.accounts import load_state

    account = load_state(data_dir(args)).active_account  # whose database `open_db` opens
    with open_db(args) as db:
        summary = run_headless(lambda ctx: import_export(db, args.file, args.source, ctx, account_id=account),
                               show_progress=args.progress)
    if args.json:
        print_json([summary.as_row()])
    else:
        print(summary.summary())
    return 0
