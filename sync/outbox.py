"""Reading the change-capture outbox as a list of net operations per row, and settling ops.

The outbox (written by SQLite triggers, see local_schema) records *that* a row changed, never the values:
push reads the row's current values. So consecutive edits of one row collapse into one request
(insert + updates = one insert of the current row; updates = one PATCH of the union of the changed
columns; ... + delete = one tombstone). Coalescing never crosses a delete followed by a re-insert.

An op is removed only after its own request succeeded, and only the op_seqs that were read for it: an
edit made while the push was in flight has a higher op_seq and stays pending (Replicache#42).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from local_schema.timestamps import format_timestamp, parse_timestamp
from sync.dbutil import now


@dataclass(slots=True)
class NetOp:
    table: str
    row_id: str
    kind: str  # insert | update | delete
    op_seqs: list[int] = field(default_factory=list)
    columns: set[str] = field(default_factory=set)  # update only
    sent_before: bool = False  # some op of this row was already sent once (its response may have been lost)

    @property
    def first_seq(self) -> int:
        return self.op_seqs[0]


def coalesce(ops: list[tuple[int, str, str, str, str | None, int]]) -> list[NetOp]:
    """Turn `(op_seq, table, row_id, kind, changed_columns_json, attempts)` rows (op_seq order) into net ops.

    Result is in order of each net op's first op_seq. An insert followed by a delete that never reached
    the server disappears (both ops are returned in a NetOp of kind 'noop' so the caller removes them);
    if the insert was sent before, its fate is unknown, so it becomes a tombstone instead.
    """
    open_ops: dict[tuple[str, str], NetOp] = {}
    result: list[NetOp] = []
    for op_seq, table, row_id, kind, changed, attempts in ops:
        key = (table, row_id)
        current = open_ops.get(key)
        if current is None and kind == "insert":  # the common case, in short
            current = open_ops[key] = NetOp(table, row_id, kind, [op_seq], set(), attempts > 0)
            result.append(current)
            continue
        if current is None or current.kind in ("delete", "noop") or kind == "insert":
            current = NetOp(table, row_id, kind)
            open_ops[key] = current
            result.append(current)
        elif kind == "delete":
            if current.kind == "insert" and not (current.sent_before or attempts):
                current.kind = "noop"
            else:
                current.kind = "delete"
            current.columns.clear()
        # kind == "update": an insert stays an insert (it sends the current row); updates merge columns.
        current.op_seqs.append(op_seq)
        current.sent_before = current.sent_before or attempts > 0
        if kind == "update" and current.kind == "update" and changed:
            with contextlib.suppress(ValueError):
                current.columns.update(json.loads(changed))
    return result


# A row whose change failed with a server error waits until its `next_attempt_at` (its own backoff, so it
# does not hold back the rest of the queue). The time is this device's wall clock, so a value further
# ahead than any backoff can be (the clock was set back) counts as due rather than stuck.
MAX_DEFER_S = 600


def _deferred_sql(now: str, latest: str) -> str:
    return ("SELECT 1 FROM sync_outbox d WHERE d.table_name = o.table_name AND d.row_id = o.row_id "
            f"AND d.state = 'pending' AND d.next_attempt_at > '{now}' AND d.next_attempt_at <= '{latest}'")


def read_pending(conn, limit: int | None = None, skip_tables: set[str] | frozenset[str] = frozenset(),
                 at: datetime | None = None) -> list[NetOp]:
    """The pending ops (coalesced per row) in op_seq order, without the tables in `skip_tables` (paused:
    they would otherwise fill every read and starve the other tables) and without every op of a row
    that is waiting for its `next_attempt_at` (all of them: pushing a later edit of a row whose insert
    waits would send an update for a row the server does not have)."""
    sql = "SELECT op_seq, table_name, row_id, kind, changed_columns, attempts FROM sync_outbox o WHERE state = 'pending'"
    params: tuple = ()
    if skip_tables:
        sql += f" AND table_name NOT IN ({_marks(skip_tables)})"
        params = tuple(sorted(skip_tables))
    at = at or datetime.now(UTC)
    current, latest = format_timestamp(at), format_timestamp(at + timedelta(seconds=MAX_DEFER_S))
    if conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM sync_outbox WHERE state = 'pending' "
                            "AND next_attempt_at > ? AND next_attempt_at <= ?)", (current, latest)).scalar():
        sql += f" AND NOT EXISTS ({_deferred_sql(current, latest)})"
    sql += " ORDER BY op_seq"
    if limit:
        sql += f" LIMIT {int(limit)}"
    # The plain sqlite3 cursor of the same connection and transaction: SQLAlchemy's per-row result
    # handling would cost more than coalescing (a big push reads tens of thousands of ops).
    return coalesce(conn.connection.driver_connection.execute(sql, params).fetchall())


def deferred(conn, at: datetime | None = None) -> dict[tuple[str, str], float]:
    """Rows waiting for their next attempt -> seconds until it is due."""
    at = at or datetime.now(UTC)
    rows = conn.exec_driver_sql(
        "SELECT table_name, row_id, min(next_attempt_at) FROM sync_outbox WHERE state = 'pending' "
        "AND next_attempt_at > ? AND next_attempt_at <= ? GROUP BY table_name, row_id",
        (format_timestamp(at), format_timestamp(at + timedelta(seconds=MAX_DEFER_S)))).fetchall()
    return {(t, r): max(0.0, (parse_timestamp(due) - at).total_seconds()) for t, r, due in rows}


def defer(conn, op: NetOp, seconds: float, message: str | None = None) -> None:
    """Hold every pending op of `op`'s row back for `seconds` (its own backoff)."""
    until = format_timestamp(datetime.now(UTC) + timedelta(seconds=min(seconds, MAX_DEFER_S)))
    conn.exec_driver_sql("UPDATE sync_outbox SET next_attempt_at = ?, last_error = coalesce(?, last_error) "
                         "WHERE table_name = ? AND row_id = ? AND state = 'pending'",
                         (until, message, op.table, op.row_id))


