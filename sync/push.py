"""Push: drain the outbox, parents before children, every request safe to replay.

- Inserts (sync.push_inserts): bulk POST (<= 500 rows of one table) of the row's current client columns,
  id and owner included, tables in FK order: up to two requests of one table in flight, a table's first
  request only once every request before it was answered (parents are committed before children are
  sent), each reply stored while the next request is on its way. A duplicate key (23505) is looked up as
  the user: visible means it is our own earlier insert whose response was lost; invisible means another
  user's row has that id -> parked.
- Updates: PATCH `?id=eq.X&deleted_at=is.null` of only the changed columns, `return=representation`.
  Zero rows back is never success: a GET by id decides (tombstoned -> delete wins; invisible -> parked).
- Deletes: PATCH `deleted_at` (the server stamps it); replaying one is a no-op.
- After success the server's reply is stored as a pull would store it (capture suppressed; local edits
  made meanwhile are rebased and stay pending; a plain reply to our own insert with one UPDATE of its
  server-managed columns, sync.push_adopt), and the stamps of each request's rows are recorded in
  `AdoptedRanges`, so the cycle's pull does not download them again (see sync.pages for why that can
  never skip another device's row). If the reply cannot be stored as it is (e.g. it names a parent not
  pulled yet), only its server-managed columns are taken and the pull brings the row as usual.
A refused write is parked with the server's code and message; the rest of the queue goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from local_schema import models
from sync.dbutil import cyclic_gc_paused, quote, table_info, write_tx
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
from sync.pull_rows import DELETED_ELSEWHERE, RowWriter
from sync.push_inserts import NOT_ABOUT_THIS_CHANGE, Inserts

INSERT_BATCH = 500
READ_LIMIT = 20_000  # ops read per pass; the loop continues until the queue is drained. Between passes the
# requests in flight run dry, so a pass should hold a big push whole (20,000 ops are ~10 MB here).
# A change refused with a 5xx waits on its own backoff while the rest of the queue goes on; this many in
# one cycle means the server is failing everything, and the cycle ends (the scheduler backs off).
SERVER_ERRORS_PER_CYCLE = 5
PARENT_WAIT_S = 2.0  # a child whose parent's insert is still queued (not deferred) waits this long


@cache
def _parents(table: str) -> list[tuple[str, str]]:
    """(fk column, parent table) of a synced table: its foreign keys and its soft parents (a message's
    parent message, models.SOFT_PARENTS), which the server checks like foreign keys."""
    foreign = [(fk.parent.name, fk.column.table.name) for fk in models.MODELS_BY_TABLE[table].__table__.foreign_keys]
    return foreign + list(models.SOFT_PARENTS.get(table, ()))


@dataclass
class PushResult:
    pushed: int = 0
    parked: int = 0
    deferred: int = 0  # changes put on their own backoff this cycle (a 5xx, or their parent's)
    paused_tables: dict[str, str] = field(default_factory=dict)  # table -> server's reason
    changed: dict[str, set[str]] = field(default_factory=dict)  # table -> ids of rows stored from replies


class Pusher(Inserts):
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
        with cyclic_gc_paused():  # ~35 ms a full collection, several a push (docs/sync.md)
            return self._push_all()

    def _push_all(self) -> PushResult:
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
        batches = [(model.__tablename__, ops[i:i + INSERT_BATCH])
                   for model in models.SYNCED_MODELS for ops in [inserts.get(model.__tablename__, [])]
                   for i in range(0, len(ops), INSERT_BATCH)]
        if batches:
            self._insert_pipelined(batches)
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
            if exc.kind in NOT_ABOUT_THIS_CHANGE:
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
