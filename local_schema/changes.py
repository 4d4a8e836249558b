"""What a write changed, and who collects it: the one source of "which tables changed".

`LocalDatabase.write()` learns every table its transaction wrote (see `local_schema/write_tracking.py`)
and, after the commit, both tells the database's change listeners and records the tables here, in the
collector of the current operation, if one is open:

    with changes.collect() as collected:
        do_the_work(db)            # any number of write() blocks, on this thread
    announce(collected.changes())  # once, when the operation ends (also after a failure)

A collector lives in a `contextvars.ContextVar`, so it belongs to the thread (or task) that opened it:
writes made on other threads are not collected here (they are still heard by the change listeners).
Collectors nest: what an inner one collected is also the outer one's when the inner block ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["INTERNAL", "ChangedTables", "Collector", "collect", "collecting", "current", "is_internal", "record"]

# Bookkeeping tables written by triggers and by sync: never announced (nobody shows them as data).
# memory_dedup_keys: the Atlas's duplicate index, kept by triggers on memory_nodes (local migration v10);
# attachment_uploads / attachment_removals: the attachment transfer queues, like the outbox (v13).
INTERNAL = frozenset({"sync_outbox", "sync_meta", "sync_parked", "sync_quarantine", "sync_cursors",
                      "message_counts", "messages_fts_backlog", "memory_dedup_keys",
                      "attachment_uploads", "attachment_removals"})


def is_internal(table: str) -> bool:
    """True for the bookkeeping tables above, for search indexes — an FTS5 table `<name>_fts` and the
    shadow tables FTS5 keeps it in, `<name>_fts_data`, `_idx`, … — and for SQLite's own (sqlite_*)."""
    return table in INTERNAL or table.startswith("sqlite_") or table.endswith("_fts") or "_fts_" in table


class ChangedTables(frozenset):
    """The tables a write touched (a frozenset of names), with the row ids where the writer knows them.

    `rows` maps a table to the ids of the rows written; a table absent from `rows` changed in ways not
    listed row by row (treat every row of it as possibly changed). A sync cycle fills `rows`, so an open
    transcript can tell whether the rows that landed concern it. `origin` is "local" for the app's own
    writes, "sync" for rows a sync cycle applied.
    """

    rows: Mapping[str, frozenset[str]]
    origin: str

    def __new__(cls, tables: Iterable[str] = (), rows: Mapping[str, Iterable[str]] | None = None,
                origin: str = "local"):
        self = super().__new__(cls, tables)
        self.rows = {t: frozenset(ids) for t, ids in (rows or {}).items()}
        self.origin = origin
        return self

    def ids(self, table: str) -> frozenset[str] | None:
        """The ids written in `table`, or None when unknown (or the table was not written)."""
        return self.rows.get(table)


class Collector:
    """The tables written while it was open (on its thread). Read it with `changes()`."""

    def __init__(self) -> None:
        self._tables: set[str] = set()
        self._fresh: set[str] = set()  # written since the last `take_fresh()`

    def add(self, tables: Iterable[str]) -> None:
        self._tables.update(tables)
        self._fresh.update(tables)

    def changes(self) -> ChangedTables:
        """Every table written while the collector was open."""
        return ChangedTables(self._tables)

    def take_fresh(self) -> ChangedTables:
        """The tables written since the last call (all of them the first time): for work that announces
        what it wrote as it goes (a long job at each progress report), then the rest when it ends."""
        fresh, self._fresh = self._fresh, set()
        return ChangedTables(fresh)

    def __bool__(self) -> bool:
        return bool(self._tables)

    def __repr__(self) -> str:
        return f"Collector({sorted(self._tables)})"


_current: ContextVar[Collector | None] = ContextVar("mirari_changes", default=None)


@contextmanager
def collect() -> Iterator[Collector]:
    """Collect the tables written inside the block (on this thread). Nested: the outer one gets them too,
    also when the block ends with an exception (what was committed stays committed)."""
    collector = Collector()
    outer = _current.get()
    token = _current.set(collector)
    try:
        yield collector
    finally:
        _current.reset(token)
        if outer is not None:
            outer.add(collector._tables)


def collecting() -> bool:
    """Is an operation collecting what this thread writes? (Then it announces it itself when it ends.)"""
    return _current.get() is not None


def current() -> Collector | None:
    """The innermost collector open on this thread, if any."""
    return _current.get()


def record(tables: Iterable[str]) -> None:
    """Add committed `tables` to the current collector, if any (LocalDatabase.write() calls this)."""
    collector = _current.get()
    if collector is not None:
        collector.add(tables)
