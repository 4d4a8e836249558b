"""Run a multi-statement SQL script inside the caller's transaction.

`sqlite3.Connection.executescript` commits any open transaction first, which would break the
one-transaction-per-migration guarantee, so statements are split and executed one by one.
"""

from __future__ import annotations

import sqlite3


def split_statements(script: str) -> list[str]:
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        # complete_statement understands string literals and CREATE TRIGGER ... BEGIN ... END bodies.
        if sqlite3.complete_statement(pending):
            if pending.strip().strip(";").strip():
                statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement at the end of the script: {pending.strip()[:80]!r}")
    return statements


def run_script(conn: sqlite3.Connection, script: str) -> None:
    for statement in split_statements(script):
        conn.execute(statement)
