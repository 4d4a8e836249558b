"""Push, the insert half: bulk POSTs, one at a time and each sent while the previous reply is stored, and
storing the server's replies (see sync.push for the whole of push).
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import sqlalchemy.exc

from sync import bulkload
from sync.dbutil import quote, table_info, write_tx
from sync.errors import Kind, RequestFailed
from sync.outbox import NetOp, mark_sent, park, settle
from sync.pull import ANNOUNCED_IDS
from sync.pull_rows import problem
from sync.push_adopt import all_storable, store_own_inserts

# Failures that say nothing about the change sent: the cycle ends, the change waits (never parked).
NOT_ABOUT_THIS_CHANGE = (Kind.TRANSIENT, Kind.AUTH, Kind.MALFORMED, Kind.MISCONFIGURED)
# Insert requests of one table in flight at once. The server runs them one after the other anyway (a
# user's stamps are taken under one lock per transaction), but the second one's request handling and JSON
# parsing overlap the first one's inserts.
IN_FLIGHT = 2


def _made_at(value) -> str | None:
    """A row's created_at as push sends it: the stored text when it is a timestamp with a time zone (sent
    unchanged, so the server keeps exactly it), else None, and the server dates the row itself: a value
    PostgreSQL cannot read would get the whole row refused."""
    try:
        return value if datetime.fromisoformat(value).tzinfo is not None else None
    except (TypeError, ValueError):
        return None


@dataclass
class _Batch:
    table: str
    rows: list[dict]  # as sent
    ops: list[NetOp]
    waiting: int  # how many rows were on their own backoff when it was read


@cache
def _independent(table: str) -> bool:
    """Rows of `table` never reference each other, so its batches may be in flight together. Not messages:
    a reply's parent may be in the batch before (models.SOFT_PARENTS), so each batch waits for the answer
    to the previous one, and a parent is committed on the server before its children are sent."""
    from local_schema import models

    return (all(fk.column.table.name != table for fk in models.MODELS_BY_TABLE[table].__table__.foreign_keys)
            and all(parent != table for _, parent in models.SOFT_PARENTS.get(table, ())))


class Inserts:
    """Mixed into sync.push.Pusher (it provides db, rest, user_id, remote_tx, paused, result, writer,
    adopted, progress and the park/defer/pause helpers)."""

    def _insert_pipelined(self, batches: list[tuple[str, list[NetOp]]]) -> None:
        """Insert batches in order, up to IN_FLIGHT requests at a time, storing each reply while the next
        requests are on their way.

        Requests of one table go out together (its rows are independent of each other); a batch of
        another table leaves only once every request before it has been answered, so a parent is
        committed on the server before its children are sent. A batch is read and marked sent ahead, in
        the transaction that stores the previous reply, and leaves once that transaction has committed (an
        attempt is on record before its request exists); a reply is stored after the next request has
        left, so the server is never waiting for this side. A failed request is handled on the spot, as
        `_insert_batch` does; a batch read before a failure made its parent wait is checked again before
        it is sent."""
        waiting = iter(batches)
        ready: _Batch | None = None  # read and marked sent, not sent yet
        # Leaving the block waits for requests still in flight (their ops are marked sent: if this cycle
        # stops here, the next one recognises the rows it finds on the server as its own).
        with ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="mirari-push") as pool:
            flying: deque[tuple[_Batch, Future]] = deque()

            def read(conn=None) -> None:
                nonlocal ready
                if ready is None:
                    ready = self._next_batch(waiting, conn)

            def submit() -> bool:
                """Send the batch read ahead if it may go now; False if it may not (or there is none)."""
                nonlocal ready
                if ready is None or len(flying) >= IN_FLIGHT or flying and not (
                        all(b.table == ready.table for b, _ in flying) and _independent(ready.table)):
                    return False
                batch, ready = ready, None
                if len(self._waiting) != batch.waiting:
                    batch = self._recheck(batch)  # something was put on its backoff since it was read
                if batch is not None and batch.table not in self.paused:
                    flying.append((batch, pool.submit(self.rest.insert, batch.table, batch.rows)))
                return True

            def pump() -> None:
                """Send all that may go now, reading batches as needed (each in a transaction of its own)."""
                read()
                while submit():
                    read()

            pump()
            while flying:
                batch, future = flying.popleft()
                try:
                    returned = future.result()
                except RequestFailed as exc:
                    self._batch_failed(batch.table, batch.ops, exc, retried=False)
                    pump()
                    continue
                submit()  # the batch read ahead leaves before this reply is stored
                self._adopt(batch.table, returned, batch.ops, own_write=True, sent=batch.rows, then=read)
                pump()

    def _next_batch(self, waiting, conn=None) -> _Batch | None:
        for table, ops in waiting:
            if table in self.paused:
                continue
            prepared = self._prepare_batch(table, ops, conn)
            if prepared is not None:
                return _Batch(table, prepared[0], prepared[1], len(self._waiting))
        return None

    def _recheck(self, batch: _Batch) -> _Batch | None:
        """`batch` without the rows whose parent now waits on its backoff (those wait too)."""
        rows, ops = [], []
        with write_tx(self.db) as conn:
            for row, op in zip(batch.rows, batch.ops, strict=True):
                wait = self._parent_waiting(batch.table, row)
                if wait is None:
                    rows.append(row)
                    ops.append(op)
                else:
                    self._defer(conn, op, wait)
        return _Batch(batch.table, rows, ops, len(self._waiting)) if rows else None

    def _insert_batch(self, table: str, ops: list[NetOp], retried: bool = False) -> None:
        if table in self.paused:
            return
        prepared = self._prepare_batch(table, ops)
        if prepared is None:
            return
        rows, present = prepared
        try:
            returned = self.rest.insert(table, rows)
        except RequestFailed as exc:
            self._batch_failed(table, present, exc, retried)
            return
        self._adopt(table, returned, present, own_write=True, sent=rows)

    def _prepare_batch(self, table: str, ops: list[NetOp], conn=None) -> tuple[list[dict], list[NetOp]] | None:
        """The rows to send for `ops` (their current values), marked sent; None if none is left to send.
        In `conn`'s transaction when given (nothing may be sent before it commits), else in its own."""
        if conn is None:
            with write_tx(self.db) as conn:
                return self._prepare_batch(table, ops, conn)
        info = table_info(table)
        # The client columns, and created_at: the moment the user made the row, which the server keeps
        # (within bounds) on insert and never changes afterwards.
        cols = ", ".join(quote(c) for c in (*info.client, "created_at"))
        rows, present = [], []
        current = {}
        raw = conn.connection.driver_connection  # same connection and transaction, plain sqlite3 rows
        for i in range(0, len(ops), 500):
            ids = [op.row_id for op in ops[i:i + 500]]
            for values in raw.execute(
                    f"SELECT {cols} FROM {quote(table)} WHERE id IN ({','.join('?' * len(ids))})", ids):
                current[values[0]] = values
        for op in ops:
            values = current.get(op.row_id)
            if values is None:
                # Gone locally without a captured delete (e.g. removed under applying_remote): visible.
                park(conn, op, None, "row no longer exists locally")
                self.result.parked += 1
                continue
            row = info.decode_client(tuple(values[:-1]))
            row["created_at"] = _made_at(values[-1])
            wait = self._parent_waiting(table, row)
            if wait is not None:  # its parent is not on the server yet: sending it would only fail
                self._defer(conn, op, wait)
                continue
            # The owner too, although the server would default it to the caller: a column default of
            # auth.uid() parses the JWT claims again for every row (~10 µs each, measured).
            row[info.owner] = self.user_id
            rows.append(row)
            present.append(op)
        if present:
            mark_sent(conn, [s for op in present for s in op.op_seqs])
        return (rows, present) if present else None

    def _batch_failed(self, table: str, present: list[NetOp], exc: RequestFailed, retried: bool) -> None:
        if exc.kind in NOT_ABOUT_THIS_CHANGE:
            raise exc
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
    def _adopt(self, table: str, returned: list[dict], ops: list[NetOp], own_write: bool = False,
               sent: list[dict] | None = None, then: Callable | None = None) -> None:
        """Store the rows the server returned and settle exactly the ops we sent. `own_write`: the rows are
        the reply to one write request of ours (one server transaction), so their stamps form an adopted
        range; rows found by a GET (a lost response) are stored, but pulled again as usual. `sent`: the
        rows that request inserted, so that a plain reply is stored the fast way (sync.push_adopt). `then(conn)`
        runs last in the same transaction (push reads its next batch there)."""
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
        storable = bool(rows) and (all_storable(info, rows, self.user_id)
                                   or all(problem(info, row, self.user_id) is None for row in rows))
        with self.remote_tx() as conn:
            settle(conn, done)  # first: the ops just sent are not local edits to rebase onto the reply
            stored = storable and ((sent is not None and self._store_own(conn, info, rows, sent))
                                   or self._store(conn, info, rows))
            if rows and not stored:
                conn.exec_driver_sql(
                    f"UPDATE {quote(table)} SET created_at = ?, updated_at = ?, {quote(info.owner)} = ? WHERE id = ?",
                    [(r.get("created_at"), r["updated_at"], r.get(info.owner), r["id"]) for r in rows])
            if then is not None:
                then(conn)
        if stored:
            ids = self.result.changed.setdefault(table, set())
            if len(ids) <= ANNOUNCED_IDS:  # beyond, the change listeners hear "the whole table"
                ids.update(r["id"] for r in rows)
            if own_write and not missing:
                self.adopted.add(table, [r["updated_at"] for r in rows])
        self.result.parked += self.writer.parked
        self.writer.parked = 0
        self.result.pushed += len(ops) - len(missing)
        self.progress("push", self.result.pushed)
        if missing:
            raise RequestFailed(Kind.MALFORMED, 201, None,
                                f"{table}: the server's reply did not include {len(missing)} of the rows sent")

    @staticmethod
    def _store_own(conn, info, rows: list[dict], sent: list[dict]) -> bool:
        """sync.push_adopt's fast path, in a savepoint like `_store`; False (nothing written) if it does not
        apply or SQLite refuses the rows."""
        conn.exec_driver_sql("SAVEPOINT adopt_own")
        try:
            done = store_own_inserts(conn, info, rows, {row["id"]: row for row in sent})
        except (sqlalchemy.exc.IntegrityError, sqlite3.IntegrityError):  # (it writes through the sqlite3 cursor)
            done = False
        if not done:
            conn.exec_driver_sql("ROLLBACK TO adopt_own")
        conn.exec_driver_sql("RELEASE adopt_own")
        return done

    def _store(self, conn, info, rows: list[dict]) -> bool:
        """Write the server's rows as a pull would, in a savepoint; False (nothing written) if SQLite refuses
        them, e.g. a reference to a parent this device has not pulled yet."""
        conn.exec_driver_sql("SAVEPOINT adopt")
        try:
            aside = bulkload.TriggersAside(conn, info.name, first_sync=False) if len(rows) >= bulkload.MIN_BATCH \
                else None
            self.writer.write(conn, info, rows, aside=aside)
            if aside is not None:
                aside.restore()
        except sqlalchemy.exc.IntegrityError:
            conn.exec_driver_sql("ROLLBACK TO adopt")
            conn.exec_driver_sql("RELEASE adopt")
            self.writer.parked = 0
            return False
        conn.exec_driver_sql("RELEASE adopt")
        return True
