"""Pull: per table, keyset pages after the server's commit-ordered `updated_at` cursor.

`updated_at` is unique and commit-ordered per user on the server (supabase/migrations), so
`updated_at > cursor ORDER BY updated_at LIMIT 1000` never skips or repeats a row. The cursor is the
exact string the server returned (never reformatted, never compared with a local clock).

Pipelined: a `PageStream` fetches the next pages while this thread writes the current one. Rows and the
cursor after them always commit in the same SQLite transaction (change capture suppressed), so a crash
re-applies at most one transaction's rows and an echo of our own push never goes back out. A transaction
takes several pages — up to TX_ROWS rows or TX_SECONDS of holding the write lock, and never waits for
the network while it holds it longer than that — because each commit rewrites every index page the rows
touched: with random uuid keys that is most of the id index, so fewer commits write far less.
"""

from __future__ import annotations

import contextlib
import json
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy.exc

from local_schema import models
from sync import bulkload
from sync.dbutil import TableInfo, cyclic_gc_paused, table_info, write_tx
from sync.errors import Kind, RequestFailed, missing_function
from sync.pages import AdoptedRanges, PageStream, page_params
from sync.pull_rows import (
    DELETED_ELSEWHERE,
    RowWriter,
    cascade_children,
    newest_allowed,
    newest_for,
    prepare,
    problem,
    scan,
    stored_ids,
    too_far_ahead,
)
from sync.stamps import server_stamp

__all__ = ["DELETED_ELSEWHERE", "PAGE_SIZE", "ForeignKeyMiss", "PullResult", "Puller"]

PAGE_SIZE = 1000
ANNOUNCED_IDS = 5000  # ids listed per table for the change listeners; beyond, the table as a whole
TX_ROWS = 50_000
TX_SECONDS = 0.5  # the window waits for the write lock up to 5 s (busy timeout)
BOUNDS_RPC = "sync_page_bounds"  # supabase/migrations …200000_sync_page_bounds.sql
# Ranges of a big pull fetched at once. With the server on its own CPU (bench_sync --pin) five kept it
# busier than three (100,000-row first syncs at 75-76 % of the raw fetch instead of 70-72 %); sharing both
# cores with the server, no difference beyond the noise. On a real network each request also waits a round
# trip, which more requests in flight hide. Memory: at most depth + workers pages wait (sync.pages), ~12 MB
# more at the peak of a first sync than with three.
RANGE_WORKERS = 5


@dataclass
class PullResult:
    pulled: int = 0
    quarantined: int = 0
    parked: int = 0
    alerts: list[str] = field(default_factory=list)
    changed: dict[str, set[str]] = field(default_factory=dict)  # table -> ids of the rows applied
    changed_unknown: set[str] = field(default_factory=set)  # tables changed by cascades (ids not listed)

    def record(self, table: str, rows: list[str], tombstones: bool) -> None:
        """`rows`: the ids of the rows applied; `tombstones`: some of them were deletes."""
        if table not in self.changed_unknown:
            ids = self.changed.setdefault(table, set())
            ids.update(rows)
            if len(ids) > ANNOUNCED_IDS:  # a big pull: "the whole table changed", in constant memory
                self.changed_unknown.add(table)
                self.changed[table] = set()
        if tombstones:  # a tombstone's local cascade removed children too
            self.changed_unknown.update(child for child, _fk in cascade_children(table))


class ForeignKeyMiss(Exception):
    """A pulled child refers to a parent we have not pulled yet (it was committed after our parent pass)."""


