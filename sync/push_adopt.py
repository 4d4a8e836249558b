"""Adopting the server's reply to our own bulk insert, the fast way (see sync.push_inserts for the rest).

The rows of an insert reply are rows this device has just sent: their client columns are what we sent,
and only the server-managed ones (owner, created_at, updated_at, deleted_at) are new. So when nothing
else is going on with those rows — the reply's client columns equal what was sent, no local edit is
queued for any of them (the sent ops are settled by then), none is quarantined, every one is here — they
are stored with one UPDATE of the server-managed columns (the capture trigger left out for it: capture
is suppressed anyway). Anything else returns False before writing, and the caller stores the rows the
general way (sync.pull_rows.RowWriter), which rebases and checks everything.

The message counts (local migration v7) are the bulk of what such an UPDATE costs: their trigger fires
for every row whose created_at text changes (the server renders the time we sent its own way, trailing
zeros of the fraction dropped) and does two writes to the same count row, which costs more than the
UPDATE itself (docs/sync.md, "Why it is built this way"). Here it is left out for the statement, and the same changes are
applied per quarter-hour bucket instead: minus the old bucket of each row that was live, plus the new
bucket of each row that is live. (Done per row, the trigger decrements before it increments; set-based,
all decrements come first. That differs only for a bucket the counts never had although a live row
belongs to it, which the triggers never leave behind.) A trigger whose stored SQL differs from v7's (a
later migration changed it) is left alone and runs per row.
"""

from __future__ import annotations

import operator
from collections import Counter
from datetime import datetime
from functools import cache
from itertools import repeat

from sync.dbutil import TableInfo, quote

COUNTS_TRIGGER = "message_counts_update"
SET_ASIDE_MIN = 50  # rows: below, the triggers run per row


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


_id = operator.itemgetter("id")
_stamp = operator.itemgetter("updated_at")
_tzinfo = operator.attrgetter("tzinfo")


def all_storable(info: TableInfo, rows: list[dict], user_id: str) -> bool:
    """sync.pull_rows.problem() is None for every row, checked for the whole reply at C speed; False
    when that cannot be told this way (the caller then asks problem() row by row)."""
    try:
        ids = list(map(_id, rows))
        stamps = list(map(datetime.fromisoformat, map(_stamp, rows)))
        owners = list(map(operator.itemgetter(info.owner), rows))
        if not all(map(isinstance, ids, repeat(str))) or "" in ids or None in map(_tzinfo, stamps) \
                or owners.count(user_id) != len(owners):
            return False
        live = [row for row in rows if row.get("deleted_at") is None]
        if any(None in info.required_values(row) for row in live):
            return False
        return all(isinstance(row.get(col), dict | list) for col in info.json_cols & info.required for row in live)
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


