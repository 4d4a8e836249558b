"""Parked changes: writes the server refused (or that lost to a delete elsewhere), kept visible.

The user can list them, retry them (after editing the row, or once the server accepts it) or discard
them, which restores the server's version of the row (or removes a row the server never had).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

from sync import restored
from sync.dbutil import quote, table_info, write_tx
from sync.errors import SyncError


@dataclass
class ParkedChange:
    op_seq: int
    table: str
    row_id: str
    kind: str
    code: str | None
    message: str | None
    parked_at: str
    snapshot: dict | None  # the local row when it was removed by a delete elsewhere


def list_parked(db) -> list[ParkedChange]:
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT op_seq, table_name, row_id, kind, code, message, parked_at, details FROM sync_parked "
            "ORDER BY op_seq").fetchall()
    out = []
    for op_seq, table, row_id, kind, code, message, parked_at, details in rows:
        snapshot = None
        if details:
            try:
                snapshot = json.loads(details).get("snapshot")
            except (ValueError, AttributeError):
                snapshot = None
        out.append(ParkedChange(op_seq, table, row_id, kind, code, message, parked_at, snapshot))
    return out


def _entry(conn, op_seq: int) -> tuple[str, str]:
    row = conn.exec_driver_sql("SELECT table_name, row_id FROM sync_parked WHERE op_seq = ?", (op_seq,)).fetchone()
    if row is None:
        raise SyncError(f"no parked change #{op_seq}")
    return row[0], row[1]


def retry(db, op_seq: int) -> int:
    """Put every parked op of that row back in the queue (in its original order). Returns how many.
    A change held from a restored backup (sync.restored) is written again from the backup's version."""
    with write_tx(db) as conn:
        table, row_id = _entry(conn, op_seq)
        kind, changed, details = conn.exec_driver_sql(
            "SELECT kind, changed_columns, details FROM sync_parked WHERE op_seq = ?", (op_seq,)).fetchone()
        if restored.is_restored(details):
            restored.retry_restored(conn, table, row_id, kind, changed, details, db.applying_remote)
            conn.exec_driver_sql("DELETE FROM sync_parked WHERE op_seq = ?", (op_seq,))
            return 1
        exists = conn.exec_driver_sql(f"SELECT 1 FROM {quote(table)} WHERE id = ?", (row_id,)).fetchone()
        kinds = {k for (k,) in conn.exec_driver_sql(
            "SELECT kind FROM sync_outbox WHERE table_name = ? AND row_id = ? AND state = 'parked'", (table, row_id))}
        if exists is None and kinds != {"delete"}:  # a delete needs no local row; anything else does
            raise SyncError(f"the {table} row {row_id} no longer exists here; discard this change instead")
        count = conn.exec_driver_sql(
            "UPDATE sync_outbox SET state = 'pending', attempts = 0, last_error = NULL, next_attempt_at = NULL "
            "WHERE table_name = ? AND row_id = ? AND state = 'parked'", (table, row_id)).rowcount
        conn.exec_driver_sql("DELETE FROM sync_parked WHERE table_name = ? AND row_id = ?", (table, row_id))
    return count


def discard(engine, op_seq: int) -> str:
    """Drop the row's parked ops and restore the server's version of the row. Returns what happened.

    Runs under the engine's cycle lock, so it never interleaves with a cycle pushing or pulling that row
    (the lock waits for a running cycle to end). Only the signed-in user's own row is restored: a row of
    another user the server lets us read (someone's public template with that id) counts as none."""
    user_id = _signed_in_user(engine)
    with engine.cycle_lock():
        db = engine.database()
        with db.engine.connect() as conn:
            table, row_id = _entry(conn, op_seq)
        info = table_info(table)
        server = _own_server_row(engine, table, row_id, user_id)
        with engine.remote_tx(db) as conn:
            conn.exec_driver_sql("DELETE FROM sync_outbox WHERE table_name = ? AND row_id = ? AND state = 'parked'",
                                 (table, row_id))
            conn.exec_driver_sql("DELETE FROM sync_parked WHERE table_name = ? AND row_id = ?", (table, row_id))
            if server is None or server.get("deleted_at"):
                conn.exec_driver_sql(f"DELETE FROM {quote(table)} WHERE id = ?", (row_id,))
                outcome = "removed locally (the server has no live row of yours)"
            else:
                from sync.pull_rows import upsert_sql

                conn.exec_driver_sql(upsert_sql(info), info.encode(server))
                outcome = "restored the server's version"
            # Children removed by that delete (local cascade) take their queued ops with them.
            for child, _fk in _children(table):
                conn.exec_driver_sql(
                    f"DELETE FROM sync_outbox WHERE table_name = ? AND kind <> 'delete' AND row_id NOT IN "
                    f"(SELECT id FROM {quote(child)})", (child,))
    return outcome


