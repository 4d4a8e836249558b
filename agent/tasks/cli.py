"""`mirari tasks list|add|move|edit|delete`: the Tasks board on the command line (same agent.tasks.board rules).

Tasks never run: these commands only change the board, exactly as the window does."""

from __future__ import annotations

from agent.cli.common import guard, open_db, print_json, resolve_id

STATUSES = ("pending", "in_progress", "done")  # agent.tasks.board.STATUSES, repeated to keep startup light


def register(subparsers) -> None:
    tasks = subparsers.add_parser("tasks", help="the Tasks board: list, add, move, edit, delete (tasks never run)")
    sub = tasks.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="every task, by status")
    p.add_argument("--json", action="store_true", help="a JSON array of tasks")
    p.add_argument("--connection", metavar="ID", help="only the tasks scoped to this connection")
    p.add_argument("--status", choices=STATUSES, help="only this column")
    p.set_defaults(handler=_list)

    p = sub.add_parser("add", help="add a task (prints its id)")
    p.add_argument("title")
    p.add_argument("--description")
    p.add_argument("--connection", metavar="ID", help="scope the task to one connection")
    p.add_argument("--status", choices=STATUSES, default="pending")
    p.set_defaults(handler=_add)

    p = sub.add_parser("move", help="move a task to another column")
    p.add_argument("id")
    p.add_argument("status", choices=STATUSES)
    p.set_defaults(handler=_move)

    p = sub.add_parser("edit", help="change a task's title, description or connection")
    p.add_argument("id")
    p.add_argument("--title")
    p.add_argument("--description", help="new description ('' clears it)")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--connection", metavar="ID", help="scope the task to this connection")
    scope.add_argument("--no-connection", action="store_true", help="unscope the task")
    p.add_argument("--status", choices=STATUSES)
    p.set_defaults(handler=_edit)

    p = sub.add_parser("delete", help="delete a task")
    p.add_argument("id")
    p.set_defaults(handler=_delete)


def _task(db, text: str) -> str:
    """A task id from the full id or a unique prefix (the lists show whole ids)."""
    from local_schema.models import Task

    return resolve_id(db, Task, text, "task")


def _connection(db, text: str | None) -> str | None:
    from local_schema.models import AgentConnection

    return None if text is None else resolve_id(db, AgentConnection, text, "connection")


@guard
def _list(args) -> int:
    from agent.tasks.board import STATUS_LABELS, list_tasks

    with open_db(args) as db:
        connection = _connection(db, args.connection)
        tasks = list_tasks(db, connection_id=connection, status=args.status)
    if args.json:
        print_json([t.to_dict() for t in tasks])
        return 0
    if not tasks:
        print("no tasks")
    for status, label in STATUS_LABELS.items():
        column = [t for t in tasks if t.status == status]
        if column:
            print(f"{label} ({len(column)})")
            for t in column:
                scope = f"  [{t.connection_name or t.connection_id}]" if t.connection_id else ""
                print(f"  {t.id}  {t.title}{scope}")
    return 0


@guard
def _add(args) -> int:
    from agent.tasks.board import add_task

    with open_db(args) as db:
        task = add_task(db, args.title, args.description, _connection(db, args.connection), args.status)
    print(task.id)
    return 0


@guard
def _move(args) -> int:
    from agent.tasks.board import STATUS_LABELS, move_task

    with open_db(args) as db:
        task = move_task(db, _task(db, args.id), args.status)
    print(f"{task.id} → {STATUS_LABELS[task.status]}")
    return 0


@guard
def _edit(args) -> int:
    from agent.tasks.board import edit_task

    changes = {}
    if args.title is not None:
        changes["title"] = args.title
    if args.description is not None:
        changes["description"] = args.description
    if args.no_connection:
        changes["connection_id"] = None
    if args.status is not None:
        changes["status"] = args.status
    if not changes and args.connection is None:
        raise ValueError("nothing to change: pass --title, --description, --connection, --no-connection or --status")
    with open_db(args) as db:
        if args.connection is not None:
            changes["connection_id"] = _connection(db, args.connection)
        task = edit_task(db, _task(db, args.id), **changes)
    print(f"{task.id} updated")
    return 0


@guard
def _delete(args) -> int:
    from agent.tasks.board import delete_task

    with open_db(args) as db:
        task_id = _task(db, args.id)
        delete_task(db, task_id)
    print(f"{task_id} deleted")
    return 0
