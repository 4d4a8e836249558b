"""A small settings file of this device (dream.json, attachments.json, backup.json): a dataclass stored as
JSON in the data dir. One reader and one writer for all of them, so each behaves alike: a missing file
means the defaults, an unreadable or odd one is logged and means the defaults too, unknown keys are
dropped, every value is brought into range by the class's `validated()` before use and before saving,
and a save is atomic (local_schema.atomic). Settings shared with the command line's config.json live in
sync/settings.py instead (a locked, per-section writer)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, TypeVar

from local_schema.atomic import atomic_write_json

log = logging.getLogger(__name__)

T = TypeVar("T")


def clamp(value: Any, low, high, default, kind=int):
    """`value` as `kind` within [low, high]; `default` for what is not a number (NaN, Infinity and 1e400
    in a hand-edited file included)."""
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return default if number != number else min(high, max(low, number))


def load(path: str | Path, cls: type[T]) -> T:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return cls()
    except (OSError, ValueError) as exc:
        log.warning("%s is unreadable (%s): using the default settings", path, exc)
        return cls()
    if not isinstance(raw, dict):
        log.warning("%s holds no settings object: using the default settings", path)
        return cls()
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in raw.items() if k in known}).validated()


def save(path: str | Path, settings: T) -> T:
    settings = settings.validated()
    atomic_write_json(path, asdict(settings))
    return settings