def _signed_in_user(engine) -> str:
    from sync import accounts
    from sync.errors import SignInNeeded

    state = accounts.load_state(engine.data_dir)
    if not state.signed_in or not state.active_account:
        raise SignInNeeded("sign in to discard a refused change (the server's version is needed)")
    return state.active_account


def _own_server_row(engine, table: str, row_id: str, user_id: str) -> dict | None:
    info = table_info(table)
    rows = engine.rest().select(table, {"select": ",".join(info.columns), "id": f"eq.{row_id}"})
    return rows[0] if rows and rows[0].get(info.owner) == user_id else None


def _children(table: str):
    from sync.pull_rows import cascade_children

    return cascade_children(table)


# -- for the window's Sync panel -------------------------------------------------------------------------
def counts(db) -> tuple[int, int]:
    """(rows with changes waiting to be pushed, rows with a refused change): what the status chip shows.
    Rows, not outbox entries: 2,000 streamed edits of one reply are one change waiting."""
    with db.engine.connect() as conn:
        waiting = conn.exec_driver_sql(
            "SELECT count(*) FROM (SELECT DISTINCT table_name, row_id FROM sync_outbox WHERE state = 'pending')"
        ).scalar()
        refused = conn.exec_driver_sql(
            "SELECT count(*) FROM (SELECT DISTINCT table_name, row_id FROM sync_parked)").scalar()
    return int(waiting or 0), int(refused or 0)


@dataclass
class WaitingChange:
    table: str
    row_id: str
    kind: str  # the first change of the row still waiting: insert | update | delete
    changes: int
    attempts: int
    last_error: str | None


def list_waiting(db, limit: int = 200) -> list[WaitingChange]:
    """Rows with changes not pushed yet, oldest first (at most `limit`)."""
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT table_name, row_id, min(op_seq), count(*), max(attempts), max(last_error) FROM sync_outbox "
            "WHERE state = 'pending' GROUP BY table_name, row_id ORDER BY min(op_seq) LIMIT ?", (limit,)).fetchall()
        out = []
        for table, row_id, first, count, attempts, error in rows:
            kind = conn.exec_driver_sql("SELECT kind FROM sync_outbox WHERE op_seq = ?", (first,)).scalar()
            out.append(WaitingChange(table, row_id, kind, count, attempts or 0, error))
    return out


def attempted_write(db, change: ParkedChange) -> dict:
    """What the refused change tried to write: the changed columns' local values (an update), the whole
    row (an insert), nothing (a delete); the snapshot when the row was removed by a delete elsewhere."""
    if change.kind == "delete":
        return {}
    info = table_info(change.table)
    with db.engine.connect() as conn:
        changed = conn.exec_driver_sql(
            "SELECT changed_columns FROM sync_parked WHERE op_seq = ?", (change.op_seq,)).scalar()
    if change.snapshot is not None:
        if change.code == restored.RESTORED_CODE and change.kind == "update" and changed:
            with contextlib.suppress(ValueError):  # the backup's values of the columns it had changed
                return {c: change.snapshot.get(c) for c in ["id", *json.loads(changed)] if c in change.snapshot}
        return dict(change.snapshot)
    with db.engine.connect() as conn:
        columns = list(info.client)
        if change.kind == "update" and changed:
            with contextlib.suppress(ValueError):
                columns = ["id", *[c for c in json.loads(changed) if c in info.columns]]
        row = conn.exec_driver_sql(f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(change.table)} "
                                   "WHERE id = ?", (change.row_id,)).fetchone()
    return dict(zip(columns, row, strict=True)) if row is not None else {}


def server_version(engine, change: ParkedChange) -> dict | None:
    """The server's live row of the signed-in user for that change (what Discard restores), or None."""
    row = _own_server_row(engine, change.table, change.row_id, _signed_in_user(engine))
    return None if row is None or row.get("deleted_at") else row
