"""Pull: per table, keyset pages after the server's commit-ordered `updated_at` cursor.

`updated_at` is unique and commit-ordered per user on the server (supabase/migrations), so
`updated_at > cursor ORDER BY updated_at LIMIT 1000` never skips or repeats a row. The cursor is the
exact string the server returned (never reformatted, never compared with a local clock). Each page and
its cursor are committed in one SQLite transaction with change capture suppressed, so a crash re-applies
at most one page and an echo of our own push never goes back out.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from local_schema import models
from local_schema.timestamps import parse_timestamp
from sync import bulkload
from sync.dbutil import TableInfo, quote, table_info, write_tx
from sync.errors import Kind, RequestFailed
from sync.outbox import NetOp, park

PAGE_SIZE = 1000
DELETED_ELSEWHERE = "deleted on another device"
# A row stamped further than this past the server's own clock (its Date header) is not believed: taking
# it as the cursor would skip every row written until then (a broken endpoint or proxy, not PostgREST).
FUTURE_SLACK = timedelta(days=1)


@dataclass
class PullResult:
    pulled: int = 0
    quarantined: int = 0
    parked: int = 0
    alerts: list[str] = field(default_factory=list)
    changed: dict[str, set[str]] = field(default_factory=dict)  # table -> ids of the rows applied
    changed_unknown: set[str] = field(default_factory=set)  # tables changed by cascades (ids not listed)

    def record(self, table: str, ids) -> None:
        self.changed.setdefault(table, set()).update(ids)


def server_stamp(value) -> datetime:
    """Parse a server timestamp (fast path for PostgREST's own rendering); ValueError if it is not one."""
    if isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value)
            if stamp.tzinfo is not None:
                return stamp
        except ValueError:
            pass
    return parse_timestamp(value)


def cascade_children(table: str) -> list[tuple[str, str]]:
    """(child table, fk column) pairs whose rows a local DELETE of `table` rows removes (ON DELETE CASCADE)."""
    found = []
    for child in models.SYNCED_MODELS:
        for fk in child.__table__.foreign_keys:
            if fk.column.table.name == table and (fk.ondelete or "").upper() == "CASCADE":
                found.append((child.__tablename__, fk.parent.name))
    return found


def _too_far_ahead(row, server_date: datetime | None) -> str | None:
    """Why `row`'s updated_at cannot become the cursor (stamped > FUTURE_SLACK after the reply's Date)."""
    if server_date is None or not isinstance(row, dict):
        return None
    try:
        stamp = server_stamp(row.get("updated_at"))
    except ValueError:
        return None
    if stamp <= server_date + FUTURE_SLACK:
        return None
    return (f"updated_at {row['updated_at']} lies more than a day after the server's own time "
            f"({server_date.isoformat()}); taking it as the cursor would skip every row written until then")


class ForeignKeyMiss(Exception):
    """A pulled child refers to a parent we have not pulled yet (it was committed after our parent pass)."""


def _upsert_sql(info: TableInfo) -> str:
    cols = ", ".join(quote(c) for c in info.columns)
    marks = ", ".join("?" * len(info.columns))
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in info.columns if c != "id")
    return f"INSERT INTO {quote(info.name)} ({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {updates}"


def _problem(info: TableInfo, row, user_id: str, check_stamp: bool = True) -> str | None:
    """Why a server row cannot be stored locally, or None. Checked before anything is written."""
    if not isinstance(row, dict):
        return "row is not a JSON object"
    if not isinstance(row.get("id"), str) or not row["id"]:
        return "row has no id"
    if check_stamp:
        try:
            server_stamp(row.get("updated_at"))
        except ValueError as exc:
            return f"bad updated_at: {exc}"
    if row.get(info.owner) != user_id:
        return f"row belongs to {row.get(info.owner)!r}, not the signed-in user"
    if row.get("deleted_at") is None:
        try:
            complete = None not in info.required_values(row)  # C speed: this runs for every pulled row
        except KeyError:
            complete = False
        missing = [] if complete else sorted(c for c in info.required if row.get(c) is None)
        if missing:
            return f"missing required columns {missing}"
        for col in info.json_cols:
            if col in info.required and not isinstance(row.get(col), dict | list):
                return f"column {col} is not JSON"
    return None