class _Batch:
    """The open pull transaction of one table: pages are added (each in one statement or a savepoint, so a
    page that fails leaves no trace) until the transaction is big or old enough, then committed with the
    cursor after its last page."""

    def __init__(self, puller: Puller, info: TableInfo):
        self.puller, self.info = puller, info
        self.stack: contextlib.ExitStack | None = None
        self.conn = None
        self.aside: bulkload.TriggersAside | None = None
        self.started = 0.0
        self.rows = 0
        self.cursor: str | None = None  # after the last page added: written just before the commit
        # What this transaction stored (ids, any tombstone), reported once it commits. Not the rows
        # themselves: held until commit, 50,000 of them would be ~75 MB.
        self.pages: list[tuple[list[str], bool]] = []
        self.flags: dict = {}

    def remaining(self) -> float | None:
        """How long the next page may be waited for with the transaction open (None: no transaction)."""
        return None if self.conn is None else max(0.0, TX_SECONDS - (time.monotonic() - self.started))

    def next_page(self, stream: PageStream) -> list[dict]:
        """The stream's next page. While none is there yet, the set-aside triggers' work for the rows stored
        so far is done first (`TriggersAside.catch_up`): it has to be done before the commit anyway, and
        done now it is not left for the end of the pull, when nothing else runs beside it."""
        if self.aside is not None and not getattr(stream, "ready", lambda: True)():
            self.aside.catch_up()
        return stream.next_page(timeout=self.remaining())

    def full(self) -> bool:
        return self.conn is not None and (self.rows >= TX_ROWS or self.remaining() <= 0)

    def _open(self, first_sync: bool, big: bool) -> None:
        self.stack = contextlib.ExitStack()
        self.conn = conn = self.stack.enter_context(self.puller.remote_tx())
        self.started = time.monotonic()
        table = self.info.name
        # Only this transaction writes until it commits: what these say stays true for all of its pages.
        self.flags = {"maybe_dirty": RowWriter.has_outbox(conn, table),
                      "maybe_quarantined": RowWriter.quarantined(conn, table)}
        self.aside = bulkload.TriggersAside(conn, table, first_sync=first_sync) if first_sync or big else None

    def add(self, rows: list[dict], cursor: str, first_sync: bool, defer_indexes: bool = False) -> None:
        """Store `rows` (a page; may be empty) in this transaction; `cursor` goes with them. A page that fails
        is undone whole (its savepoint) and the cursor stays after the page before it."""
        if self.conn is None:
            self._open(first_sync, len(rows) >= bulkload.MIN_BATCH)
        conn = self.conn
        if defer_indexes:
            bulkload.defer_indexes(conn, self.info.name)
        if rows:
            writer = self.puller.writer
            if not writer.insert_new(conn, self.info, rows, aside=self.aside, **self.flags):
                conn.exec_driver_sql("SAVEPOINT pull_page")
                try:
                    writer.write(conn, self.info, rows, aside=self.aside, **self.flags)
                except sqlalchemy.exc.IntegrityError as exc:
                    conn.exec_driver_sql("ROLLBACK TO pull_page")
                    conn.exec_driver_sql("RELEASE pull_page")
                    if "FOREIGN KEY" in str(exc):
                        raise ForeignKeyMiss(str(exc)) from exc
                    raise
                conn.exec_driver_sql("RELEASE pull_page")
            self.rows += len(rows)
            self.pages.append(stored_ids(rows))
        self.cursor = cursor

    def commit(self) -> None:
        if self.stack is None:
            return
        if self.cursor is not None:
            set_cursor(self.conn, self.info.name, self.cursor)  # the rows and the cursor after them: one commit
        if self.aside is not None:
            self.aside.restore()
        stack, pages = self.stack, self.pages
        self.stack, self.conn, self.aside, self.rows, self.pages, self.cursor = None, None, None, 0, [], None
        stack.close()
        for ids, tombstones in pages:
            self.puller.committed(self.info.name, ids, tombstones)

    def rollback(self) -> None:
        if self.stack is not None:
            stack, self.stack, self.conn, self.aside, self.rows, self.pages = self.stack, None, None, None, 0, []
            self.cursor = None
            with contextlib.suppress(Exception):
                stack.__exit__(RuntimeError, RuntimeError("pull aborted"), None)


def set_cursor(conn, table: str, cursor: str) -> None:
    conn.exec_driver_sql("INSERT INTO sync_cursors (table_name, cursor) VALUES (?, ?) "
                         "ON CONFLICT(table_name) DO UPDATE SET cursor = excluded.cursor", (table, cursor))


