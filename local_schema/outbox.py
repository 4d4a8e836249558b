"""Read helpers over the change-capture outbox, for the sync engine and the status display."""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlmodel import Session

Executor = Session | Connection


def count_pending(executor: Executor) -> int:
    return executor.execute(text("SELECT count(*) FROM sync_outbox WHERE state = 'pending'")).scalar_one()


def count_parked(executor: Executor) -> int:
    """Parked ops, whether marked parked in the outbox or recorded in sync_parked (counted once)."""
    return executor.execute(
        text(
            "SELECT count(*) FROM (SELECT op_seq FROM sync_outbox WHERE state = 'parked'"
            " UNION SELECT op_seq FROM sync_parked)"
        )
    ).scalar_one()
