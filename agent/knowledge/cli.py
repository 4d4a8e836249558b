"""`mirari knowledge add NAME FOLDER | list [--json] | search NAME QUERY [--json] | reindex NAME | remove NAME`."""

from __future__ import annotations

from agent.cli.common import CommandError, guard, open_db, print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser("knowledge", help="folders of files indexed for search (on this device)")
    sub = parser.add_subparsers(dest="knowledge_command", metavar="ACTION", required=True)
    p = sub.add_parser("add", help="add a folder as a knowledge set and index it")
    p.add_argument("name")
    p.add_argument("folder")
    p.set_defaults(handler=_add)
    p = sub.add_parser("list", help="the knowledge sets: folder, files, passages, last index")
    p.add_argument("--json", action="store_true", help="a JSON array of sets")
    p.set_defaults(handler=_list)
    p = sub.add_parser("search", help="passages of a set for a query, with file and lines")
    p.add_argument("name")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--json", action="store_true", help="a JSON array of passages")
    p.set_defaults(handler=_search)
    p = sub.add_parser("reindex", help="pick up changed, new and deleted files")
    p.add_argument("name")
    p.set_defaults(handler=_reindex)
    p = sub.add_parser("remove", help="forget a knowledge set (its files are not touched)")
    p.add_argument("name")
    p.set_defaults(handler=_remove)
    # The indexing process of a PyInstaller bundle (agent.knowledge.worker); no help: not for people.
    sub.add_parser("index-worker").set_defaults(handler=_index_worker)


def _index(db, name: str) -> str:
    from agent.jobs import JobCancelled, run_headless
    from agent.knowledge.index import reindex

    try:
        report = run_headless(lambda ctx: reindex(db, name, ctx))
    except JobCancelled:
        raise CommandError("interrupted; the files indexed so far are kept") from None
    if report.cancelled:
        raise CommandError("interrupted; the files indexed so far are kept")
    return (f"{name}: {report.files} files ({report.read} read, {report.unchanged} unchanged, "
            f"{report.removed} removed, {report.skipped} skipped), {report.passages} passages written")


@guard
def _add(args) -> int:
    from agent.knowledge.index import add_set

    with open_db(args) as db:
        add_set(db, args.name, args.folder)
        print(_index(db, args.name))
    return 0


@guard
def _reindex(args) -> int:
    with open_db(args) as db:
        print(_index(db, args.name))
    return 0


@guard
def _list(args) -> int:
    from agent.knowledge.index import list_sets

    with open_db(args) as db:
        sets = list_sets(db)
    if args.json:
        print_json([s.to_dict() for s in sets])
        return 0
    if not sets:
        print("no knowledge sets")
    for s in sets:
        skipped = f", {s.skipped} skipped" if s.skipped else ""
        print(f"{s.name}  {s.folder}  {s.files} files{skipped}, {s.passages} passages, "
              f"indexed {s.indexed_at or 'never'}{'  (' + s.problem + ')' if s.problem else ''}")
    return 0


@guard
def _search(args) -> int:
    from agent.knowledge.search import search

    with open_db(args) as db:
        passages = search(db, args.name, args.query, args.limit)
    if args.json:
        print_json([p.to_dict() for p in passages])
        return 0
    if not passages:
        print("no passages")
    for p in passages:
        print(f"{p.source}")
        for line in p.text.splitlines()[:6]:
            print(f"    {line}")
    return 0


@guard
def _remove(args) -> int:
    from agent.knowledge.index import remove_set

    with open_db(args) as db:
        remove_set(db, args.name)
    print(f"removed {args.name}")
    return 0


def _index_worker(_args) -> int:
    from agent.knowledge.worker import main

    return main()
