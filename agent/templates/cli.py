"""`mirari templates publish|list|show|browse|install|export|import|delete`: templates on the command line.

`browse` and `install` talk to the server (signed in, online); the others work on the local database.
Every write is all or nothing; an import or install that breaks a rule writes nothing."""

from __future__ import annotations

from agent.cli.common import guard, open_db, print_json, resolve_id

SORTS = ("installs", "recent")  # sync.catalogue.SORTS


def register(subparsers) -> None:
    templates = subparsers.add_parser("templates", help="publish, browse, install, export and import templates")
    sub = templates.add_subparsers(dest="templates_command", metavar="ACTION", required=True)

    p = sub.add_parser("publish", help="bundle skills and memory nodes into a template (prints its id)")
    p.add_argument("--name", required=True)
    p.add_argument("--description")
    p.add_argument("--category")
    p.add_argument("--skill", action="append", default=[], metavar="ID", help="a skill to include (repeatable)")
    p.add_argument("--memory", action="append", default=[], metavar="ID",
                   help="a memory node to include (repeatable)")
    p.add_argument("--public", action="store_true", help="list it in the public catalogue (default: private)")
    p.add_argument("--preview", action="store_true",
                   help="print exactly what would be shared, as JSON, and publish nothing")
    p.set_defaults(handler=_publish)

    p = sub.add_parser("list", help="your templates")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = sub.add_parser("show", help="one of your templates as text: what it shares, item by item")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="the document itself, exactly as it is shared")
    p.set_defaults(handler=_show)

    p = sub.add_parser("browse", help="the public catalogue (online)")
    p.add_argument("--search", metavar="TEXT", help="text in the name, description or category")
    p.add_argument("--category", help="only this category")
    p.add_argument("--sort", choices=SORTS, default="installs", help="most installed first, or newest first")
    p.add_argument("--json", action="store_true", help="one JSON array of every match")
    p.set_defaults(handler=_browse)

    p = sub.add_parser("install", help="install a template: its skills as suggested, its memory into the Atlas")
    p.add_argument("id", help="the template's id, or a unique prefix of it (4+ characters)")
    p.add_argument("--json", action="store_true", help="what was added and what was skipped, as JSON")
    p.set_defaults(handler=_install)

    p = sub.add_parser("export", help="write one of your templates to a .mirari-template.json file")
    p.add_argument("id")
    p.add_argument("file")
    p.set_defaults(handler=_export)

    p = sub.add_parser("import", help="install a .mirari-template.json file (validated first)")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="what was added and what was skipped, as JSON")
    p.set_defaults(handler=_import)

    p = sub.add_parser("delete", help="withdraw one of your templates (it leaves the catalogue)")
    p.add_argument("id")
    p.set_defaults(handler=_delete)


@guard
def _publish(args) -> int:
    from agent.templates import publish
    from local_schema.models import MemoryNode, Skill

    with open_db(args) as db:
        skills = [resolve_id(db, Skill, text, "skill") for text in args.skill]
        memory = [resolve_id(db, MemoryNode, text, "memory node") for text in args.memory]
        if args.preview:
            print_json(publish.preview(db, args.name, args.description, args.category, skills, memory,
                                         args.public))
            return 0
        template = publish.publish(db, args.name, args.description, args.category, skills, memory,
                                     args.public)
    print(template.id)
    return 0


@guard
def _list(args) -> int:
    from agent.templates.publish import list_templates

    with open_db(args) as db:
        rows = list_templates(db)
    if args.json:
        print_json([t.to_dict() for t in rows])
        return 0
    if not rows:
        print("no templates yet: `mirari templates publish --name N --skill ID …`")
    for t in rows:
        visibility = "public" if t.is_public else "private"
        waiting = ", waiting to sync" if t.waiting else ""
        print(f"{t.id}  {t.name}  ({visibility}, {t.skill_count} skills, {t.memory_count} memories, "
              f"{t.installs} installs{waiting})")
    return 0


@guard
def _show(args) -> int:
    from agent.templates.publish import get_template
    from agent.templates.text import describe_template
    from local_schema.models import Template

    with open_db(args) as db:
        t = get_template(db, resolve_id(db, Template, args.id, "template of yours"))
    document = {"name": t.name, "description": t.description, "category": t.category, "is_public": t.is_public,
                "payload": t.payload}
    if args.json:
        print_json(document)
    else:
        print(describe_template(document))
    return 0


def _catalogue(args):
    from agent.cli.sync import command_engine
    from sync.catalogue import Catalogue

    engine = command_engine(args)  # the session from the same store as `mirari account login` keeps it in
    return engine, Catalogue.for_engine(engine)


@guard
def _browse(args) -> int:
    engine = None
    try:
        engine, catalogue = _catalogue(args)
        entries = catalogue.all(args.search, args.category, args.sort)
    finally:
        if engine is not None:
            engine.close()
    if args.json:
        print_json([e.to_dict() for e in entries])
        return 0
    if not entries:
        print("no public templates match")
    for e in entries:
        mine = " (yours)" if e.mine else ""
        print(f"{e.id}  {e.name}{mine}  [{e.category or 'no category'}]  {e.skill_count} skills, "
              f"{e.memory_count} memories, {e.installs} installs")
    return 0


@guard
def _install(args) -> int:
    from agent.templates.install import install_from_catalogue

    engine = None
    try:
        engine, catalogue = _catalogue(args)
        with open_db(args) as db:
            result = install_from_catalogue(db, catalogue, args.id)
    finally:
        if engine is not None:
            engine.close()
    return _print_result(result, args.json)


def _print_result(result, as_json: bool) -> int:
    """The summary and every skipped item with its reason (or all of it as JSON)."""
    if as_json:
        print_json(result.to_dict())
    else:
        print(result.report())
    return 0


@guard
def _export(args) -> int:
    from agent.templates.publish import export_template
    from local_schema.models import Template

    with open_db(args) as db:
        path = export_template(db, resolve_id(db, Template, args.id, "template of yours"), args.file)
    print(path)
    return 0


@guard
def _import(args) -> int:
    from agent.templates.install import import_file
    from agent.templates.payload import TemplateInvalid

    with open_db(args) as db:
        try:
            result = import_file(db, args.file)
        except TemplateInvalid as exc:  # one line: the first problem and how many more
            raise ValueError(f"{args.file} was not imported (nothing was written): {exc}") from None
    return _print_result(result, args.json)


@guard
def _delete(args) -> int:
    from agent.templates.publish import delete_template
    from local_schema.models import Template

    with open_db(args) as db:
        template_id = resolve_id(db, Template, args.id, "template of yours")
        delete_template(db, template_id)
    print(f"{template_id} withdrawn")
    return 0