class Puller:
    def __init__(self, db, rest, user_id: str, remote_tx: Callable, alert: Callable[[str], None],
                 page_size: int = PAGE_SIZE, progress: Callable[[str, int], None] = lambda *_: None):
        self.db, self.rest, self.user_id, self.progress = db, rest, user_id, progress
        self.remote_tx, self.alert, self.page_size = remote_tx, alert, page_size
        self.result = PullResult()
        self.paused: dict[str, str] = {}  # table -> why the server refused it (update required)
        self._index_trigger: str | None = None  # set while a first sync skips the search index trigger

    # -- public ------------------------------------------------------------------------------------------
    def pull_all(self, tables: tuple[str, ...], skip: set[str]) -> PullResult:
        tables = tuple(t for t in tables if t not in skip)
        done: list[str] = []
        with write_tx(self.db) as conn:  # a first sync cut short last time: finish its search index now
            bulkload.rebuild_if_needed(conn)
        # The first page of every table is requested at once (an idle sync is one round of requests in
        # parallel); pages are still applied table by table, parents first.
        with ThreadPoolExecutor(max_workers=len(tables) or 1, thread_name_prefix="mirari-pull") as pool:
            self._pool = pool
            first = {t: pool.submit(self._fetch, t, self._cursor(t)) for t in tables}
            for table in tables:
                try:
                    self.pull_table(table, first_page=first[table])
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
        return self.result

    def pull_table(self, table: str, fk_retry: bool = True, first_page: Future | None = None) -> None:
        info = table_info(table)
        cursor = self._cursor(table)
        page = first_page if first_page is not None else self._pool.submit(self._fetch, table, cursor)
        self._index_trigger = None
        if cursor is None:
            with self.db.engine.connect() as conn:
                self._index_trigger = bulkload.deferrable(conn, table)
        try:
            self._pull_pages(info, cursor, page, fk_retry)
        finally:
            if self._index_trigger is not None:
                self._index_trigger = None
                with write_tx(self.db) as conn:
                    bulkload.rebuild_if_needed(conn)

    def _pull_pages(self, info: TableInfo, cursor: str | None, page: Future, fk_retry: bool) -> None:
        table = info.name
        while True:
            rows = page.result()
            if not rows:
                return
            bad_index = self._scan(info, rows, cursor)
            full = len(rows) == self.page_size and bad_index is None
            # Fetch the next page while this one is written (network and SQLite overlap).
            page = self._pool.submit(self._fetch, table, rows[-1]["updated_at"]) if full else None
            try:
                halted = self._apply_page(info, rows, bad_index, fk_retry)
            except BaseException:
                if page is not None:
                    page.cancel()
                    with contextlib.suppress(Exception):
                        page.result()
                raise
            if halted or page is None:
                if page is not None:
                    with contextlib.suppress(Exception):
                        page.result()
                return
            cursor = rows[-1]["updated_at"]

    # -- helpers ----------------------------------------------------------------------------------------
    def _fetch(self, table: str, cursor: str | None) -> list[dict]:
        info = table_info(table)
        params = {"select": ",".join(info.columns), info.owner: f"eq.{self.user_id}", "order": "updated_at.asc",
                  "limit": str(self.page_size)}
        if cursor is not None:
            params["updated_at"] = f"gt.{cursor}"
        return self.rest.select(table, params)

    def _cursor(self, table: str) -> str | None:
        with self.db.engine.connect() as conn:
            row = conn.exec_driver_sql("SELECT cursor FROM sync_cursors WHERE table_name = ?", (table,)).fetchone()
        return row[0] if row else None

    def _scan(self, info: TableInfo, rows: list[dict], cursor: str | None) -> int | None:
        """Index of the first row we cannot store (or None). Raises if the page does not move forward:
        looping on it forever would be the alternative (RxDB#5882)."""
        previous = server_stamp(cursor) if cursor else None
        server_date = getattr(rows, "server_date", None)
        latest = server_date + FUTURE_SLACK if server_date is not None else None
        for i, row in enumerate(rows):
            try:
                stamp = server_stamp(row.get("updated_at")) if isinstance(row, dict) else None
            except ValueError:
                return i
            if stamp is None or _problem(info, row, self.user_id, check_stamp=False):
                return i
            if latest is not None and stamp > latest:
                return i  # quarantined, and the cursor stays before it
            if previous is not None and stamp <= previous:
                raise RequestFailed(Kind.MALFORMED, 200, None,
                                    f"pull of {info.name} made no progress: the server returned updated_at "
                                    f"{row['updated_at']}, not after {cursor if i == 0 else rows[i - 1]['updated_at']}")
            previous = stamp
        return None

    def _apply_page(self, info: TableInfo, rows: list[dict], bad_index: int | None, fk_retry: bool) -> bool:
        """Apply valid rows up to the first bad one; cursor = last applied row. True if halted."""
        import sqlalchemy.exc

        good = rows if bad_index is None else rows[:bad_index]
        reason = None
        try:
            self._commit_rows(info, good)
        except ForeignKeyMiss:
            if fk_retry:
                raise
            good, bad_index, reason = self._commit_until_failure(info, good, bad_index)
        except sqlalchemy.exc.IntegrityError:
            good, bad_index, reason = self._commit_until_failure(info, good, bad_index)
        if bad_index is not None:
            bad = rows[bad_index] if bad_index < len(rows) else None
            reason = (_problem(info, bad, self.user_id) or _too_far_ahead(bad, getattr(rows, "server_date", None))
                      or reason or "violates a local constraint")
            self._quarantine(info.name, bad, reason)
            return True
        return False

    def _commit_until_failure(self, info: TableInfo, rows: list[dict], bad_index: int | None):
        """Row by row (one transaction each): apply everything before the first row that cannot be applied.
        A child of a parent deleted here (tombstone not pushed yet, or parked) is passed over: its parent's
        delete wins, and it would otherwise halt the table."""
        import sqlalchemy.exc

        for i, row in enumerate(rows):
            try:
                self._commit_rows(info, [row])
            except (ForeignKeyMiss, sqlalchemy.exc.IntegrityError) as exc:
                if isinstance(exc, ForeignKeyMiss) and self._parent_deleted_here(info, row):
                    with self.remote_tx() as conn:
                        self._set_cursor(conn, info.name, row["updated_at"])
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

    @staticmethod
    def _set_cursor(conn, table: str, cursor: str) -> None:
        conn.exec_driver_sql("INSERT INTO sync_cursors (table_name, cursor) VALUES (?, ?) "
                             "ON CONFLICT(table_name) DO UPDATE SET cursor = excluded.cursor", (table, cursor))

    def _commit_rows(self, info: TableInfo, rows: list[dict]) -> None:
        if not rows:
            return
        import sqlalchemy.exc

        try:
            with self.remote_tx() as conn:
                if self._index_trigger is not None:
                    bulkload.write_without_index(conn, info.name, self._index_trigger,
                                                 lambda: self._write(conn, info, rows))
                else:
                    self._write(conn, info, rows)
                self._set_cursor(conn, info.name, rows[-1]["updated_at"])
        except sqlalchemy.exc.IntegrityError as exc:
            if "FOREIGN KEY" in str(exc):
                raise ForeignKeyMiss(str(exc)) from exc
            raise
        self.result.pulled += len(rows)
        self.result.record(info.name, (r["id"] for r in rows))
        if any(r.get("deleted_at") for r in rows):  # a tombstone's local cascade removed children too
            self.result.changed_unknown.update(child for child, _fk in cascade_children(info.name))
        self.progress("pull", self.result.pulled)

    def _write(self, conn, info: TableInfo, rows: list[dict]) -> None:
        # Within a page the last version of an id wins, and a tombstone beats an upsert (WatermelonDB#1462).
        latest: dict[str, dict] = {}
        for row in rows:
            prev = latest.get(row["id"])
            if prev is not None and prev.get("deleted_at") and not row.get("deleted_at"):
                continue
            latest[row["id"]] = row
        dirty = self._dirty(conn, info.name, list(latest))
        tombstones = [r for r in latest.values() if r.get("deleted_at")]
        live = [r for r in latest.values() if not r.get("deleted_at")]
        upserts = []
        for row in live:
            ops = dirty.get(row["id"])
            if ops and ops[-1][0] == "delete":
                continue  # deleted here, tombstone not pushed yet: an echo must not bring it back
            upserts.append(info.encode(self._rebase(conn, info, row, ops) if ops else row))
        if upserts:
            conn.exec_driver_sql(_upsert_sql(info), upserts)
        if tombstones:
            self._delete(conn, info, [r["id"] for r in tombstones])
        if conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM sync_quarantine WHERE table_name = ?)",
                                (info.name,)).scalar():
            # A row quarantined earlier (e.g. a bad reply, or its parent not here yet) is stored now.
            marks = ",".join("?" * len(latest))
            conn.exec_driver_sql(f"DELETE FROM sync_quarantine WHERE table_name = ? AND row_id IN ({marks})",
                                 (info.name, *latest))

    @staticmethod
    def _dirty(conn, table: str, ids: list[str]) -> dict[str, list[tuple]]:
        if not conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM sync_outbox WHERE table_name = ?)",
                                    (table,)).scalar():
            return {}
        marks = ",".join("?" * len(ids))
        found: dict[str, list[tuple]] = {}
        for row_id, kind, changed in conn.exec_driver_sql(
                f"SELECT row_id, kind, changed_columns FROM sync_outbox WHERE table_name = ? AND row_id IN ({marks})"
                " ORDER BY op_seq", (table, *ids)):
            found.setdefault(row_id, []).append((kind, changed))
        return found

    @staticmethod
    def _rebase(conn, info: TableInfo, server_row: dict, ops: list[tuple]) -> dict:
        """Server row + the columns changed locally and not yet pushed: the row stays dirty."""
        if any(kind == "insert" for kind, _ in ops):
            keep = set(info.client) - {"id"}
        else:
            keep = set()
            for _, changed in ops:
                keep.update(json.loads(changed or "[]"))
        keep &= set(info.columns) - {"id", "created_at", "updated_at", info.owner}
        if not keep:
            return server_row
        cols = sorted(keep)
        local = conn.exec_driver_sql(
            f"SELECT {', '.join(quote(c) for c in cols)} FROM {quote(info.name)} WHERE id = ?",
            (server_row["id"],)).fetchone()
        if local is None:
            return server_row
        merged = dict(server_row)
        for col, value in zip(cols, local, strict=True):
            if col in info.json_cols and isinstance(value, str):
                value = json.loads(value)
            elif col in info.bool_cols and value is not None:
                value = bool(value)
            merged[col] = value
        return merged

    def _delete(self, conn, info: TableInfo, ids: list[str]) -> None:
        """Deletes win. Pending edits to a row deleted elsewhere (or to a child the delete cascades to) are
        parked with a snapshot of the local row, so nothing disappears without a trace."""
        marks = ",".join("?" * len(ids))
        victims: dict[tuple[str, str], dict] = {}
        dirty_sql = "SELECT row_id FROM sync_outbox WHERE table_name = ? AND kind <> 'delete'"
        for table, where in [(info.name, "id")] + cascade_children(info.name):
            for row in conn.exec_driver_sql(
                    f"SELECT * FROM {quote(table)} WHERE {quote(where)} IN ({marks}) AND id IN ({dirty_sql})",
                    (*ids, table)).mappings():
                victims[(table, row["id"])] = dict(row)
        conn.exec_driver_sql(f"DELETE FROM {quote(info.name)} WHERE id IN ({marks})", tuple(ids))
        for (table, row_id), snapshot in victims.items():
            ops = conn.exec_driver_sql(
                "SELECT op_seq, kind, changed_columns FROM sync_outbox WHERE table_name = ? AND row_id = ? "
                "AND kind <> 'delete' ORDER BY op_seq", (table, row_id)).fetchall()
            if not ops:
                continue
            columns = set()
            for _, _, changed in ops:
                columns.update(json.loads(changed or "[]"))
            op = NetOp(table, row_id, ops[0][1], [o[0] for o in ops], columns)
            park(conn, op, None, DELETED_ELSEWHERE, json.dumps({"snapshot": snapshot}, default=str))
            self.result.parked += 1
        # Deletes queued for the rows we just removed are satisfied by the server's tombstone.
        conn.exec_driver_sql(
            f"DELETE FROM sync_outbox WHERE table_name = ? AND kind = 'delete' AND row_id IN ({marks})",
            (info.name, *ids))

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
