"""The promotion threshold: a setting shared by the window and the command line, `skills.promote_min_score`
in config.json (read and written through sync/settings.py, which keeps the other sections)."""

from __future__ import annotations

import math

from agent.skills.forge import DEFAULT_MIN_SCORE, SkillError

SECTION = "skills"


def load_min_score(data_dir) -> float:
    """`skills.promote_min_score` from config.json, or DEFAULT_MIN_SCORE when unset or unreadable."""
    from sync.errors import ConfigError
    from sync.settings import read_section

    try:
        value = float(read_section(data_dir, SECTION)["promote_min_score"])
    except (ConfigError, ValueError, KeyError, TypeError):
        return DEFAULT_MIN_SCORE
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else DEFAULT_MIN_SCORE


def save_min_score(data_dir, value: float) -> float:
    """Store the promotion threshold (0–1), keeping every other setting of config.json."""
    from sync.errors import ConfigError
    from sync.settings import update_section

    try:
        value = float(value)
    except (TypeError, ValueError):
        raise SkillError("The promotion threshold must be a number between 0 and 1.") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise SkillError(f"The promotion threshold must be between 0 and 1, not {value}.")
    value = round(value, 4)
    try:
        update_section(data_dir, SECTION, lambda section: {**section, "promote_min_score": value})
    except ConfigError as exc:
        raise SkillError(str(exc)) from None
    return value
