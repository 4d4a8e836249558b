"""Parked changes: writes the server refused (or that lost to a delete elsewhere), kept visible.

The user can list them, retry them (after editing the row, or once the server accepts it) or discard
them, which restores the server's version of the row (or removes a row the server never had).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

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
    """Put every parked op of that row back in the queue (in its original order). Returns how many."""
    with write_tx(db) as conn:
        table, row_id = _entry(conn, op_seq)
        exists = conn.exec_driver_sql(f"SELECT 1 FROM {quote(table)} WHERE id = ?", (row_id,)).fetchone()
        kinds = {k for (k,) in conn.exec_driver_sql(
            "SELECT kind FROM sync_outbox WHERE table_name = ? AND row_id = ? AND state = 'parked'", (table, row_id))}
        if exists is None and kinds != {"delete"}:  # a delete needs no local row; anything else does
            raise SyncError(f"the {table} row {row_id} no longer exists here; discard this change instead")
        count = conn.exec_driver_sql(
            "UPDATE sync_outbox SET state = 'pending', attempts = 0, last_error = NULL "
            "WHERE table_name = ? AND row_id = ? AND state = 'parked'", (table, row_id)).rowcount
        conn.exec_driver_sql("DELETE FROM sync_parked WHERE table_name = ? AND row_id = ?", (table, row_id))
    return count


def discard(engine, op_seq: int) -> str:
    """Drop the row's parked ops and restore the server's version of the row. Returns what happened."""
    db = engine.database()
    with db.engine.connect() as conn:
        table, row_id = _entry(conn, op_seq)
    info = table_info(table)
    rows = engine.rest().select(table, {"select": ",".join(info.columns), "id": f"eq.{row_id}"})
    server = rows[0] if rows and rows[0].get(info.owner) else None
    with engine.remote_tx() as conn:
        conn.exec_driver_sql("DELETE FROM sync_outbox WHERE table_name = ? AND row_id = ? AND state = 'parked'",
                             (table, row_id))
        conn.exec_driver_sql("DELETE FROM sync_parked WHERE table_name = ? AND row_id = ?", (table, row_id))
        if server is None or server.get("deleted_at"):
            conn.exec_driver_sql(f"DELETE FROM {quote(table)} WHERE id = ?", (row_id,))
            outcome = "removed locally (the server has no live row)"
        else:
            cols = ", ".join(quote(c) for c in info.columns)
            marks = ", ".join("?" * len(info.columns))
            updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in info.columns if c != "id")
            conn.exec_driver_sql(f"INSERT INTO {quote(table)} ({cols}) VALUES ({marks}) "
                                 f"ON CONFLICT(id) DO UPDATE SET {updates}", info.encode(server))
            outcome = "restored the server's version"
        # Children removed by that delete (local cascade) take their queued ops with them.
        for child, _fk in _children(table):
            conn.exec_driver_sql(
                f"DELETE FROM sync_outbox WHERE table_name = ? AND kind <> 'delete' AND row_id NOT IN "
                f"(SELECT id FROM {quote(child)})", (child,))
    return outcome


def _children(table: str):
    from sync.pull import cascade_children

    return cascade_children(table)
