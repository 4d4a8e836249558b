"""Versioned local migrations, tracked in PRAGMA user_version.

Each version is a module `vNNNN_<name>.py` with `upgrade(conn: sqlite3.Connection)`, listed in
MIGRATIONS below (an explicit list, not directory discovery, so frozen installer builds find them).
Every version runs in its own transaction together with its user_version bump: a failed step leaves
the file exactly at the previous version. Backups are taken by `local_schema.database` before this runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from local_schema.migrations import (
    v0001_initial,
    v0002_search_and_checks,
    v0003_skill_tests,
    v0004_dream_reports,
    v0005_mirror_review,
    v0006_message_order,
    v0007_observatory_and_templates,
    v0008_search_backlog,
    v0009_message_authorship,
    v0010_memory_dedup_index,
    v0011_message_trees,
    v0012_tools,
    v0013_attachments_and_knowledge,
    v0014_skill_tools,
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    upgrade: Callable[[sqlite3.Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial", v0001_initial.upgrade),
    Migration(2, "search_and_checks", v0002_search_and_checks.upgrade),
    Migration(3, "skill_tests", v0003_skill_tests.upgrade),
    Migration(4, "dream_reports", v0004_dream_reports.upgrade),
    Migration(5, "mirror_review", v0005_mirror_review.upgrade),
    Migration(6, "message_order", v0006_message_order.upgrade),
    Migration(7, "observatory_and_templates", v0007_observatory_and_templates.upgrade),
    Migration(8, "search_backlog", v0008_search_backlog.upgrade),
    Migration(9, "message_authorship", v0009_message_authorship.upgrade),
    Migration(10, "memory_dedup_index", v0010_memory_dedup_index.upgrade),
    Migration(11, "message_trees", v0011_message_trees.upgrade),
    Migration(12, "tools", v0012_tools.upgrade),
    Migration(13, "attachments_and_knowledge", v0013_attachments_and_knowledge.upgrade),
    Migration(14, "skill_tools", v0014_skill_tools.upgrade),
)
LATEST_VERSION = MIGRATIONS[-1].version


class MigrationError(RuntimeError):
    """A migration step failed; the database was left at the version named in the message."""


class SchemaTooNew(RuntimeError):
    """The file was written by a newer MIRARI whose schema this version does not know."""


def user_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, target: int | None = None) -> list[int]:
    """Apply every migration above the file's version up to `target` (default: latest). Returns versions run.

    `conn` must be in autocommit mode (isolation_level=None); transactions are managed here.
    """
    target = LATEST_VERSION if target is None else target
    current = user_version(conn)
    if current > LATEST_VERSION:
        raise SchemaTooNew(
            f"database schema v{current} is newer than this MIRARI understands (v{LATEST_VERSION}); "
            "update MIRARI to open it"
        )
    applied: list[int] = []
    # Foreign keys are switched off while tables may be rebuilt (SQLite's documented ALTER procedure)
    # and checked explicitly before each commit instead.
    foreign_keys = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        for migration in MIGRATIONS:
            if not current < migration.version <= target:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                migration.upgrade(conn)
                violations = conn.execute("PRAGMA foreign_key_check").fetchall()
                if violations:
                    raise MigrationError(f"foreign key violations after the step: {violations[:5]}")
                conn.execute(f"PRAGMA user_version = {migration.version:d}")
                conn.execute("COMMIT")
            except Exception as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise MigrationError(
                    f"local migration v{migration.version} ({migration.name}) failed: {exc}; "
                    f"the database is unchanged at v{current}"
                ) from exc
            current = migration.version
            applied.append(migration.version)
    finally:
        conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    return applied
