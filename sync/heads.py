"""An idle sync in one request: the server's newest stamp per table against the local cursors.

`sync_heads()` (supabase/migrations …120000_sync_heads.sql) returns, for the caller, each table's newest
`updated_at`. Stamps are unique and commit-ordered per user, so a table whose head is not after its cursor
has nothing to pull, and a row committed after the call moves the head for the next cycle. A cycle with
no pending local change and no moved head is therefore one request, and — run cold as `mirari sync` —
never imports SQLAlchemy: this module reads and writes the prepared file with plain sqlite3.

A server without the function (its schema not updated yet) answers 404; the cycle then pulls every
table as before.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sync.errors import Kind, RequestFailed, missing_function
from sync.stamps import server_stamp

RPC = "/rpc/sync_heads"
# The synced tables, parents first (= local_schema.models.SYNCED_TABLES; a test keeps them equal). Listed
# here so the idle check does not import the models (SQLModel and SQLAlchemy: half a second cold).
SYNCED_TABLES = ("agent_connections", "conversations", "messages", "attachments", "memory_nodes", "skills",
                 "mirror_reports", "tasks", "templates", "dream_reports")
INDEX_META = "deferred_indexes:"  # sync_meta keys of a first sync's indexes still to build (sync.bulkload)
BUSY_TIMEOUT_S = 5.0
_DUE = "(next_attempt_at IS NULL OR next_attempt_at <= strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now'))"


@dataclass
class LocalLook:
    cursors: dict[str, str] = field(default_factory=dict)
    work: bool = False  # local changes to push, or a first sync's index work left to finish


def look(path: Path) -> LocalLook:
    """Cursors and whether anything local is waiting, from a file `prepare_file` has already checked."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
    try:
        cursors = dict(conn.execute("SELECT table_name, cursor FROM sync_cursors WHERE cursor IS NOT NULL"))
        work = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM sync_outbox WHERE state = 'pending')"
            " OR EXISTS (SELECT 1 FROM sync_meta WHERE substr(key, 1, ?) = ?)"
            " OR EXISTS (SELECT 1 FROM messages_fts_backlog)"
            f" OR EXISTS (SELECT 1 FROM attachment_uploads WHERE {_DUE})"  # bytes to move (sync.attachments)
            f" OR EXISTS (SELECT 1 FROM attachment_removals WHERE storage_path IS NOT NULL AND {_DUE})",
            (len(INDEX_META), INDEX_META)).fetchone()[0]
    finally:
        conn.close()
    return LocalLook(cursors, bool(work))


UNSUPPORTED = "unsupported"  # fetch(): the server has no sync_heads (its schema is older)


def fetch(rest) -> dict[str, str | None] | str | None:
    """The server's head per table; UNSUPPORTED if the server has no sync_heads; None if it failed with a
    server error (5xx: the cycle goes on and pulls every table, as a push's 5xx does not stop the pull).
    Network trouble, 429/503 and the like raise: they would fail the rest of the cycle too."""
    try:
        heads = rest.request("POST", RPC, json_body={})
    except RequestFailed as exc:
        if missing_function(exc):
            return UNSUPPORTED
        if exc.kind is Kind.SERVER:
            return None
        raise
    if not isinstance(heads, dict) or not all(v is None or isinstance(v, str) for v in heads.values()):
        raise RequestFailed(Kind.MALFORMED, 200, None, "sync_heads: expected an object of timestamps")
    return heads


def moved(heads: dict[str, str | None], cursors: dict[str, str]) -> set[str]:
    """The tables that may have rows after their cursor. A table the server did not name, or a stamp
    that does not parse, counts as moved: the pull itself then decides (and reports what is wrong)."""
    found = set()
    for table in SYNCED_TABLES:
        if table not in heads:
            found.add(table)
            continue
        head, cursor = heads[table], cursors.get(table)
        if head is None:
            continue  # no row of the caller's on the server: nothing to pull
        try:
            if cursor is None or server_stamp(head) > server_stamp(cursor):
                found.add(table)
        except ValueError:
            found.add(table)
    return found


def record(path: Path, state: str, error: str | None, synced_at: str | None) -> None:
    """Keep the cycle's outcome in sync_meta for `mirari status` and the next start (bookkeeping of the
    sync engine only: no synced row, so no change capture and nothing for change listeners)."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        upsert = ("INSERT INTO sync_meta (key, value) VALUES (?, ?) "
                  "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        conn.execute(upsert, ("sync_state", state))
        if error is None:
            conn.execute("DELETE FROM sync_meta WHERE key = 'sync_error'")
        else:
            conn.execute(upsert, ("sync_error", error))
        if synced_at is not None:
            conn.execute(upsert, ("last_sync", synced_at))
        conn.execute("COMMIT")
    finally:
        conn.close()
