"""`mirari attachments list [--json]` and `mirari attachments get ID --to PATH`."""

from __future__ import annotations

from agent.cli.common import CommandError, guard, open_db, print_json, resolve_id, short


def register(subparsers) -> None:
    parser = subparsers.add_parser("attachments", help="files attached to messages: list, get")
    sub = parser.add_subparsers(dest="attachments_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="every attachment: name, type, size, SHA-256, message")
    p.add_argument("--json", action="store_true", help="a JSON array of attachments")
    p.set_defaults(handler=_list)
    p = sub.add_parser("get", help="write an attachment's bytes to a file (downloads them if needed)")
    p.add_argument("id")
    p.add_argument("--to", required=True, metavar="PATH", help="a new file, or a folder (the attachment's name)")
    p.set_defaults(handler=_get)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@guard
def _list(args) -> int:
    from agent.attachments.store import list_attachments

    with open_db(args) as db:
        items = list_attachments(db)
    if args.json:
        print_json([item.to_dict() for item in items])
        return 0
    if not items:
        print("no attachments")
    for item in items:
        where = "here" if item.local else "on the server"
        waiting = "  (upload waiting" + (f": {item.upload_error}" if item.upload_error else "") + ")" \
            if item.upload_waiting else ""
        print(f"{short(item.id)}  {item.name}  {item.mime_type}  {_size(item.size)}  sha256 {item.sha256[:12]}…"
              f"  message {short(item.message_id)}  {where}{waiting}")
    return 0


@guard
def _get(args) -> int:
    from agent.attachments.store import copy_to
    from local_schema.models import Attachment
    from sync.attachments import AttachmentError, local_copy, store_root

    with open_db(args) as db:
        attachment_id = resolve_id(db, Attachment, args.id, "attachment")
        with db.session() as session:
            row = session.get(Attachment, attachment_id)
        client = None
        if local_copy(store_root(db), row.sha256, row.size) is None:
            client = storage_client(args)
        try:
            written = copy_to(db, attachment_id, args.to, client)
        except AttachmentError as exc:
            raise CommandError(str(exc)) from None
    print(written)
    return 0


def storage_client(args):
    """The signed-in account's Storage client, or None when signed out (the error then says so)."""
    from agent.cli.common import data_dir
    from agent.cli.sync import command_engine
    from sync.accounts import load_state

    if not load_state(data_dir(args)).signed_in:
        return None
    return command_engine(args).storage()
