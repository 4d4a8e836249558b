"""A restored backup on an account's device: its waiting changes are held, everything newer is pulled.

A backup is a moment of the past. Its outbox holds the changes that were waiting to be pushed then;
some were pushed after the backup was taken, and other devices may have changed the same rows since.
Pushing them again after a restore would write old values over newer ones on every device. So, in the
staged database, before it is swapped in (agent/backup calls `settle_restored`):

- every change waiting in the outbox is taken out of the queue and held as a refused (parked) change
  with the reason "from a restored backup", keeping the backup's version of the row (a snapshot); the
  person decides in the Sync panel (or `mirari parked`): **Retry** writes the backup's version again as
  a new change and pushes it, **Discard** keeps the server's;
- the pull cursors are forgotten, so the next cycle pulls every row again: what other devices changed
  since the backup wins, rows deleted elsewhere go, rows made elsewhere come;
- rows without an owner (a backup made before the first sign-in) are claimed for the account.

Changes already parked in the backup stay parked as they were. Local-only data (attachments' files,
connection checks, installed templates) is the backup's.
"""

from __future__ import annotations

import json
import sqlite3

from local_schema.models import SYNCED_TABLES, owner_column
from sync.outbox import coalesce

RESTORED = "from a restored backup"
RESTORED_CODE = "restored"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(conn: sqlite3.Connection) -> list[str]:
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [t for t in SYNCED_TABLES if t in present]


def settle_restored(conn: sqlite3.Connection, account_id: str, parked_at: str) -> int:
    """Hold the waiting changes, forget the cursors, claim unowned rows (see the module docstring) in
    one transaction on `conn` (plain sqlite3, autocommit). Returns how many rows' changes are held."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("UPDATE sync_meta SET value = '1' WHERE key = 'capture_suppressed'")
        for table in _tables(conn):
            owner = _quote(owner_column(table))
            conn.execute(f"UPDATE {_quote(table)} SET {owner} = ? WHERE {owner} IS NULL", (account_id,))
        conn.execute("UPDATE sync_meta SET value = '0' WHERE key = 'capture_suppressed'")
        pending = conn.execute("SELECT op_seq, table_name, row_id, kind, changed_columns, attempts FROM sync_outbox "
                               "WHERE state = 'pending' ORDER BY op_seq").fetchall()
        held = 0
        for op in coalesce(pending):
            if op.kind == "noop":  # an insert and its delete, neither ever sent: nothing to decide
                continue
            row = conn.execute(f"SELECT * FROM {_quote(op.table)} WHERE id = ?", (op.row_id,))
            values = row.fetchone()
            snapshot = dict(zip([d[0] for d in row.description], values, strict=True)) if values else None
            conn.execute(
                "INSERT OR REPLACE INTO sync_parked (op_seq, table_name, row_id, kind, changed_columns, code, "
                "message, parked_at, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (op.first_seq, op.table, op.row_id, op.kind, json.dumps(sorted(op.columns)) if op.columns else None,
                 RESTORED_CODE, RESTORED, parked_at, json.dumps({"snapshot": snapshot, "restored": True}, default=str)))
            held += 1
        conn.execute("DELETE FROM sync_outbox WHERE state = 'pending'")
        conn.execute("DELETE FROM sync_cursors")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return held


def is_restored(details: str | None) -> bool:
    try:
        return bool(json.loads(details or "{}").get("restored"))
    except (ValueError, AttributeError):
        return False


def retry_restored(conn, table: str, row_id: str, kind: str, changed: str | None, details: str,
                   suppress) -> None:
    """Write the backup's version again, as a new local change that the next cycle pushes (inside the
    caller's write transaction `conn`; `suppress(conn)`: a block in which writes are not captured)."""
    from sync.dbutil import quote
    from sync.errors import SyncError

    snapshot = json.loads(details).get("snapshot") or {}
    exists = conn.exec_driver_sql(f"SELECT 1 FROM {quote(table)} WHERE id = ?", (row_id,)).fetchone() is not None
    columns = {c for (c,) in conn.exec_driver_sql(f"SELECT name FROM pragma_table_info('{table}')")}
    if kind == "delete":
        if exists:
            conn.exec_driver_sql(f"DELETE FROM {quote(table)} WHERE id = ?", (row_id,))
        return
    if kind == "update":
        if not exists:
            raise SyncError(f"the {table} row {row_id} no longer exists here (it was deleted on another device); "
                            "discard this change instead")
        wanted = [c for c in json.loads(changed or "[]") if c in columns and c in snapshot and c != "id"]
        if wanted:
            conn.exec_driver_sql(f"UPDATE {quote(table)} SET {', '.join(f'{quote(c)} = ?' for c in wanted)} "
                                 "WHERE id = ?", (*(snapshot[c] for c in wanted), row_id))
        return
    values = {c: v for c, v in snapshot.items() if c in columns}
    if not exists:  # captured as an insert
        conn.exec_driver_sql(f"INSERT INTO {quote(table)} ({', '.join(map(quote, values))}) "
                             f"VALUES ({', '.join('?' * len(values))})", tuple(values.values()))
        return
    # The row is here (the pull left it, so the server may not have it): the backup's values, and an insert
    # queued for it (a server that has the row already keeps its own, newer version).
    with suppress(conn):
        rest = [c for c in values if c != "id"]
        if rest:
            conn.exec_driver_sql(f"UPDATE {quote(table)} SET {', '.join(f'{quote(c)} = ?' for c in rest)} "
                                 "WHERE id = ?", (*(values[c] for c in rest), row_id))
    import uuid

    conn.exec_driver_sql("INSERT INTO sync_outbox (op_uuid, table_name, row_id, kind) VALUES (?, ?, ?, 'insert')",
                         (str(uuid.uuid4()), table, row_id))
