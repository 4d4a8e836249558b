"""Adopting the server's reply to our own bulk insert, the fast way (see sync.push_inserts for the rest).

The rows of an insert reply are rows this device has just sent: their client columns are what we sent,
and only the server-managed ones (owner, created_at, updated_at, deleted_at) are new. So when nothing
else is going on with those rows — the reply's client columns equal what was sent, no local edit is
queued for any of them (the sent ops are settled by then), none is quarantined, every one is here — they
are stored with one UPDATE of the server-managed columns, through `bulkload.TriggersAside` (capture
triggers left out: capture is suppressed anyway). Anything else returns False before writing, and the
caller stores the rows the general way (sync.pull_rows.RowWriter), which rebases and checks everything.

The message counts (local migration v7) are the bulk of what such an UPDATE costs: their trigger fires
for every row (the server's created_at replaces ours) and does two writes to the same count row — ~30 µs
a row, three times the UPDATE itself. Here it is left out for the statement, and the same changes are
applied per quarter-hour bucket instead: minus the old bucket of each row that was live, plus the new
bucket of each row that is live. (Done per row, the trigger decrements before it increments; set-based,
all decrements come first. That differs only for a bucket the counts never had although a live row
belongs to it, which the triggers never leave behind.) A trigger whose stored SQL differs from v7's (a
later migration changed it) is left alone and runs per row.
"""

from __future__ import annotations

import operator
from functools import cache

from sync import bulkload
from sync.dbutil import TableInfo, quote

COUNTS_TRIGGER = "message_counts_update"


def _norm(sql: str) -> str:
    return sql.strip().rstrip(";").strip()


@cache
def _counts_trigger_sql() -> str:
    """The counts trigger as local migration v7 created it."""
    from local_schema.migrations import v0007_observatory_and_templates as v7
    from local_schema.migrations._script import split_statements

    return _norm(next(sql for sql in split_statements(v7.SQL) if sql.startswith(f"CREATE TRIGGER {COUNTS_TRIGGER} ")))


def bucket(created_at) -> str | None:
    """v7's bucket_sql in Python, for the timestamps it reads the same way; None for any other value."""
    if not isinstance(created_at, str) or len(created_at) < 16 or not created_at[14:16].isdigit() \
            or not created_at[14:16].isascii():
        return None
    return created_at[:14] + str(int(created_at[14:16]) // 15)


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _queued(raw, table: str, ids: list[str]) -> bool:
    """Whether any of `ids` has an op in the outbox (pending or parked)."""
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        if raw.execute(f"SELECT EXISTS (SELECT 1 FROM sync_outbox WHERE table_name = ? AND row_id IN "
                       f"({_marks(len(chunk))}))", (table, *chunk)).fetchone()[0]:
            return True
    return False


def store_own_inserts(conn, info: TableInfo, rows: list[dict], sent: dict[str, dict]) -> bool:
    """Store the server's `rows` (the reply to inserting `sent`, id -> the row sent) with one UPDATE of
    their server-managed columns; False, having written nothing, when that would not be exactly what the
    general path stores (see the module docstring)."""
    if len(rows) < bulkload.MIN_BATCH:
        return False  # setting triggers aside costs more than it saves
    client = operator.itemgetter(*info.client)
    for row in rows:
        mine = sent.get(row["id"])
        if mine is None or client(row) != client(mine):
            return False
    raw = conn.connection.driver_connection  # the same sqlite3 connection and transaction
    ids = [row["id"] for row in rows]
    if _queued(raw, info.name, ids) or raw.execute("SELECT EXISTS (SELECT 1 FROM sync_quarantine WHERE "
                                                   "table_name = ?)", (info.name,)).fetchone()[0]:
        return False
    managed = [c for c in info.columns if c not in info.client]
    local: dict[str, tuple] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for row in raw.execute(f"SELECT id, created_at, deleted_at FROM {quote(info.name)} WHERE id IN "
                               f"({_marks(len(chunk))})", chunk):
            local[row[0]] = row
    if len(local) != len(ids):
        return False  # a row is gone here: the general path decides what to do with it
    positions = [info.columns.index(c) for c in managed]
    values = []
    for row in rows:
        encoded = info.encode(row)
        values.append((*(encoded[p] for p in positions), row["id"]))
    update = (f"UPDATE {quote(info.name)} SET {', '.join(f'{quote(c)} = ?' for c in managed)} WHERE id = ?",
              values)
    counts = _count_changes(raw, info, rows, local)
    aside = bulkload.TriggersAside(conn, info.name, first_sync=False)
    aside.update(lambda: _update_counted(raw, update, counts))
    aside.restore()
    return True


def _count_changes(raw, info: TableInfo, rows: list[dict], local: dict[str, tuple]):
    """(-1 per old bucket, +1 per new bucket) of the rows whose count moves, when the counts trigger of
    v7 is there, unchanged, and every timestamp involved reads as a bucket; None otherwise."""
    if info.name != "messages":
        return None
    found = raw.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                        (COUNTS_TRIGGER,)).fetchone()
    if found is None or _norm(found[0]) != _counts_trigger_sql():
        return None
    minus: dict[str, int] = {}
    plus: dict[str, int] = {}
    for row in rows:
        _, old_created, old_deleted = local[row["id"]]
        new_created, new_deleted = row.get("created_at"), row.get("deleted_at")
        if old_created == new_created and (old_deleted is None) == (new_deleted is None):
            continue  # the trigger's WHEN: nothing moves
        if old_deleted is None:
            old = bucket(old_created)
            if old is None:
                return None
            minus[old] = minus.get(old, 0) + 1
        if new_deleted is None:
            new = bucket(new_created)
            if new is None:
                return None
            plus[new] = plus.get(new, 0) + 1
    return minus, plus


def _update_counted(raw, update: tuple[str, list], counts) -> None:
    if counts is None:
        raw.executemany(*update)
        return
    (sql,) = raw.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                         (COUNTS_TRIGGER,)).fetchone()
    raw.execute(f"DROP TRIGGER {quote(COUNTS_TRIGGER)}")
    raw.executemany(*update)
    minus, plus = counts
    raw.executemany("UPDATE message_counts SET live = live - ? WHERE bucket = ?",
                    [(n, b) for b, n in minus.items()])
    raw.executemany("INSERT INTO message_counts (bucket, live) VALUES (?, ?) "
                    "ON CONFLICT (bucket) DO UPDATE SET live = live + excluded.live", list(plus.items()))
    raw.execute(sql)