def store_own_inserts(conn, info: TableInfo, rows: list[dict], sent: dict[str, dict]) -> bool:
    """Store the server's `rows` (the reply to inserting `sent`, id -> the row sent) with one UPDATE of
    their server-managed columns; False, having written nothing, when that would not be exactly what the
    general path stores (see the module docstring)."""
    if not rows:
        return False
    client = operator.itemgetter(*info.client)
    try:
        if list(map(client, rows)) != [client(sent[row["id"]]) for row in rows]:
            return False
    except KeyError:
        return False
    raw = conn.connection.driver_connection  # the same sqlite3 connection and transaction
    if raw.execute("SELECT EXISTS (SELECT 1 FROM sync_quarantine WHERE table_name = ?)", (info.name,)).fetchone()[0]:
        return False
    ids = list(map(_id, rows))
    local: dict[str, tuple] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for row in raw.execute(
                f"SELECT t.id, t.created_at, t.deleted_at, EXISTS (SELECT 1 FROM sync_outbox o WHERE "
                f"o.table_name = ? AND o.row_id = t.id) FROM {quote(info.name)} t WHERE t.id IN "
                f"({_marks(len(chunk))})", (info.name, *chunk)):
            if row[3]:
                return False  # a change of this row is queued (pending or parked): rebase it the general way
            local[row[0]] = row
    if len(local) != len(ids):
        return False  # a row is gone here: the general path decides what to do with it
    managed = [c for c in info.columns if c not in info.client]
    if info.json_cols.isdisjoint(managed) and info.bool_cols.isdisjoint(managed):
        try:
            values = list(map(operator.itemgetter(*managed, "id"), rows))
        except KeyError:  # a column the server left out stores NULL, as encode() does
            values = [(*map(row.get, managed), row["id"]) for row in rows]
    else:
        positions = [info.columns.index(c) for c in managed]
        values = [(*(info.encode(row)[p] for p in positions), row["id"]) for row in rows]
    update = (f"UPDATE {quote(info.name)} SET {', '.join(f'{quote(c)} = ?' for c in managed)} WHERE id = ?",
              values)
    # For a few rows, dropping and recreating triggers costs more than running them.
    counts = _count_changes(raw, info, rows, local) if len(rows) >= SET_ASIDE_MIN else None
    # Only the triggers this UPDATE fires are set aside, and recreated from their own SQL before the
    # transaction can commit: the capture trigger (capture is suppressed in the caller's transaction, so
    # it would only evaluate its WHEN per row) and, when the counts are done set-based, the counts one.
    saved = _set_aside(raw, [f"{info.name}_capture_update"] + ([COUNTS_TRIGGER] if counts is not None else [])
                       if len(rows) >= SET_ASIDE_MIN else [])
    raw.executemany(*update)
    if counts is not None:
        minus, plus = counts
        raw.executemany("UPDATE message_counts SET live = live - ? WHERE bucket = ?",
                        [(n, b) for b, n in minus.items()])
        raw.executemany("INSERT INTO message_counts (bucket, live) VALUES (?, ?) "
                        "ON CONFLICT (bucket) DO UPDATE SET live = live + excluded.live", list(plus.items()))
    for sql in saved:
        raw.execute(sql)
    return True


def _set_aside(raw, names: list[str]) -> list[str]:
    """Drop the triggers of `names` that exist; their SQL, to recreate them."""
    saved = []
    for name in names:
        found = raw.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)).fetchone()
        if found is not None:
            raw.execute(f"DROP TRIGGER {quote(name)}")
            saved.append(found[0])
    return saved


def _by_bucket(prefixes: Counter) -> dict[str, int] | None:
    out: dict[str, int] = {}
    for prefix, n in prefixes.items():
        key = bucket(prefix)
        if key is None:
            return None
        out[key] = out.get(key, 0) + n
    return out


def _count_changes(raw, info: TableInfo, rows: list[dict], local: dict[str, tuple]):
    """(-n per old bucket, +n per new bucket) of the rows whose count moves, when the counts trigger of
    v7 is there, unchanged, and every timestamp involved reads as a bucket; None otherwise."""
    if info.name != "messages":
        return None
    found = raw.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                        (COUNTS_TRIGGER,)).fetchone()
    if found is None or _norm(found[0]) != _counts_trigger_sql():
        return None
    # The trigger's WHEN: created_at changed, or the row went from live to deleted or back.
    moving = [(old, row) for old, row in zip(map(local.__getitem__, map(_id, rows)), rows, strict=True)
              if old[1] != row.get("created_at") or (old[2] is None) != (row.get("deleted_at") is None)]
    try:  # bucket() reads the first 16 characters only: count those, then read each distinct one
        minus = _by_bucket(Counter(old[1][:16] for old, _ in moving if old[2] is None))
        plus = _by_bucket(Counter(row["created_at"][:16] for _, row in moving if row.get("deleted_at") is None))
    except (TypeError, KeyError):
        return None
    return None if minus is None or plus is None else (minus, plus)