class Puller:
    def __init__(self, db, rest, user_id: str, remote_tx: Callable, alert: Callable[[str], None],
                 page_size: int | None = None, progress: Callable[[str, int], None] = lambda *_: None,
                 adopted: AdoptedRanges | None = None, heads: dict[str, str | None] | None = None):
        """`heads`: the server's newest stamp per table as this cycle read it (sync.heads), which bounds
        the stamps a page may carry (`newest_allowed`); None when the server could not say."""
        self.db, self.rest, self.user_id, self.progress = db, rest, user_id, progress
        self.heads = heads or {}
        self.remote_tx, self.alert, self.page_size = remote_tx, alert, page_size or PAGE_SIZE
        self.adopted = adopted if adopted is not None else AdoptedRanges()
        self.writer = RowWriter()
        self.result = PullResult()
        self.paused: dict[str, str] = {}  # table -> why the server refused it (update required)
        self.bounds_supported = True

    # -- public ------------------------------------------------------------------------------------------
    def pull_all(self, tables: tuple[str, ...], skip: set[str]) -> PullResult:
        with cyclic_gc_paused():
            return self._pull_all(tuple(t for t in tables if t not in skip))

    def _pull_all(self, tables: tuple[str, ...]) -> PullResult:
        # Every table's stream starts at once (its first pages arrive in parallel); pages are still written
        # table by table, parents first.
        streams = {t: self._stream(t, self._cursor(t)) for t in tables}
        done: list[str] = []
        try:
            for table in tables:
                try:
                    self.pull_table(table, stream=streams.pop(table))
                except RequestFailed as exc:
                    if exc.kind is not Kind.SCHEMA:
                        raise
                    self.paused[table] = f"{exc.code}: {exc.message}"  # the other tables go on
                    continue
                except ForeignKeyMiss:
                    # A parent committed after we pulled its table: catch the parents up, then retry once.
                    for parent in done:
                        self.pull_table(parent)
                    self.pull_table(table, fk_retry=False)
                done.append(table)
        finally:
            for stream in streams.values():
                stream.close()
            self.result.parked += self.writer.parked
            self.writer.parked = 0
        return self.result  # a first sync's indexes and search backlog: the engine's upkeep (bulkload.finish)

    def pull_table(self, table: str, fk_retry: bool = True, stream: PageStream | None = None) -> None:
        cursor = self._cursor(table)
        stream = stream if stream is not None else self._stream(table, cursor)
        try:
            self._pull_pages(table_info(table), cursor, stream, fk_retry)
        finally:
            stream.close()

    def committed(self, table: str, ids: list[str], tombstones: bool) -> None:
        if ids:
            self.result.pulled += len(ids)
            self.result.record(table, ids, tombstones)
            self.progress("pull", self.result.pulled)

    # -- the page loop ----------------------------------------------------------------------------------
    def _pull_pages(self, info: TableInfo, cursor: str | None, stream: PageStream, fk_retry: bool) -> None:
        batch = _Batch(self, info)
        first_sync, deferred = False, False
        try:
            while True:
                try:
                    rows = batch.next_page(stream)
                except queue.Empty:
                    batch.commit()  # never hold the write lock while waiting for the network
                    continue
                except Exception:
                    batch.commit()  # what arrived before the failure is complete: keep it
                    raise
                if cursor is None and not deferred and len(rows) == self.page_size:
                    first_sync = True  # a big first pull of this table: bulk mode (see bulkload)
                bad = scan(info, rows, cursor, self.user_id)
                good = rows if bad is None else rows[:bad]
                last = bad is not None or (len(rows) < self.page_size if getattr(rows, "last", None) is None
                                           else rows.last)
                new_cursor = good[-1]["updated_at"] if good else cursor
                if last and bad is None:
                    new_cursor = self._past_adopted(info.name, new_cursor)
                if new_cursor is not None and (good or new_cursor != cursor):
                    try:
                        batch.add(good, new_cursor, first_sync, defer_indexes=first_sync and not deferred)
                        deferred = deferred or first_sync
                    except (ForeignKeyMiss, sqlalchemy.exc.IntegrityError) as exc:
                        batch.commit()
                        if isinstance(exc, ForeignKeyMiss) and fk_retry:
                            raise
                        good, bad, reason = self._commit_until_failure(info, good, bad)
                        if bad is not None:
                            self._quarantine(info.name, rows[bad], self._why(info, rows, bad, reason))
                            return
                        if new_cursor != good[-1]["updated_at"]:
                            self._commit_rows(info, [], new_cursor)  # the adopted rows after the page
                if bad is not None:
                    batch.commit()
                    self._quarantine(info.name, rows[bad], self._why(info, rows, bad))
                    return
                cursor = new_cursor
                if last:
                    batch.commit()
                    return
                if batch.full():
                    batch.commit()
        except BaseException:
            batch.rollback()
            raise

    def _why(self, info: TableInfo, rows: list[dict], bad: int, reason: str | None = None) -> str:
        return (problem(info, rows[bad], self.user_id) or too_far_ahead(rows[bad], newest_for(rows))
                or reason or "violates a local constraint")

    def _past_adopted(self, table: str, cursor: str | None) -> str | None:
        """At the end of a table, the cursor may pass the rows the push adopted: the pull left them out
        (`AdoptedRanges`), and no other row lies after the last one it returned."""
        newest = self.adopted.newest(table)
        if newest is None or (cursor is not None and server_stamp(newest) <= server_stamp(cursor)):
            return cursor
        return newest

    # -- helpers ----------------------------------------------------------------------------------------
    def _stream(self, table: str, cursor: str | None) -> PageStream:
        return PageStream(table, lambda c, upto=None: self._fetch(table, c, upto), cursor, self.page_size,
                          bounds=lambda after: self._bounds(table, after), workers=RANGE_WORKERS)

    def _fetch(self, table: str, cursor: str | None, upto: str | None = None) -> list[dict]:
        info = table_info(table)
        rows = self.rest.select(table, page_params(info.columns, info.owner, self.user_id, cursor, self.page_size,
                                                   self.adopted.after(table, cursor), upto))
        if hasattr(rows, "__dict__"):  # sync.rest.Rows (a test's plain list carries nothing)
            rows.newest_allowed = newest_allowed(getattr(rows, "server_date", None), self.heads.get(table))
        prepare(info, rows, cursor, self.user_id)  # on this (fetching) thread, not the writer's
        return rows

    def _bounds(self, table: str, after: str | None) -> list[str] | None:
        """The server's page bounds after `after` (see sync.pages), or None: the pages are then asked for
        one after another, as from a server without the function. Only a shortcut: nothing it returns is
        stored, and a range is read to its end whatever it says."""
        if not self.bounds_supported:
            return None
        try:
            found = self.rest.rpc(BOUNDS_RPC, {"tbl": table, "after_stamp": after, "page_rows": self.page_size})
        except RequestFailed as exc:
            if missing_function(exc):
                self.bounds_supported = False  # an older server: not asked again this cycle
            return None
        if not found or not isinstance(found, list) or not all(isinstance(s, str) for s in found):
            return None
        try:
            stamps = [server_stamp(s) for s in ([after] if after is not None else []) + found]
        except ValueError:
            return None
        # Every bound after the cursor, each after the one before.
        return found if all(a < b for a, b in zip(stamps, stamps[1:], strict=False)) else None

    def _cursor(self, table: str) -> str | None:
        with self.db.engine.connect() as conn:
            row = conn.exec_driver_sql("SELECT cursor FROM sync_cursors WHERE table_name = ?", (table,)).fetchone()
        return row[0] if row else None

    def _commit_rows(self, info: TableInfo, rows: list[dict], cursor: str | None = None) -> None:
        try:
            with self.remote_tx() as conn:
                if rows:
                    self.writer.write(conn, info, rows)
                set_cursor(conn, info.name, cursor or rows[-1]["updated_at"])
        except sqlalchemy.exc.IntegrityError as exc:
            if "FOREIGN KEY" in str(exc):
                raise ForeignKeyMiss(str(exc)) from exc
            raise
        self.committed(info.name, [r["id"] for r in rows], any(r.get("deleted_at") for r in rows))

    def _commit_until_failure(self, info: TableInfo, rows: list[dict], bad_index: int | None):
        """Row by row (one transaction each): apply everything before the first row that cannot be applied.
        A child of a parent deleted here (tombstone not pushed yet, or parked) is passed over: its parent's
        delete wins, and it would otherwise halt the table."""
        for i, row in enumerate(rows):
            try:
                self._commit_rows(info, [row])
            except (ForeignKeyMiss, sqlalchemy.exc.IntegrityError) as exc:
                if isinstance(exc, ForeignKeyMiss) and self._parent_deleted_here(info, row):
                    self._commit_rows(info, [], row["updated_at"])
                    continue
                return rows[:i], i, f"violates a local constraint: {exc}"
        return rows, bad_index, None

    def _parent_deleted_here(self, info: TableInfo, row: dict) -> bool:
        with self.db.engine.connect() as conn:
            for fk in models.MODELS_BY_TABLE[info.name].__table__.foreign_keys:
                parent_id = row.get(fk.parent.name)
                if parent_id and conn.exec_driver_sql(
                        "SELECT 1 FROM sync_outbox WHERE table_name = ? AND row_id = ? AND kind = 'delete'",
                        (fk.column.table.name, parent_id)).fetchone():
                    return True
        return False

    def _quarantine(self, table: str, row, reason: str) -> None:
        payload = json.dumps(row, default=str, sort_keys=True)
        row_id = row.get("id") if isinstance(row, dict) else None
        with write_tx(self.db) as conn:
            seen = conn.exec_driver_sql(
                "SELECT 1 FROM sync_quarantine WHERE table_name = ? AND payload = ?", (table, payload)).fetchone()
            if not seen:
                conn.exec_driver_sql(
                    "INSERT INTO sync_quarantine (table_name, row_id, payload, error) VALUES (?, ?, ?, ?)",
                    (table, row_id, payload, reason))
        self.result.quarantined += 1
        message = f"{table} row {row_id or '?'} cannot be stored locally ({reason}); pull of {table} halted before it"
        self.result.alerts.append(message)
        self.alert(message)

