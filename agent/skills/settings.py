"""The promotion threshold: a setting shared by the window and the command line, `skills.promote_min_score`
in config.json (in the data dir, beside the other sections, which are kept)."""

from __future__ import annotations

import math

from agent.skills.forge import DEFAULT_MIN_SCORE, SkillError

CONFIG_FILE = "config.json"  # in the data dir, beside sync's "supabase" section (which it preserves too)


def load_min_score(data_dir) -> float:
    """`skills.promote_min_score` from config.json, or DEFAULT_MIN_SCORE when unset or unreadable."""
    import json
    from pathlib import Path

    try:
        data = json.loads((Path(data_dir) / CONFIG_FILE).read_text(encoding="utf-8"))
        value = float(data["skills"]["promote_min_score"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_MIN_SCORE
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else DEFAULT_MIN_SCORE


def save_min_score(data_dir, value: float) -> float:
    """Store the promotion threshold (0–1), keeping every other section of config.json."""
    import json
    from pathlib import Path

    from agent.atomic import atomic_write

    try:
        value = float(value)
    except (TypeError, ValueError):
        raise SkillError("The promotion threshold must be a number between 0 and 1.") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise SkillError(f"The promotion threshold must be between 0 and 1, not {value}.")
    path = Path(data_dir) / CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError) as exc:
        raise SkillError(f"Cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise SkillError(f"{path} does not contain a JSON object; fix or remove it.")
    section = data.get("skills") if isinstance(data.get("skills"), dict) else {}
    data["skills"] = {**section, "promote_min_score": round(value, 4)}
    atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
    return round(value, 4)
