"""Checking and storing server rows: the per-row half of pull, also used by push to adopt what it wrote.

Everything here runs for every pulled row, so the common case (a clean page of live rows nobody edited
here) goes through C-level helpers (`map`, `itemgetter`, one executemany) and the careful per-row path
runs only when that fast check finds something to look at.
"""

from __future__ import annotations

import contextlib
import json
import operator
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import chain, islice, repeat

import sqlalchemy.exc

from local_schema import models
from sync.dbutil import TableInfo, quote
from sync.errors import Kind, RequestFailed
from sync.outbox import NetOp, park
from sync.stamps import server_stamp

DELETED_ELSEWHERE = "deleted on another device"
# A row stamped further than this past the server's own clock (its Date header) or past the table's head
# that this cycle read (sync_heads) is not believed: taking it as the cursor would skip every row written
# until then (a broken endpoint or proxy, not PostgREST).
FUTURE_SLACK = timedelta(days=1)
_LAST_STAMP = datetime.max.replace(tzinfo=UTC)

_get_id = operator.itemgetter("id")
_get_stamp = operator.itemgetter("updated_at")
_get_tzinfo = operator.attrgetter("tzinfo")
_get_deleted = operator.methodcaller("get", "deleted_at")
_first = operator.itemgetter(0)  # the id: first of TableInfo.columns


def cascade_children(table: str) -> list[tuple[str, str]]:
    """(child table, fk column) pairs whose rows a local DELETE of `table` rows removes (ON DELETE CASCADE)."""
    found = []
    for child in models.SYNCED_MODELS:
        for fk in child.__table__.foreign_keys:
            if fk.column.table.name == table and (fk.ondelete or "").upper() == "CASCADE":
                found.append((child.__tablename__, fk.parent.name))
    return found


@cache
def insert_sql(info: TableInfo, conflict: str = "", rows: int = 1, nulls: tuple[int, ...] = ()) -> str:
    """A multi-row INSERT of `rows` rows; the columns at positions `nulls` are the literal NULL (no parameter)."""
    one = f"({', '.join('NULL' if i in nulls else '?' for i in range(len(info.columns)))})"
    return (f"INSERT {conflict + ' ' if conflict else ''}INTO {quote(info.name)} "
            f"({', '.join(quote(c) for c in info.columns)}) VALUES {', '.join([one] * rows)}")


MAX_PARAMS = 32_000  # SQLite allows 32,766 bound parameters a statement (since 3.32)


