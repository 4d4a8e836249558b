"""Push: drain the outbox, parents before children, every request safe to replay.

- Inserts: bulk POST (<= 500 rows of one table) of the row's current client columns, id included, tables
  in FK order. A duplicate key (23505) is looked up as the user: visible means it is our own earlier insert
  whose response was lost; invisible means another user's row has that id -> parked.
- Updates: PATCH `?id=eq.X&deleted_at=is.null` of only the changed columns, `return=representation`.
  Zero rows back is never success: a GET by id decides (tombstoned -> delete wins; invisible -> parked).
- Deletes: PATCH `deleted_at` (the server stamps it); replaying one is a no-op.
- After success the server's reply is stored as a pull would store it (capture suppressed; local edits
  made meanwhile are rebased and stay pending), and the stamps of each request's rows are recorded in
  `AdoptedRanges`, so the cycle's pull does not download them again (see sync.pages for why that can
  never skip another device's row). If the reply cannot be stored as it is (e.g. it names a parent not
  pulled yet), only its server-managed columns are taken and the pull brings the row as usual.
A refused write is parked with the server's code and message; the rest of the queue goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy.exc

from local_schema import models
from sync import bulkload
from sync.dbutil import quote, table_info, write_tx
from sync.errors import MAX_SERVER_ATTEMPTS, Kind, RequestFailed, backoff_delay
from sync.outbox import (
    NetOp,
    defer,
    deferred,
    mark_sent,
    park,
    parked_rows,
    read_pending,
    record_server_error,
    settle,
)
from sync.pages import AdoptedRanges
from sync.pull_rows import DELETED_ELSEWHERE, RowWriter, problem

INSERT_BATCH = 500
# Failures that say nothing about the change sent: the cycle ends, the change waits (never parked).
_NOT_ABOUT_THIS_CHANGE = (Kind.TRANSIENT, Kind.AUTH, Kind.MALFORMED, Kind.MISCONFIGURED)
READ_LIMIT = 5000  # ops read per pass; the loop continues until the queue is drained
# A change refused with a 5xx waits on its own backoff while the rest of the queue goes on; this many in
# one cycle means the server is failing everything, and the cycle ends (the scheduler backs off).
SERVER_ERRORS_PER_CYCLE = 5
PARENT_WAIT_S = 2.0  # a child whose parent's insert is still queued (not deferred) waits this long


def _parents(table: str) -> list[tuple[str, str]]:
    """(fk column, parent table) of a synced table."""
    return [(fk.parent.name, fk.column.table.name) for fk in models.MODELS_BY_TABLE[table].__table__.foreign_keys]


@dataclass
class PushResult:
    pushed: int = 0
    parked: int = 0
    deferred: int = 0  # changes put on their own backoff this cycle (a 5xx, or their parent's)
    paused_tables: dict[str, str] = field(default_factory=dict)  # table -> server's reason
    changed: dict[str, set[str]] = field(default_factory=dict)  # table -> ids of rows stored from replies


class Pusher:
    def __init__(self, db, rest, user_id: str, remote_tx: Callable, paused: set[str],
                 progress: Callable[[str, int], None], adopted: AdoptedRanges | None = None):
        self.db, self.rest, self.user_id, self.remote_tx = db, rest, user_id, remote_tx
        self.paused = paused
        self.progress = progress
        self.adopted = adopted if adopted is not None else AdoptedRanges()
        self.writer = RowWriter()
        self.result = PushResult()
        self._waiting: dict[tuple[str, str], float] = {}  # rows on their own backoff -> seconds left
        self._server_failures = 0

    def push_all(self) -> PushResult:
        while True:
            with write_tx(self.db) as conn:
                # Paused tables and waiting rows are left out by the query itself, so they can never
                # fill a whole read and starve the rest of the queue.
                ops = read_pending(conn, READ_LIMIT, skip_tables=self.paused)
                blocked = parked_rows(conn)
                self._waiting.update(deferred(conn))
            if not ops:
                return self.result
            progressed = self._push_pass(ops, blocked)
            if not progressed:
                return self.result

    # -- one pass over a slice of the queue --------------------------------------------------------------
    def _push_pass(self, ops: list[NetOp], blocked: set[tuple[str, str]]) -> bool:
        progressed = False
        # Only the first net op of each row this pass: a later one (delete then re-insert) waits its turn.
        seen: set[tuple[str, str]] = set()
        inserts: dict[str, list[NetOp]] = {}
        others: list[NetOp] = []
        for op in ops:
            key = (op.table, op.row_id)
            if key in seen:
                continue
            seen.add(key)
            if key in blocked:
                # A row with a parked change: later edits wait behind it (the user retries or discards).
                self._park(op, None, "waiting behind a parked change to the same row")
                progressed = True
            elif op.kind == "noop":
                with write_tx(self.db) as conn:
                    settle(conn, op.op_seqs)
                progressed = True
            elif op.kind == "insert":
                inserts.setdefault(op.table, []).append(op)
            else:
                others.append(op)
        for model in models.SYNCED_MODELS:
            batch = inserts.get(model.__tablename__, [])
            for i in range(0, len(batch), INSERT_BATCH):
                if batch[i:i + INSERT_BATCH]:
                    self._insert_batch(model.__tablename__, batch[i:i + INSERT_BATCH])
                    progressed = True
        for op in sorted(others, key=lambda o: o.first_seq):
            if op.table in self.paused:
                continue
            if op.kind == "update":
                self._update(op)
            else:
                self._delete(op)
            progressed = True
        return progressed

    # -- inserts -----------------------------------------------------------------------------------------
    def _insert_batch(self, table: str, ops: list[NetOp], retried: bool = False) -> None:
        if table in self.paused:
            return
        info = table_info(table)
        cols = ", ".join(quote(c) for c in info.client)
        rows, present = [], []
        with write_tx(self.db) as conn:
            current = {}
            for i in range(0, len(ops), 500):
                ids = [op.row_id for op in ops[i:i + 500]]
                for values in conn.exec_driver_sql(
                        f"SELECT {cols} FROM {quote(table)} WHERE id IN ({','.join('?' * len(ids))})", tuple(ids)):
                    current[values[0]] = values
            for op in ops:
                values = current.get(op.row_id)
                if values is None:
                    # Gone locally without a captured delete (e.g. removed under applying_remote): visible.
                    park(conn, op, None, "row no longer exists locally")
                    self.result.parked += 1
                    continue
                row = info.decode_client(tuple(values))
                wait = self._parent_waiting(table, row)
                if wait is not None:  # its parent is not on the server yet: sending it would only fail
                    self._defer(conn, op, wait)
                    continue
                rows.append(row)
                present.append(op)
            if present:
                mark_sent(conn, [s for op in present for s in op.op_seqs])
        if not present:
            return
        try:
            returned = self.rest.insert(table, rows)
        except RequestFailed as exc:
            if exc.kind in _NOT_ABOUT_THIS_CHANGE:
                raise
            if exc.kind is Kind.SCHEMA:
                self._pause(table, exc)
                return
            if exc.kind is Kind.DUPLICATE and len(present) > 1 and not retried:
                # Typically our own earlier attempt landed and its response was lost: adopt what is ours
                # already, send the rest once more (one lookup instead of splitting down to single rows).
                remaining = self._adopt_existing(table, present)
                if remaining:
                    self._insert_batch(table, remaining, retried=True)
                return
            if len(present) > 1:
                # Isolate the culprit: halves first (a 413 needs smaller requests anyway), then single rows.
                mid = len(present) // 2
                self._insert_batch(table, present[:mid])
                self._insert_batch(table, present[mid:])
                return
            self._insert_failed(present[0], exc)
            return
        self._adopt(table, returned, present, own_write=True)

    def _adopt_existing(self, table: str, ops: list[NetOp]) -> list[NetOp]:
        """Settle the ops whose rows the server already has as ours; return the others."""
        info = table_info(table)
        found: dict[str, dict] = {}
        for i in range(0, len(ops), 100):
            ids = ",".join(op.row_id for op in ops[i:i + 100])
            for row in self.rest.select(table, {"select": ",".join(info.columns), "id": f"in.({ids})",
                                                info.owner: f"eq.{self.user_id}"}):
                found[row.get("id")] = row
        live = [op for op in ops if op.row_id in found and not found[op.row_id].get("deleted_at")]
        if live:
            self._adopt(table, [found[op.row_id] for op in live], live)
        for op in ops:
            if op.row_id in found and found[op.row_id].get("deleted_at"):
                self._deleted_elsewhere(op)
        return [op for op in ops if op.row_id not in found]

    def _insert_failed(self, op: NetOp, exc: RequestFailed) -> None:
        if exc.kind is Kind.DUPLICATE:
            server = self._get(op.table, op.row_id)
            if server is not None and server.get(table_info(op.table).owner) != self.user_id:
                server = None  # e.g. someone else's public template: visible, but not ours
            if server is not None and not server.get("deleted_at"):
                self._adopt(op.table, [server], [op])  # our earlier insert landed; its response was lost
                return
            if server is not None:
                self._deleted_elsewhere(op)
                return
            self._park(op, exc.code, "a row with this id exists on the server but is not yours "
                                     f"({exc.message})")
            return
        if exc.kind is Kind.FK_MISSING:
            self._parent_missing(op, exc)
            return
        if exc.kind is Kind.SERVER:
            self._server_error(op, exc)
            return
        self._park(op, exc.code, exc.message, exc.details)

    # -- updates and deletes -----------------------------------------------------------------------------
    def _update(self, op: NetOp) -> None:
        info = table_info(op.table)
        columns = sorted(c for c in op.columns if c in info.columns and c not in
                         ("id", "created_at", "updated_at", info.owner))
        with write_tx(self.db) as conn:
            values = None
            if columns:
                values = conn.exec_driver_sql(
                    f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(op.table)} WHERE id = ?",
                    (op.row_id,)).fetchone()
            if not columns or values is None:
                if values is None and columns:
                    park(conn, op, None, "row no longer exists locally")
                    self.result.parked += 1
                else:
                    settle(conn, op.op_seqs)  # nothing the server stores changed
                return
            mark_sent(conn, op.op_seqs)
        body = {}
        for col, value in zip(columns, values, strict=True):
            if col in info.json_cols and isinstance(value, str):
                value = json.loads(value)
            elif col in info.bool_cols and value is not None:
                value = bool(value)
            body[col] = value
        self._patch(op, body)

    def _delete(self, op: NetOp) -> None:
        with write_tx(self.db) as conn:
            mark_sent(conn, op.op_seqs)
        self._patch(op, {"deleted_at": "now"})

    def _patch(self, op: NetOp, body: dict) -> None:
        try:
            rows = self.rest.update(op.table, {"id": f"eq.{op.row_id}", "deleted_at": "is.null"}, body)
        except RequestFailed as exc:
            if exc.kind in _NOT_ABOUT_THIS_CHANGE:
                raise
            if exc.kind is Kind.SCHEMA:
                self._pause(op.table, exc)
            elif exc.kind is Kind.SERVER:
                self._server_error(op, exc)
            elif exc.kind is Kind.FK_MISSING:
                self._parent_missing(op, exc)
            else:
                self._park(op, exc.code, exc.message, exc.details)
            return
        if rows:
            self._adopt(op.table, rows, [op], own_write=True)
            return
        # Zero rows: RLS hid it, it is tombstoned, or it never reached the server. Find out which.
        server = self._get(op.table, op.row_id)
        if op.kind == "delete":
            # Tombstoned already (maybe by our own lost-response attempt) or never on the server: either way
            # the server does not have a live row, which is what a delete asks for.
            with write_tx(self.db) as conn:
                settle(conn, op.op_seqs)
            self.result.pushed += 1
        elif server is None:
            self._park(op, "42501", "the server has no row with this id that you may change "
                                    "(never pushed, or hidden by row-level security)")
        elif server.get("deleted_at"):
            self._deleted_elsewhere(op)
        else:
            self._park(op, None, "the update matched no row although the row is live on the server")

    # -- shared ------------------------------------------------------------------------------------------
    def _get(self, table: str, row_id: str) -> dict | None:
        info = table_info(table)
        rows = self.rest.select(table, {"select": ",".join(info.columns), "id": f"eq.{row_id}"})
        return rows[0] if rows else None

    def _adopt(self, table: str, returned: list[dict], ops: list[NetOp], own_write: bool = False) -> None:
        """Store the rows the server returned and settle exactly the ops we sent. `own_write`: the rows are
        the reply to one write request of ours (one server transaction), so their stamps form an adopted
        range; rows found by a GET (a lost response) are stored, but pulled again as usual."""
        info = table_info(table)
        by_id = {r.get("id"): r for r in returned if isinstance(r, dict)}
        rows, done, missing = [], [], []
        for op in ops:
            row = by_id.get(op.row_id)
            if row is None or not row.get("updated_at"):
                missing.append(op)
                continue
            rows.append(row)
            done.extend(op.op_seqs)
        storable = bool(rows) and all(problem(info, row, self.user_id) is None for row in rows)
        with self.remote_tx() as conn:
            settle(conn, done)  # first: the ops just sent are not local edits to rebase onto the reply
            stored = storable and self._store(conn, info, rows)
            if rows and not stored:
                conn.exec_driver_sql(
                    f"UPDATE {quote(table)} SET created_at = ?, updated_at = ?, {quote(info.owner)} = ? WHERE id = ?",
                    [(r.get("created_at"), r["updated_at"], r.get(info.owner), r["id"]) for r in rows])
        if stored:
            self.result.changed.setdefault(table, set()).update(r["id"] for r in rows)
            if own_write and not missing:
                self.adopted.add(table, [r["updated_at"] for r in rows])
        self.result.parked += self.writer.parked
        self.writer.parked = 0
        self.result.pushed += len(ops) - len(missing)
        self.progress("push", self.result.pushed)
        if missing:
            raise RequestFailed(Kind.MALFORMED, 201, None,
                                f"{table}: the server's reply did not include {len(missing)} of the rows sent")

    def _store(self, conn, info, rows: list[dict]) -> bool:
        """Write the server's rows as a pull would, in a savepoint; False (nothing written) if SQLite refuses
        them, e.g. a reference to a parent this device has not pulled yet."""
        conn.exec_driver_sql("SAVEPOINT adopt")
        try:
            bulkload.write_batch(conn, info.name, len(rows), lambda: self.writer.write(conn, info, rows))
        except sqlalchemy.exc.IntegrityError:
            conn.exec_driver_sql("ROLLBACK TO adopt")
            conn.exec_driver_sql("RELEASE adopt")
            self.writer.parked = 0
            return False
        conn.exec_driver_sql("RELEASE adopt")
        return True

    def _deleted_elsewhere(self, op: NetOp) -> None:
        """Delete wins: remove the row here too and keep the user's edit visible as a parked change."""
        info = table_info(op.table)
        with self.remote_tx() as conn:
            snapshot = conn.exec_driver_sql(f"SELECT * FROM {quote(op.table)} WHERE id = ?",
                                            (op.row_id,)).mappings().fetchone()
            park(conn, op, None, DELETED_ELSEWHERE,
                 json.dumps({"snapshot": dict(snapshot) if snapshot else None}, default=str))
            conn.exec_driver_sql(f"DELETE FROM {quote(info.name)} WHERE id = ?", (op.row_id,))
        self.result.parked += 1

    def _server_error(self, op: NetOp, exc: RequestFailed) -> None:
        """A 5xx for this change: it waits on its own backoff (next_attempt_at) and the rest of the queue
        goes on; parked after MAX_SERVER_ATTEMPTS of them. Several in one cycle end the cycle."""
        with write_tx(self.db) as conn:
            failures = record_server_error(conn, op, str(exc))
            if failures < MAX_SERVER_ATTEMPTS:
                self._defer(conn, op, backoff_delay(failures))
        if failures >= MAX_SERVER_ATTEMPTS:
            self._park(op, exc.code, f"server error {failures} times: {exc.message}")
            return
        self._server_failures += 1
        if self._server_failures >= SERVER_ERRORS_PER_CYCLE:
            raise exc  # the server fails everything: the scheduler backs off as a whole

    def _defer(self, conn, op: NetOp, seconds: float) -> None:
        defer(conn, op, seconds)
        self._waiting[(op.table, op.row_id)] = seconds
        self.result.deferred += 1

    def _parent_waiting(self, table: str, row: dict) -> float | None:
        """Seconds until the parent of `row` may be pushed, when that parent is waiting on its backoff."""
        for column, parent in _parents(table):
            wait = self._waiting.get((parent, row.get(column))) if row.get(column) else None
            if wait is not None:
                return wait
        return None

    def _parent_missing(self, op: NetOp, exc: RequestFailed) -> None:
        """23503: park, unless the parent's own insert is still queued here (on its backoff, or not read
        yet): then the child waits for it instead of being refused for good."""
        parents = _parents(op.table)
        with write_tx(self.db) as conn:
            values = conn.exec_driver_sql(
                f"SELECT {', '.join(quote(c) for c, _ in parents)} FROM {quote(op.table)} WHERE id = ?",
                (op.row_id,)).fetchone() if parents else None
            for (_column, parent), value in zip(parents, values or (), strict=False):
                if value and conn.exec_driver_sql(
                        "SELECT 1 FROM sync_outbox WHERE table_name = ? AND row_id = ? AND state = 'pending' "
                        "AND kind = 'insert'", (parent, value)).fetchone():
                    self._defer(conn, op, self._waiting.get((parent, value), PARENT_WAIT_S))
                    return
        self._park(op, exc.code, f"its parent row is not on the server: {exc.message}")

    def _park(self, op: NetOp, code: str | None, message: str, details: str | None = None) -> None:
        with write_tx(self.db) as conn:
            park(conn, op, code, message, details)
        self.result.parked += 1

    def _pause(self, table: str, exc: RequestFailed) -> None:
        """The server does not know this table/column: stop pushing it (ops kept) until the app is updated."""
        self.paused.add(table)
        self.result.paused_tables[table] = f"{exc.code}: {exc.message}"
