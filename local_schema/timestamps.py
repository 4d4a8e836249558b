"""Timestamps as the server renders them: UTC ISO-8601 strings with microseconds.

The mirror stores timestamps as text so a value pulled from the server round-trips byte for byte (the
sync cursor depends on that). Local writes use `utc_now()`, which renders the same shape PostgREST does
for a UTC session: ``2024-05-01T12:00:00.123456+00:00``.

PostgreSQL trims trailing zeros of the fraction in JSON (``12:00:00.1+00:00``, or no fraction at all),
so code that *compares* timestamps from both sources should parse them (`parse_timestamp`) or normalise
them (`normalize_timestamp`); never rewrite a pulled value before storing it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Accepts the server's rendering and common variants: 'T' or ' ', 0-6 fraction digits, 'Z' or ±HH[:MM].
_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}(?::?\d{2})?)$"
)


def format_timestamp(moment: datetime) -> str:
    """Render an aware datetime in UTC with exactly six fraction digits and a '+00:00' offset."""
    if moment.tzinfo is None:
        raise ValueError("refusing a naive datetime: timestamps must carry a time zone")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _now() -> datetime:
    # This device's clock, read by every local stamp (utc_now, now_micros). One function, so a test can
    # play a device whose clock is off.
    return datetime.now(UTC)


def utc_now() -> str:
    """The current time as 'YYYY-MM-DDTHH:MM:SS.ffffff+00:00'."""
    return format_timestamp(_now())


def now_micros() -> int:
    """This device's clock in microseconds since the Unix epoch (for messages.seq)."""
    return to_micros(utc_now())


def parse_timestamp(value: str) -> datetime:
    """Parse a server or local timestamp string into an aware UTC datetime; ValueError if malformed."""
    if not isinstance(value, str):
        raise ValueError(f"timestamp must be a string, got {type(value).__name__}")
    match = _TIMESTAMP.match(value.strip())
    if not match:
        raise ValueError(f"not an ISO-8601 timestamp with a time zone: {value!r}")
    date, clock, fraction, zone = match.groups()
    if zone == "Z":
        zone = "+00:00"
    elif len(zone) == 3:
        zone += ":00"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    text = f"{date}T{clock}.{(fraction or '').ljust(6, '0')}{zone}"
    return datetime.fromisoformat(text).astimezone(UTC)


def normalize_timestamp(value: str) -> str:
    """Re-render any accepted timestamp string in the canonical six-digit UTC form."""
    return format_timestamp(parse_timestamp(value))


def to_micros(value: str) -> int:
    """Microseconds since the Unix epoch of a timestamp string (exact; the server computes the same)."""
    moment = parse_timestamp(value)
    return (moment.toordinal() - _EPOCH_ORDINAL) * 86_400_000_000 + (
        moment.hour * 3600 + moment.minute * 60 + moment.second) * 1_000_000 + moment.microsecond


_EPOCH_ORDINAL = datetime(1970, 1, 1).toordinal()