def insert_statements(info: TableInfo, values: list[tuple], conflict: str = "",
                      columns: list[tuple] | None = None) -> list[tuple[str, tuple]]:
    """The (SQL, parameters) of as few multi-row INSERT statements as the parameter limit allows. Not
    `executemany`: that takes Python's GIL back after every row, so the writer waits on the page
    fetcher's threads up to 1,000 times a page; one statement binds in one go and SQLite inserts the whole
    chunk with the GIL released. A column NULL in every row of a chunk (most of a message's optional
    columns) is the literal NULL: sqlite3 binds None through its adapter lookup, with the GIL held
    (docs/sync.md, "Why it is built this way"). Pure: the fetching threads build these for the writer.
    `columns`: the values by column (`zip(*values)`) if the caller has them."""
    per = max(1, min(len(values), MAX_PARAMS // len(info.columns)))
    statements = []
    for start in range(0, len(values), per):
        chunk = values[start:start + per]
        if columns is None or len(chunk) != len(values):
            columns = list(zip(*chunk, strict=True))
        all_null = (None,) * len(chunk)  # tuple equality stops at the first value that differs
        nulls = tuple(i for i, column in enumerate(columns) if column == all_null)
        if nulls:
            kept = [column for i, column in enumerate(columns) if i not in nulls]
            params = tuple(chain.from_iterable(zip(*kept, strict=True))) if kept else ()
        else:
            params = tuple(chain.from_iterable(chunk))
        statements.append((insert_sql(info, conflict, len(chunk), nulls), params))
    return statements


def insert_many(conn, info: TableInfo, values: list[tuple], conflict: str = "") -> int:
    """Insert `values` (see `insert_statements`); returns the rows inserted."""
    return sum(conn.exec_driver_sql(sql, params).rowcount
               for sql, params in insert_statements(info, values, conflict))


def upsert_sql(info: TableInfo) -> str:
    cols = ", ".join(quote(c) for c in info.columns)
    marks = ", ".join("?" * len(info.columns))
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in info.columns if c != "id")
    return f"INSERT INTO {quote(info.name)} ({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {updates}"


def problem(info: TableInfo, row, user_id: str, check_stamp: bool = True) -> str | None:
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
            complete = None not in info.required_values(row)
        except KeyError:
            complete = False
        missing = [] if complete else sorted(c for c in info.required if row.get(c) is None)
        if missing:
            return f"missing required columns {missing}"
        for col in info.json_cols:
            if col in info.required and not isinstance(row.get(col), dict | list):
                return f"column {col} is not JSON"
    return None


def _plus_slack(moment: datetime) -> datetime:
    """`moment` + FUTURE_SLACK, clamped: a Date or head in year 9999 must not overflow the cycle."""
    try:
        return moment + FUTURE_SLACK
    except OverflowError:
        return _LAST_STAMP


def newest_allowed(server_date: datetime | None, head: str | None) -> datetime | None:
    """The newest stamp a page's rows may carry: FUTURE_SLACK after the reply's Date header and after the
    table's head as this cycle read it (whichever is earlier; None when the server said neither). The
    head bounds a reply without a Date header: stamps are the server's own, so no row committed during
    the cycle lies a day past the head read at its start."""
    bounds = [_plus_slack(server_date)] if server_date is not None else []
    if head is not None:
        with contextlib.suppress(ValueError):  # an unreadable head moved the table (heads.moved): no bound
            bounds.append(_plus_slack(server_stamp(head)))
    return min(bounds) if bounds else None


def too_far_ahead(row, latest: datetime | None) -> str | None:
    """Why `row`'s updated_at cannot become the cursor (it lies after `latest`, see `newest_allowed`)."""
    if latest is None or not isinstance(row, dict):
        return None
    try:
        stamp = server_stamp(row.get("updated_at"))
    except ValueError:
        return None
    if stamp <= latest:
        return None
    said = "year 9999" if latest == _LAST_STAMP else (latest - FUTURE_SLACK).isoformat()
    return (f"updated_at {row['updated_at']} lies more than a day after the server's own time ({said}, from "
            "its Date header or the newest stamp it reported); taking it as the cursor would skip every row "
            "written until then")


def _all_clean(info: TableInfo, rows: list[dict], previous: datetime | None, latest: datetime | None,
               user_id: str) -> bool:
    """The fast check of a whole page: True if every row can be stored and the stamps strictly increase."""
    try:
        ids = list(map(_get_id, rows))
        stamps = list(map(datetime.fromisoformat, map(_get_stamp, rows)))
        owners = list(map(operator.itemgetter(info.owner), rows))
        if not (all(map(isinstance, ids, repeat(str))) and "" not in ids and None not in map(_get_tzinfo, stamps)
                and owners.count(user_id) == len(owners)
                and all(map(operator.lt, stamps, islice(stamps, 1, None)))):
            return False
        if previous is not None and not previous < stamps[0]:
            return False
        if latest is not None and stamps[-1] > latest:  # increasing: the last is the newest
            return False
        required = info.required_values
        if info.json_cols & info.required:
            return all(problem(info, row, user_id, check_stamp=False) is None for row in rows)
        return all(None not in required(row) for row in rows if row.get("deleted_at") is None)
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


class Prepared:
    """What the fetching thread worked out for a clean page of live rows (`prepare`), so the writer thread —
    the one holding SQLite's write lock — only writes it: the page passed the fast check after `after`,
    `values` are its rows encoded for SQLite and sorted by id, `statements` the plain INSERT of them
    (`insert_statements`; see `RowWriter.insert_new`)."""

    __slots__ = ("after", "ids", "statements", "values")

    def __init__(self, after: str | None, ids: list[str], values: list[tuple],
                 statements: list[tuple[str, tuple]]):
        self.after, self.ids, self.values, self.statements = after, ids, values, statements


def prepare(info: TableInfo, rows: list[dict], after: str | None, user_id: str) -> None:
    """On the thread that fetched `rows` (asked for after `after`): if the page is clean (what `_all_clean`
    checks), has no tombstone and no id twice, attach its `Prepared` form as `rows.prepared`. Anything else
    is left to the writer's careful path. Pure: reads nothing but the page."""
    if not rows or not hasattr(rows, "__dict__"):
        return
    try:
        previous = server_stamp(after) if after else None
        values = _clean_values(info, rows, previous, newest_for(rows), user_id)
    except (KeyError, TypeError, ValueError, AttributeError):
        return
    if values is not None:
        values, columns = values
        statements = insert_statements(info, values, "", columns)
        rows.prepared = Prepared(after, list(map(_get_id, rows)), values, statements)


def _clean_values(info: TableInfo, rows: list[dict], previous: datetime | None, latest: datetime | None,
                  user_id: str) -> tuple[list[tuple], list[tuple]] | None:
    """If the page passes `_all_clean`'s check and has no tombstone and no id twice: its rows encoded for
    SQLite and sorted by id, and the same by column; else None. The same check, but a column at a time
    over the encoded page (C-level counts instead of a Python step per row: this runs for every pulled
    row, with the GIL held)."""
    if not all(map(isinstance, rows, repeat(dict))):
        return None
    stamps = list(map(datetime.fromisoformat, map(_get_stamp, rows)))  # in page order
    if None in map(_get_tzinfo, stamps) or not all(map(operator.lt, stamps, islice(stamps, 1, None))):
        return None
    if previous is not None and not previous < stamps[0]:
        return None
    if latest is not None and stamps[-1] > latest:  # increasing: the last is the newest
        return None
    values = info.encode_rows(rows)
    values.sort(key=_first)  # neighbouring keys touch neighbouring pages of the id index
    columns = list(zip(*values, strict=True))
    at = info.columns.index
    ids, n = columns[0], len(rows)
    if not all(map(isinstance, ids, repeat(str))) or "" in ids or len(set(ids)) != n:
        return None
    if columns[at(info.owner)].count(user_id) != n or columns[at("deleted_at")] != (None,) * n:
        return None  # another owner, or a tombstone: the careful path
    if any(columns[at(c)].count(None) for c in info.required):
        return None
    for col in info.json_cols & info.required:  # encoded: a required JSON value must have been an object/array
        if not all(isinstance(v, str) and v[:1] in ("{", "[") for v in columns[at(col)]):
            return None
    return values, columns


def stored_ids(rows: list[dict]) -> tuple[list[str], bool]:
    """The ids of a page that was stored, and whether any of them was a tombstone."""
    prepared = getattr(rows, "prepared", None)
    if prepared is not None:
        return prepared.ids, False  # a prepared page has no tombstone
    return list(map(_get_id, rows)), any(map(_get_deleted, rows))


def newest_for(rows) -> datetime | None:
    """The newest stamp a page's rows may carry: what the puller worked out (`newest_allowed`), else
    FUTURE_SLACK after the reply's own Date header."""
    if hasattr(rows, "newest_allowed"):
        return rows.newest_allowed
    return newest_allowed(getattr(rows, "server_date", None), None)  # sync.rest.Rows: the reply's Date


def prepared_after(rows, cursor: str | None) -> Prepared | None:
    """The page's `Prepared` form if its check holds after `cursor` (it was fetched after `cursor` or a
    later stamp, so its first row lies after `cursor` too)."""
    found = getattr(rows, "prepared", None)
    if found is None or cursor is None:
        return found
    if found.after is None:
        return None
    try:
        return found if server_stamp(found.after) >= server_stamp(cursor) else None
    except ValueError:
        return None


def scan(info: TableInfo, rows: list[dict], cursor: str | None, user_id: str) -> int | None:
    """Index of the first row we cannot store (or None). Raises if the page does not move forward:
    looping on it forever would be the alternative (RxDB#5882)."""
    if prepared_after(rows, cursor) is not None:
        return None  # checked on the fetching thread
    previous = server_stamp(cursor) if cursor else None
    latest = newest_for(rows)
    if rows and _all_clean(info, rows, previous, latest, user_id):
        return None
    for i, row in enumerate(rows):
        try:
            stamp = server_stamp(row.get("updated_at")) if isinstance(row, dict) else None
        except ValueError:
            return i
        if stamp is None or problem(info, row, user_id, check_stamp=False):
            return i
        if latest is not None and stamp > latest:
            return i  # quarantined, and the cursor stays before it
        if previous is not None and stamp <= previous:
            raise RequestFailed(Kind.MALFORMED, 200, None,
                                f"pull of {info.name} made no progress: the server returned updated_at "
                                f"{row['updated_at']}, not after {cursor if i == 0 else rows[i - 1]['updated_at']}")
        previous = stamp
    return None


class RowWriter:
    """Stores server rows in the caller's transaction (capture suppressed by the caller): upserts, rebases
    rows with unpushed local edits, applies tombstones. Counts what it parks."""

    def __init__(self):
        self.parked = 0

    def write(self, conn, info: TableInfo, rows: list[dict], *, maybe_dirty: bool = True,
              maybe_quarantined: bool = True, aside=None) -> None:
        """`maybe_dirty=False` / `maybe_quarantined=False`: the caller knows (in this transaction) that the
        table has no outbox entry / no quarantined row, so the lookups are skipped. `aside`: the
        transaction's `bulkload.TriggersAside`, through which new rows are inserted."""
        prepared = getattr(rows, "prepared", None)  # the caller's `scan` accepted it
        if prepared is not None and not maybe_dirty:
            self._store(conn, info, prepared.values, aside, presorted=True)
            if maybe_quarantined and self.quarantined(conn, info.name):
                self._unquarantine(conn, info.name, prepared.ids)
            return
        if len(set(map(_get_id, rows))) != len(rows):
            rows = self._last_versions(rows)
        dirty = self._dirty(conn, info.name, list(map(_get_id, rows))) if maybe_dirty else {}
        if any(map(_get_deleted, rows)):
            tombstones = [r for r in rows if r.get("deleted_at")]
            live = [r for r in rows if not r.get("deleted_at")]
        else:
            tombstones, live = [], rows
        if dirty:
            values = []
            for row in live:
                ops = dirty.get(row["id"])
                if ops and ops[-1][0] == "delete":
                    continue  # deleted here, tombstone not pushed yet: an echo must not bring it back
                values.append(info.encode(self._rebase(conn, info, row, ops) if ops else row))
        else:
            values = list(map(info.encode, live))
        if values:
            self._store(conn, info, values, aside)
        if tombstones:
            if aside is not None:
                aside.catch_up()
            self._delete(conn, info, [r["id"] for r in tombstones])
        if maybe_quarantined and self.quarantined(conn, info.name):
            self._unquarantine(conn, info.name, list(map(_get_id, rows)))

    @staticmethod
    def insert_new(conn, info: TableInfo, rows: list[dict], *, maybe_dirty: bool = True,
                   maybe_quarantined: bool = True, aside=None) -> bool:
        """The common case of a big pull, with no savepoint: a prepared page (the caller's `scan` accepted
        it) of rows that are all new, in one plain INSERT statement. True: stored. False, having changed
        nothing: the page needs `write` (in a savepoint) — it is not prepared, the table has outbox or
        quarantine rows, it needs more than one statement or a set-aside trigger, or the INSERT failed
        (a row is here already or breaks a constraint: SQLite undoes a failing statement by itself, and
        the transaction goes on). Per page, each statement the writer runs gives Python's GIL to the
        fetching threads and waits to get it back: a savepoint and its release were two more of those."""
        prepared = getattr(rows, "prepared", None)
        if prepared is None or maybe_dirty or maybe_quarantined or len(prepared.statements) != 1:
            return False
        if aside is not None and aside.needs_triggers(info.columns, prepared.values):
            return False
        ((sql, params),) = prepared.statements
        try:
            conn.exec_driver_sql(sql, params)
        except sqlalchemy.exc.IntegrityError:
            return False
        return True

    @staticmethod
    def _unquarantine(conn, table: str, ids: list[str]) -> None:
        """A row quarantined earlier (e.g. a bad reply, or its parent not here yet) is stored now."""
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            conn.exec_driver_sql(
                f"DELETE FROM sync_quarantine WHERE table_name = ? AND row_id IN ({','.join('?' * len(chunk))})",
                (table, *chunk))

    @staticmethod
    def _store(conn, info: TableInfo, values: list[tuple], aside=None, presorted: bool = False) -> None:
        """Insert the new rows; update only what differs in the known ones.

        Most pulled rows are new, so all of them are offered to one `INSERT OR IGNORE` first (sorted by id:
        neighbouring keys touch neighbouring pages of the id index); only when some were passed over are
        those looked up and compared. Not one `INSERT … ON CONFLICT DO UPDATE`: SQLite spends about twice
        the CPU per row on that. Updating only the columns that changed leaves the indexes and triggers of
        the others alone: a pushed row adopted from the server's reply differs only in its server-managed
        columns. OR IGNORE also passes over a row breaking another constraint (NOT NULL, CHECK, another
        UNIQUE): such a row is inserted again plainly, so it fails as it always did (IntegrityError)."""
        raw = conn.connection.driver_connection  # the same sqlite3 connection and transaction, without
        #                                          SQLAlchemy's per-row result handling (~10 µs a row)
        values = values if presorted else sorted(values, key=_first)
        table = quote(info.name)
        before = raw.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()[0]
        inserted = 0

        def insert() -> None:
            nonlocal inserted
            inserted = insert_many(conn, info, values, "OR IGNORE")

        if aside is not None:
            aside.insert(insert, info.columns, values)
        else:
            insert()
        if inserted == len(values):
            return
        # Rows stored before this statement (rowid <= before: new rowids are handed out above the largest).
        columns = ", ".join(quote(c) for c in info.columns)
        ids = list(map(_first, values))
        known: dict[str, tuple] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for row in raw.execute(f"SELECT rowid, {columns} FROM {table} WHERE id IN "
                                   f"({','.join('?' * len(chunk))})", chunk):
                known[row[1]] = row[1:] if row[0] <= before else None
        missing = [v for v in values if v[0] not in known]
        if missing:  # passed over for another constraint: fails now as a plain INSERT would have
            conn.exec_driver_sql(insert_sql(info), missing)
        changed = [v for v in values if known.get(v[0]) is not None and v != known[v[0]]]
        if changed:
            positions = sorted({i for v in changed for i, (a, b) in enumerate(zip(v, known[v[0]], strict=True))
                                if a != b})
            sets = ", ".join(f"{quote(info.columns[i])} = ?" for i in positions)

            def update() -> None:
                conn.exec_driver_sql(f"UPDATE {table} SET {sets} WHERE id = ?",
                                     [(*(v[i] for i in positions), v[0]) for v in changed])

            if aside is not None:
                aside.update(update)
            else:
                update()

    @staticmethod
    def has_outbox(conn, table: str) -> bool:
        return bool(conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM sync_outbox WHERE table_name = ?)",
                                         (table,)).scalar())

    @staticmethod
    def quarantined(conn, table: str) -> bool:
        return bool(conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM sync_quarantine WHERE table_name = ?)",
                                         (table,)).scalar())

    @staticmethod
    def _last_versions(rows: list[dict]) -> list[dict]:
        """The last version of each id wins, and a tombstone beats an upsert (WatermelonDB#1462)."""
        latest: dict[str, dict] = {}
        for row in rows:
            prev = latest.get(row["id"])
            if prev is not None and prev.get("deleted_at") and not row.get("deleted_at"):
                continue
            latest[row["id"]] = row
        return list(latest.values())

    @classmethod
    def _dirty(cls, conn, table: str, ids: list[str]) -> dict[str, list[tuple]]:
        if not cls.has_outbox(conn, table):
            return {}
        found: dict[str, list[tuple]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for row_id, kind, changed in conn.exec_driver_sql(
                    "SELECT row_id, kind, changed_columns FROM sync_outbox WHERE table_name = ? AND row_id IN "
                    f"({','.join('?' * len(chunk))}) ORDER BY op_seq", (table, *chunk)):
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
            self.parked += 1
        # Deletes queued for the rows we just removed are satisfied by the server's tombstone.
        conn.exec_driver_sql(
            f"DELETE FROM sync_outbox WHERE table_name = ? AND kind = 'delete' AND row_id IN ({marks})",
            (info.name, *ids))
