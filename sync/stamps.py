"""Server timestamps as datetimes, for ordering them (never for comparing with a local clock).

Light on purpose (no SQLAlchemy): the idle check of a cold `mirari sync` compares stamps too.
"""

from __future__ import annotations

from datetime import datetime

from local_schema.timestamps import parse_timestamp


def server_stamp(value) -> datetime:
    """Parse a server timestamp (fast path for PostgREST's own rendering); ValueError if it is not one."""
    if isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value)
            if stamp.tzinfo is not None:
                return stamp
        except ValueError:
            pass
    return parse_timestamp(value)