def parked_rows(conn) -> set[tuple[str, str]]:
    return {(t, r) for t, r in conn.exec_driver_sql(
        "SELECT DISTINCT table_name, row_id FROM sync_outbox WHERE state = 'parked'").fetchall()}


def _for_ops(conn, sql: str, op_seqs: list[int], *params) -> None:
    """Run `sql` (with one `{ids}` placeholder) over op_seqs in chunks: one streamed reply can leave
    thousands of ops for a single row, more than SQLite takes as parameters of one statement."""
    for chunk in _chunks(op_seqs, 500):
        conn.exec_driver_sql(sql.format(ids=_marks(chunk)), (*params, *chunk))


def mark_sent(conn, op_seqs: list[int]) -> None:
    """Count an attempt *before* sending: if the response is lost, we know the request may have landed."""
    _for_ops(conn, "UPDATE sync_outbox SET attempts = attempts + 1 WHERE op_seq IN ({ids})", op_seqs)


def settle(conn, op_seqs: list[int]) -> None:
    _for_ops(conn, "DELETE FROM sync_outbox WHERE op_seq IN ({ids})", op_seqs)


def record_error(conn, op_seqs: list[int], message: str) -> None:
    _for_ops(conn, "UPDATE sync_outbox SET last_error = ? WHERE op_seq IN ({ids})", op_seqs, message)


_SERVER_ERROR = re.compile(r"server error #(\d+): ")


def record_server_error(conn, op: NetOp, message: str) -> int:
    """Count one more 5xx for `op` and return the count. `attempts` cannot be used for this: it counts
    every send (it must, for replay safety), including the ones that met no network or a 429, and
    those must not bring a change closer to being parked (docs/sync.md, "Failures")."""
    last = conn.exec_driver_sql("SELECT last_error FROM sync_outbox WHERE op_seq = ?", (op.first_seq,)).scalar()
    found = _SERVER_ERROR.match(last or "")
    count = (int(found.group(1)) if found else 0) + 1
    record_error(conn, op.op_seqs, f"server error #{count}: {message}")
    return count


def park(conn, op: NetOp, code: str | None, message: str, details: str | None = None) -> None:
    """Move an op out of the queue into `sync_parked`, with the server's reason. The row stays as it is."""
    conn.exec_driver_sql(
        "INSERT OR REPLACE INTO sync_parked (op_seq, table_name, row_id, kind, changed_columns, code, message, "
        "parked_at, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (op.first_seq, op.table, op.row_id, op.kind, json.dumps(sorted(op.columns)) if op.columns else None,
         code, message, now(), details))
    _for_ops(conn, "UPDATE sync_outbox SET state = 'parked', last_error = ? WHERE op_seq IN ({ids})",
             op.op_seqs, message)


def _marks(values) -> str:
    return ",".join("?" * len(values))


def _chunks(values: list, size: int):
    for i in range(0, len(values), size):
        yield values[i:i + size]
