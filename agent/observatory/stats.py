"""The Observatory's numbers (rite VI; docs/observatory.md): the tiles, messages and new skills per day, connections.

One read transaction of small COUNTs, so the page is ready in milliseconds even with 100,000 messages.
Messages are the one big table: they are not counted row by row but summed from `message_counts`, the
live messages per UTC quarter hour that triggers keep exact (local migration v7). Every count skips
tombstoned rows (`deleted_at` set) — they are deleted for the user.

Days are the user's days: the last 14 calendar days in the local time zone (or a given one), each
counted from its local midnight to the next. Every zone's midnight is a UTC quarter hour, so a local
day is a range of whole buckets; a day that is 23 or 25 hours long (DST) is counted as it is.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

from sqlalchemy import Connection

CHART_DAYS = 14

# (key, label) in tile order. The keys are what `mirari stats --json` prints.
TILES: tuple[tuple[str, str], ...] = (
    ("connections", "Connections"),
    ("online", "Online"),
    ("conversations", "Conversations"),
    ("messages", "Messages"),
    ("memory_nodes", "Memory nodes"),
    ("skills", "Skills"),
    ("promoted", "Promoted"),
    ("mirror_reports", "Mirror reports"),
    ("templates", "Templates"),
    ("tasks", "Tasks"),
    ("tasks_done", "Tasks done"),
)

# The SQL behind each tile: the same text the tests compare with, so "what a tile counts" is one place.
TILE_SQL: dict[str, str] = {
    "connections": "SELECT count(*) FROM agent_connections WHERE deleted_at IS NULL",
    "online": "SELECT count(*) FROM agent_connections WHERE deleted_at IS NULL AND status = 'online'",
    "conversations": "SELECT count(*) FROM conversations WHERE deleted_at IS NULL",
    "messages": "SELECT coalesce(sum(live), 0) FROM message_counts",  # = count(*) … WHERE deleted_at IS NULL
    "memory_nodes": "SELECT count(*) FROM memory_nodes WHERE deleted_at IS NULL",
    "skills": "SELECT count(*) FROM skills WHERE deleted_at IS NULL",
    "promoted": "SELECT count(*) FROM skills WHERE deleted_at IS NULL AND status = 'promoted'",
    "mirror_reports": "SELECT count(*) FROM mirror_reports WHERE deleted_at IS NULL",
    "templates": "SELECT count(*) FROM templates WHERE deleted_at IS NULL",
    "tasks": "SELECT count(*) FROM tasks WHERE deleted_at IS NULL",
    "tasks_done": "SELECT count(*) FROM tasks WHERE deleted_at IS NULL AND status = 'done'",
}


@dataclass(frozen=True)
class DayCount:
    day: str  # local calendar date, YYYY-MM-DD
    messages: int
    skills: int  # skills created that day


@dataclass(frozen=True)
class ConnectionRow:
    id: str
    name: str
    model: str
    status: str
    checked_at: str | None  # the last reachability check on this device (local only), if any
    error: str | None


@dataclass
class Stats:
    tiles: dict[str, int]
    days: list[DayCount] = field(default_factory=list)
    connections: list[ConnectionRow] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _utc_text(moment: datetime) -> str:
    # Same prefix shape as every stored timestamp ('YYYY-MM-DDTHH:MM:SS', then a fraction or '+00:00'),
    # so text comparison is time comparison: '+' sorts before '.', hence 'HH:MM:SS+00:00' <= 'HH:MM:SS.x+00:00'.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _bucket(moment: datetime) -> str:
    """The message_counts bucket a moment falls in (see local_schema.migrations.v0007)."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:}{utc.minute // 15}"


def _local_midnight(day: date, zone: tzinfo | None) -> datetime:
    if zone is None:
        return datetime(day.year, day.month, day.day).astimezone()  # naive = local time, DST-aware
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def day_bounds(now: datetime, zone: tzinfo | None = None,
               days: int = CHART_DAYS) -> list[tuple[date, datetime, datetime]]:
    """(local date, start, end) for the last `days` local days, oldest first, today last."""
    today = (now.astimezone(zone) if zone is not None else now.astimezone()).date()
    out = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        out.append((day, _local_midnight(day, zone), _local_midnight(day + timedelta(days=1), zone)))
    return out


def count_tiles_in(conn: Connection) -> dict[str, int]:
    return {key: int(conn.exec_driver_sql(TILE_SQL[key]).scalar_one()) for key, _label in TILES}


def per_day_in(conn: Connection, now: datetime | None = None, zone: tzinfo | None = None,
            days: int = CHART_DAYS) -> list[DayCount]:
    """Live messages and new skills per local day: one range read each, sorted into days here."""
    now = now or datetime.now(UTC)
    bounds = day_bounds(now, zone, days)
    edges = [start for _day, start, _end in bounds] + [bounds[-1][2]]
    bucket_edges, text_edges = [_bucket(e) for e in edges], [_utc_text(e) for e in edges]
    messages, skills = [0] * len(bounds), [0] * len(bounds)
    for bucket, live in conn.exec_driver_sql(
            "SELECT bucket, live FROM message_counts WHERE bucket >= ? AND bucket < ?",
            (bucket_edges[0], bucket_edges[-1])):
        messages[bisect_right(bucket_edges, bucket) - 1] += live
    for (created_at,) in conn.exec_driver_sql(
            "SELECT created_at FROM skills WHERE deleted_at IS NULL AND created_at >= ? AND created_at < ?",
            (text_edges[0], text_edges[-1])):
        skills[bisect_right(text_edges, created_at) - 1] += 1  # same text order as SQLite's comparison
    return [DayCount(day.isoformat(), messages[i], skills[i]) for i, (day, _s, _e) in enumerate(bounds)]


def connection_rows_in(conn: Connection) -> list[ConnectionRow]:
    rows = conn.exec_driver_sql(
        "SELECT c.id, c.name, c.model, c.status, k.checked_at, k.error FROM agent_connections c "
        "LEFT JOIN connection_checks k ON k.connection_id = c.id "
        "WHERE c.deleted_at IS NULL ORDER BY c.name COLLATE NOCASE, c.id").all()
    return [ConnectionRow(*row) for row in rows]


def collect(db, now: datetime | None = None, zone: tzinfo | None = None) -> Stats:
    """Everything the Observatory shows, read in one transaction (one consistent snapshot)."""
    with db.engine.connect() as conn:
        return Stats(tiles=count_tiles_in(conn), days=per_day_in(conn, now, zone), connections=connection_rows_in(conn))
