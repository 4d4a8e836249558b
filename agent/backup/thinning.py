"""Which backups to keep, the way Anki thins its own (rslib's BackupFilter): every backup of today and
yesterday; then, going back in time, the newest backup of each of `daily` days, then of each of
`weekly` weeks, then of each of `monthly` months (defaults 12 / 10 / 9: about a year). The rest go.

Applied per database to the archives MIRARI makes by itself (automatic, before migration, before restore,
before import); a backup the person made (`manual`) is never removed for them. Days, weeks and months
are the person's local ones: `now` carries the time zone (tests inject it, with a clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from local_schema.backup.archive import parse_name

KEPT_FOREVER = "manual"


@dataclass(frozen=True)
class Limits:
    daily: int = 12
    weekly: int = 10
    monthly: int = 9


def created_at(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)


def obsolete(backups: list[tuple[Path, datetime]], limits: Limits, now: datetime) -> list[Path]:
    """The backups (of one database, each with when it was made) that thinning removes, newest first."""
    zone = now.tzinfo or UTC
    yesterday = now.astimezone(zone).date() - timedelta(days=1)
    left = {"daily": limits.daily, "weekly": limits.weekly, "monthly": limits.monthly}
    last_day = last_week = last_month = None
    gone = []
    for path, made in sorted(backups, key=lambda item: item[1], reverse=True):
        day = made.astimezone(zone).date()
        if day >= yesterday:
            continue
        week, month = day.isocalendar()[:2], (day.year, day.month)
        for stage, key, last in (("daily", day, last_day), ("weekly", week, last_week),
                                 ("monthly", month, last_month)):
            if left[stage] > 0 and (last is None or key < last):
                left[stage] -= 1
                last_day, last_week, last_month = day, week, month
                break
        else:
            gone.append(path)
    return gone


def thin_folder(folder: Path, limits: Limits, now: datetime) -> list[Path]:
    """Remove the thinned-out archives of every database in `folder`; returns what was removed."""
    groups: dict[str, list[tuple[Path, datetime]]] = {}
    for archive in Path(folder).glob("*.mirari-backup"):
        parsed = parse_name(archive.name)
        if parsed is None or parsed[2] == KEPT_FOREVER:
            continue
        stem, stamp, _kind = parsed
        groups.setdefault(stem, []).append((archive, created_at(stamp)))
    removed = []
    for backups in groups.values():
        for path in obsolete(backups, limits, now):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
