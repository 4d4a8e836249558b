"""Push, the insert half: bulk POSTs, one at a time and each sent while the previous reply is stored, and
storing the server's replies (see sync.push for the whole of push).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy.exc

from sync import bulkload
from sync.dbutil import quote, table_info, write_tx
from sync.errors import Kind, RequestFailed
from sync.outbox import NetOp, mark_sent, park, settle
from sync.pull import ANNOUNCED_IDS
from sync.pull_rows import problem

# Failures that say nothing about the change sent: the cycle ends, the change waits (never parked).
NOT_ABOUT_THIS_CHANGE = (Kind.TRANSIENT, Kind.AUTH, Kind.MALFORMED, Kind.MISCONFIGURED)


class Inserts:
    """Mixed into sync.push.Pusher (it provides db, rest, user_id, remote_tx, paused, result, writer,
    adopted, progress and the park/defer/pause helpers)."""

    def _insert_pipelined(self, batches: list[tuple[str, list[NetOp]]]) -> None:
        """Insert batches in order, one request at a time, each sent while the previous reply is stored.

        POST k+1 leaves once POST k has been answered (so a parent is on the server before its children
        are sent, and the user's requests never queue behind each other's stamp lock), and while the
        server works on it this thread stores reply k. A failed request is handled on the spot, as
        `_insert_batch` does, before anything else is sent."""
        # Leaving the block waits for a request still in flight (its ops are marked sent: if this cycle
        # stops here, the next one recognises the rows it finds on the server as its own).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mirari-push") as pool:
            stored: tuple[str, list[dict], list[NetOp]] | None = None  # a reply waiting to be stored
            for table, ops in batches:
                prepared = None if table in self.paused else self._prepare_batch(table, ops)
                future = pool.submit(self.rest.insert, table, prepared[0]) if prepared else None
                if stored is not None:
                    done, stored = stored, None
                    self._adopt(*done, own_write=True)  # while the next request is on its way
                if future is None:
                    continue
                try:
                    returned = future.result()
                except RequestFailed as exc:
                    self._batch_failed(table, prepared[1], exc, retried=False)
                    continue
                stored = (table, returned, prepared[1])
            if stored is not None:
                self._adopt(*stored, own_write=True)

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
        self._adopt(table, returned, present, own_write=True)

    def _prepare_batch(self, table: str, ops: list[NetOp]) -> tuple[list[dict], list[NetOp]] | None:
        """The rows to send for `ops` (their current values), marked sent; None if none is left to send."""
        info = table_info(table)
        cols = ", ".join(quote(c) for c in info.client)
        rows, present = [], []
        with write_tx(self.db) as conn:
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
                row = info.decode_client(tuple(values))
                wait = self._parent_waiting(table, row)
                if wait is not None:  # its parent is not on the server yet: sending it would only fail
                    self._defer(conn, op, wait)
                    continue
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
