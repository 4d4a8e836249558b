"""Export everything, in shapes any tool reads: `json` (every table as JSON lines, the attachments' files,
a README of the format) or `markdown` (every thread as a Markdown file, as the Console exports one).

The export is read in one read transaction (one consistent moment, while the app goes on writing) and
written to `<DIR>.partial-…` beside the target, renamed to DIR when complete: an interrupted export leaves
no half folder under the name asked for. DIR must not exist yet, or be empty. Files are private (0600).
Never a key: keys live in the keychain, never in the database.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from local_schema import paths
from local_schema.files import is_device_name, replace
from local_schema.timestamps import utc_now

FORMATS = ("json", "markdown")
# Local-only tables a person would miss: when each connection was last checked, which templates came from where.
LOCAL_TABLES = ("connection_checks", "installed_templates")
FETCH = 1000

Progress = Callable[[int, int, str], None]


class ExportError(ValueError):
    """The export cannot be made where asked; nothing was written."""


@dataclass
class Exported:
    target: Path
    format: str
    rows: dict[str, int] = field(default_factory=dict)
    threads: int = 0
    files: int = 0

    def summary(self) -> str:
        if self.format == "markdown":
            return f"Exported {self.threads:,} thread(s) as Markdown to {self.target}"
        return (f"Exported {sum(self.rows.values()):,} rows of {len(self.rows)} tables and {self.files:,} "
                f"attachment file(s) to {self.target}")


def _quiet(_done: int, _total: int, _text: str) -> None:
    pass


def _never() -> None:
    pass


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _private_file(path: Path):
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8", newline="\n")


def _column_kinds(table: str) -> tuple[set[str], set[str]]:
    """(JSON columns, boolean columns) of a table the models know; other columns are written as stored."""
    import sqlalchemy as sa

    from local_schema.models import MODELS_BY_TABLE

    model = MODELS_BY_TABLE.get(table)
    if model is None:
        return set(), set()
    columns = model.__table__.columns
    return ({c.name for c in columns if isinstance(c.type, sa.JSON)},
            {c.name for c in columns if isinstance(c.type, sa.Boolean)})


def _value(value, name: str, json_cols: set[str], bool_cols: set[str]):
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    if value is not None and name in json_cols and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if value is not None and name in bool_cols:
        return bool(value)
    return value


def _prepare_target(target: Path) -> Path:
    target = Path(target).expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExportError(f"{target} already exists and is not an empty folder: choose a new or empty folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(mode=0o700)
    return partial


def _finish(partial: Path, target: Path) -> None:
    target = Path(target).expanduser().resolve()
    if target.exists():
        target.rmdir()  # empty (checked before): the export takes its place
    replace(partial, target)


def safe_file_name(text: str, limit: int = 80) -> str:
    """A file name from a title, valid on Windows, macOS and Linux."""
    name = re.sub(r'[<>:"/\\|?*\x00-\x1f\x7f]', " ", text or "")
    name = " ".join(name.split()).strip(" .")[:limit].strip(" .")
    if not name or is_device_name(name):
        name = f"_{name}" if name else "Untitled"
    return name


def _tables(conn) -> list[str]:
    from local_schema.models import SYNCED_TABLES

    present = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [t for t in (*SYNCED_TABLES, *LOCAL_TABLES) if t in present]


def _export_json(db, partial: Path, result: Exported, progress: Progress, check: Callable[[], None]) -> None:
    with db.engine.connect() as conn:  # one read transaction: every table from the same moment
        conn.exec_driver_sql("SELECT 1").close()
        tables = _tables(conn)
        for index, table in enumerate(tables):
            check()
            progress(index, len(tables) + 1, f"Exporting {table}…")
            columns = [row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({_quote(table)})")]
            where = " WHERE deleted_at IS NULL" if "deleted_at" in columns else ""
            order = " ORDER BY rowid"
            json_cols, bool_cols = _column_kinds(table)
            cursor = conn.exec_driver_sql(f"SELECT {', '.join(map(_quote, columns))} FROM {_quote(table)}{where}{order}")
            count = 0
            with _private_file(partial / f"{table}.jsonl") as out:
                while rows := cursor.fetchmany(FETCH):
                    check()
                    for row in rows:
                        record = {c: _value(v, c, json_cols, bool_cols) for c, v in zip(columns, row, strict=True)}
                        out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
                    count += len(rows)
            result.rows[table] = count
    progress(len(tables), len(tables) + 1, "Copying the attachments' files…")
    source = paths.attachments_dir(Path(db.path))
    if source.is_dir():
        for root, _dirs, files in os.walk(source):
            for name in files:
                check()
                path = Path(root) / name
                if path.is_symlink() or not path.is_file():
                    continue
                target = partial / "attachments" / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                shutil.copyfile(path, target)
                os.chmod(target, 0o600)
                result.files += 1
    with _private_file(partial / "README.md") as out:
        out.write(json_readme(result))


def _export_markdown(db, partial: Path, result: Exported, progress: Progress, check: Callable[[], None]) -> None:
    from sqlmodel import select

    from agent.chat.export import thread_to_markdown_in
    from local_schema.models import Conversation

    exported_at = utc_now()
    folder = partial / "threads"
    folder.mkdir(mode=0o700)
    with db.session() as session:
        threads = session.exec(select(Conversation).where(Conversation.deleted_at.is_(None))
                               .order_by(Conversation.created_at, Conversation.id)).all()
        used: set[str] = set()
        for index, thread in enumerate(threads):
            check()
            progress(index, len(threads), "Writing the threads…")
            name = f"{thread.created_at[:10]} {safe_file_name(thread.title or 'Untitled thread')} ({thread.id[:8]})"
            while name.lower() in used:
                name += "_"
            used.add(name.lower())
            with _private_file(folder / f"{name}.md") as out:
                out.write(thread_to_markdown_in(session, thread.id, exported_at))
            result.threads += 1
    with _private_file(partial / "README.md") as out:
        out.write(MARKDOWN_README.format(threads=result.threads, exported_at=exported_at))


def export_all(db, fmt: str, target: Path, *, progress: Progress | None = None,
               check: Callable[[], None] | None = None) -> Exported:
    """Export the open database `db` to the folder `target` (see the module docstring)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}: choose json or markdown")
    progress, check = progress or _quiet, check or _never
    partial = _prepare_target(target)
    result = Exported(Path(target).expanduser().resolve(), fmt)
    try:
        (_export_json if fmt == "json" else _export_markdown)(db, partial, result, progress, check)
        _finish(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return result


def json_readme(result: Exported) -> str:
    tables = "\n".join(f"- `{table}.jsonl` — {count:,} row(s)" for table, count in result.rows.items())
    return f"""# MIRARI export (JSON lines)

Exported {utc_now()} from MIRARI's local database. Everything you keep in MIRARI, in a shape any tool
reads. API keys are never in it (they live in your OS keychain, never in the database).

## Files

{tables}
- `attachments/` — {result.files:,} file(s): the bytes of the files attached to your threads, under the
  names MIRARI stores them by (content-addressed: the name is derived from the bytes).

One file per table. Each line is one row: a JSON object whose keys are the table's column names.
Deleted rows are left out.

## Values

- Ids are UUIDs (lowercase text); a column ending in `_id` holds the id of a row of another table
  (`conversation_id` → `conversations.jsonl`, `agent_connection_id` / `connection_id` →
  `agent_connections.jsonl`, `user_id` / `author_id` → your account).
- Times are ISO 8601 text in UTC (`2024-05-01T12:00:00.123456+00:00`); `created_at` is when you made
  the row, by the clock of the device that made it.
- A thread's messages are in the order of their `seq` (then `id`), not of `created_at`.
- Columns holding structured data (a skill's `test_cases`, a report's `findings`, a template's
  `payload`, …) are JSON values, not strings; true/false columns are JSON booleans.
- `connection_checks` and `installed_templates` are this device's own (not synced): when each
  connection was last checked, and which templates were installed here.
"""


MARKDOWN_README = """# MIRARI export (Markdown)

Exported {exported_at} from MIRARI's local database: {threads:,} thread(s) in `threads/`, one Markdown
file each, named `<date started> <title> (<first 8 characters of the thread's id>).md`. Each file has
the thread's title, then every message in thread order under a heading naming who wrote it (You, or
the connection and model that wrote the reply) and when. For every table as data, export with
`--format json`.
"""
