"""`mirari backup create|list|verify|restore` and `mirari export`: the same work as Settings → Backups and
File → Export all… in the window (agent.backup.service, agent.backup.export_all)."""

from __future__ import annotations

import sys

from agent.cli.common import CommandError, data_dir, fail, guard, open_db, print_json


def register(subparsers) -> None:
    backup = subparsers.add_parser("backup", help="back up, list, verify and restore backups of your data")
    sub = backup.add_subparsers(dest="backup_command", metavar="ACTION", required=True)

    p = sub.add_parser("create", help="back up the database and its attachments now (prints the archive)")
    p.add_argument("--to", metavar="FILE", help="write the archive here instead of the backups folder")
    p.set_defaults(handler=_create)

    p = sub.add_parser("list", help="the backups in the backups folder, newest first")
    p.add_argument("--json", action="store_true", help="a JSON array (path, created_at, size, counts, kind, …)")
    p.set_defaults(handler=_list)

    p = sub.add_parser("verify", help="check a backup completely (exit 0 only when it is sound)")
    p.add_argument("file")
    p.set_defaults(handler=_verify)

    p = sub.add_parser("restore", help="replace the data with a backup's (the current data is backed up first)")
    p.add_argument("file")
    p.set_defaults(handler=_restore)

    p = subparsers.add_parser("export", help="export all your data: every table as JSON lines, or every "
                                             "thread as Markdown")
    p.add_argument("--format", choices=("json", "markdown"), required=True)
    p.add_argument("--to", metavar="DIR", required=True, help="a new (or empty) folder")
    p.set_defaults(handler=_export)


def _progress(done: int, total: int, text: str) -> None:
    if sys.stderr.isatty():
        where = f" {100 * done // total}%" if total else ""
        print(f"\r{text}{where}   ", end="", file=sys.stderr, flush=True)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n} GB"


@guard
def _create(args) -> int:
    from pathlib import Path

    from agent.backup.service import BackupEntry, create_backup
    from local_schema.backup.archive import ArchiveProblem, archive_name

    destination = None
    if args.to:
        destination = Path(args.to).expanduser()
        if destination.is_dir():
            from datetime import UTC, datetime

            from agent.backup.service import active_database

            destination = destination / archive_name(active_database(data_dir(args)), "manual", datetime.now(UTC))
    try:
        archive = create_backup(data_dir(args), kind="manual", destination=destination, progress=_progress)
    except ArchiveProblem as exc:
        raise CommandError(str(exc)) from None
    finally:
        _progress_done()
    entry = BackupEntry(archive.path, archive.size, archive.manifest)
    print(f"{archive.path}\n{_size(entry.size)} · {entry.summary()}")
    return 0


def _progress_done() -> None:
    if sys.stderr.isatty():
        print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)


@guard
def _list(args) -> int:
    from agent.backup.service import list_backups
    from local_schema.backup.settings import backups_dir

    entries = list_backups(data_dir(args))
    if args.json:
        print_json([e.to_json() for e in entries])
        return 0
    if not entries:
        print(f"No backups in {backups_dir(data_dir(args))} yet.")
        return 0
    for e in entries:
        if e.problem:
            print(f"{'?':19}  {'unreadable':15}  {_size(e.size):>9}  {e.problem}\n    {e.path}")
            continue
        when = (e.created_at or "")[:19].replace("T", " ")
        who = f"  [{e.account}]" if e.account else ""
        print(f"{when}  {e.kind:15}  {_size(e.size):>9}  {e.summary()}{who}\n    {e.path}")
    return 0


@guard
def _verify(args) -> int:
    from agent.backup.service import BackupEntry, verify_backup

    result = verify_backup(args.file, data_dir(args), progress=_progress)
    _progress_done()
    if not result.sound:
        return fail(f"{args.file} is not sound: " + "; ".join(result.problems))
    from pathlib import Path

    entry = BackupEntry(Path(args.file), Path(args.file).stat().st_size, result.manifest)
    print(f"sound: {entry.kind} backup of {(entry.created_at or '')[:19].replace('T', ' ')} UTC, "
          f"schema v{result.manifest['schema_version']} · {entry.summary()}")
    return 0


@guard
def _restore(args) -> int:
    from agent.backup.service import restore_backup
    from local_schema.backup.archive import ArchiveProblem

    try:
        restored = restore_backup(data_dir(args), args.file, progress=_progress)
    except ArchiveProblem as exc:
        raise CommandError(f"not restored: {exc}") from None
    finally:
        _progress_done()
    print(restored.summary())
    return 0


@guard
def _export(args) -> int:
    from agent.backup.export_all import export_all

    with open_db(args) as db:
        result = export_all(db, args.format, args.to, progress=_progress)
    _progress_done()
    print(result.summary())
    return 0
