"""The import as a long job: stream the export, store one conversation per transaction, report.

    summary = ImportSummary(CHATGPT, path.name)
    import_export(db, path, CHATGPT, ctx, account_id=..., summary=summary)

Runs anywhere a JobContext does (the window's job runner, `run_headless` on the command line, tests).
Progress counts the bytes of the export read so far. Cancel is noticed between conversations: the
conversation being stored is stored whole or not at all, those before it stay, and importing again adds
only the rest. An error (a cut-off file, something that is not an export) is `ImportFailed` with one
line that says which conversation and what was imported before it; `summary` holds the counts so far.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from agent.imports import chatgpt, claude
from agent.imports.model import CHATGPT, CLAUDE, SOURCE_NAMES, SOURCES, ImportFailed
from agent.imports.source import ExportFile, detect_source  # noqa: F401 - the window asks run for both
from agent.imports.writer import ADDED, DELETED_HERE, EMPTY, UNCHANGED, UPDATED, write_thread
from agent.jobs import JobContext
from local_schema.database import LocalDatabase

CONVERTERS = {CHATGPT: chatgpt.convert, CLAUDE: claude.convert}
PROGRESS_EVERY = 0.2  # seconds between progress reports (a report per conversation would flood a window)


@dataclass
class ImportSummary:
    source: str
    file: str
    threads_added: int = 0  # new threads
    threads_updated: int = 0  # threads already here that got messages the export has and they lacked
    threads_unchanged: int = 0  # already imported, nothing new
    threads_skipped: int = 0  # deleted here after an earlier import, or nothing in them to import
    messages_added: int = 0
    messages_skipped: int = 0  # in the export, not imported: system, hidden, reasoning, empty
    messages_truncated: int = 0  # cut to the message limit, with a marker
    conversations_read: int = 0

    def as_row(self) -> dict:
        return asdict(self)

    def progress_text(self) -> str:
        return (f"{self.conversations_read:,} conversation{_s(self.conversations_read)} read · "
                f"{self.messages_added:,} message{_s(self.messages_added)} added")

    def summary(self) -> str:
        """What the import did, in plain sentences (the window's notice, the command's output)."""
        name = SOURCE_NAMES.get(self.source, self.source)
        if not self.conversations_read:
            return f"{self.file} holds no {name} conversations: nothing was imported."
        lines = [f"Imported from {name}: {self.threads_added:,} new thread{_s(self.threads_added)}, "
                 f"{self.messages_added:,} message{_s(self.messages_added)}."]
        if self.threads_updated:
            lines.append(f"{self.threads_updated:,} thread{_s(self.threads_updated)} already here got the "
                         "messages they lacked.")
        if self.threads_unchanged:
            lines.append(f"{self.threads_unchanged:,} thread{_s(self.threads_unchanged)} already imported, "
                         "unchanged.")
        if self.threads_skipped:
            lines.append(f"{self.threads_skipped:,} conversation{_s(self.threads_skipped)} skipped (deleted "
                         "here after an earlier import, or nothing in it to import).")
        if self.messages_skipped:
            lines.append(f"{self.messages_skipped:,} message{_s(self.messages_skipped)} skipped (system, "
                         "hidden, reasoning or empty).")
        if self.messages_truncated:
            lines.append(f"{self.messages_truncated:,} message{_s(self.messages_truncated)} cut to the "
                         "size limit, marked where cut.")
        return " ".join(lines)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _back_up_first(db: LocalDatabase, ctx: JobContext) -> None:
    """An archive of the database before anything is written (docs/backup.md: before every import), once
    the first conversation has been read, so a file that is no export is refused without one."""
    from agent.backup.service import create_backup
    from local_schema.paths import data_dir_of

    ctx.progress(0, 0, "Backing up before the import…")
    create_backup(data_dir_of(db.path), kind="before import", database=db.path, check=ctx.check)


def import_export(db: LocalDatabase, path: str | Path, source: str, ctx: JobContext, *,
                  account_id: str | None = None, summary: ImportSummary | None = None) -> ImportSummary:
    """Import every conversation of the export at `path` (ZIP or JSON) from `source` (chatgpt|claude)."""
    if source not in SOURCES:
        raise ImportFailed(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
    path = Path(path)
    summary = summary if summary is not None else ImportSummary(source, path.name)
    convert = CONVERTERS[source]
    backed_up = False
    with ExportFile(path) as export:
        total = export.total_bytes
        ctx.progress(0, total, "Reading the export…")
        reported = time.monotonic()
        try:
            for position, conversation in export.conversations():
                ctx.check()
                try:
                    thread = convert(conversation, position)
                    del conversation  # the parsed JSON is no longer needed while the rows are written
                    if not backed_up:
                        _back_up_first(db, ctx)
                        backed_up = True
                    outcome = write_thread(db, thread, account_id, position)
                except ImportFailed as exc:
                    raise ImportFailed(f"{export.reader.part.name}: {exc}") from exc
                _count(summary, thread, outcome)
                if time.monotonic() - reported >= PROGRESS_EVERY:
                    ctx.progress(export.bytes_read(), total, summary.progress_text())
                    reported = time.monotonic()
        except ImportFailed as exc:
            raise ImportFailed(f"{exc}. {_kept(summary)}") from exc
        ctx.progress(total, total, summary.progress_text())
    return summary


def _count(summary: ImportSummary, thread, outcome) -> None:
    summary.conversations_read += 1
    summary.messages_added += outcome.added
    if outcome.status in (ADDED, UPDATED):  # what a re-import passes over again is not news
        summary.messages_skipped += thread.skipped + outcome.skipped
    summary.messages_truncated += outcome.truncated
    if outcome.status == ADDED:
        summary.threads_added += 1
    elif outcome.status == UPDATED:
        summary.threads_updated += 1
    elif outcome.status == UNCHANGED:
        summary.threads_unchanged += 1
    elif outcome.status in (DELETED_HERE, EMPTY):
        summary.threads_skipped += 1


def _kept(summary: ImportSummary) -> str:
    done = summary.conversations_read
    if not done:
        return "Nothing was imported"
    return (f"The {done:,} conversation{_s(done)} before it {'is' if done == 1 else 'are'} imported; once the "
            "file is fixed, importing it again adds only the rest")
