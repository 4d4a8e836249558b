"""The outbox's ops as rows, for tests that check what a write captured (the app reads only counts)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import text

from local_schema.outbox import Executor


@dataclass(frozen=True)
class OutboxOp:
    op_seq: int
    op_uuid: str
    table_name: str
    row_id: str
    kind: str  # insert | update | delete
    changed_columns: list[str] | None  # updates only
    state: str
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    created_at: str


def _op(row) -> OutboxOp:
    return OutboxOp(
        op_seq=row.op_seq,
        op_uuid=row.op_uuid,
        table_name=row.table_name,
        row_id=row.row_id,
        kind=row.kind,
        changed_columns=json.loads(row.changed_columns) if row.changed_columns is not None else None,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
    )


def pending_ops(executor: Executor, limit: int | None = None, due_at: str | None = None) -> list[OutboxOp]:
    """Pending ops in capture order (op_seq). With `due_at`, only those whose next_attempt_at has come.

    `due_at` is compared as text, so pass a `timestamps.utc_now()`-shaped string.
    """
    sql = "SELECT * FROM sync_outbox WHERE state = 'pending'"
    params: dict[str, object] = {}
    if due_at is not None:
        sql += " AND (next_attempt_at IS NULL OR next_attempt_at <= :due)"
        params["due"] = due_at
    sql += " ORDER BY op_seq"
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = int(limit)
    return [_op(row) for row in executor.execute(text(sql), params).all()]


def ops_for_row(executor: Executor, table_name: str, row_id: str) -> list[OutboxOp]:
    """Every outbox op (any state) of one row, oldest first: a row with pending ops is dirty."""
    rows = executor.execute(
        text("SELECT * FROM sync_outbox WHERE table_name = :t AND row_id = :r ORDER BY op_seq"),
        {"t": table_name, "r": row_id},
    ).all()
    return [_op(row) for row in rows]
