"""The review budget: `mirror.budget_tokens` in config.json (in the data dir, beside the other sections,
which are kept), shared by the window and the command line."""

from __future__ import annotations

from agent.mirror.request import DEFAULT_BUDGET_TOKENS, MAX_BUDGET_TOKENS, MIN_BUDGET_TOKENS, ReviewError

CONFIG_FILE = "config.json"


def load_budget(data_dir) -> int:
    """`mirror.budget_tokens` from config.json; DEFAULT_BUDGET_TOKENS when unset or unreadable."""
    import json
    from pathlib import Path

    try:
        value = int(json.loads((Path(data_dir) / CONFIG_FILE).read_text(encoding="utf-8"))["mirror"]["budget_tokens"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_BUDGET_TOKENS
    return value if MIN_BUDGET_TOKENS <= value <= MAX_BUDGET_TOKENS else DEFAULT_BUDGET_TOKENS


def save_budget(data_dir, tokens: int) -> int:
    """Store the review budget (estimated tokens), keeping every other section of config.json."""
    import json
    from pathlib import Path

    from agent.atomic import atomic_write

    if not isinstance(tokens, int) or not MIN_BUDGET_TOKENS <= tokens <= MAX_BUDGET_TOKENS:
        raise ReviewError(f"The budget must be a whole number of tokens from {MIN_BUDGET_TOKENS:,} "
                          f"to {MAX_BUDGET_TOKENS:,}.")
    path = Path(data_dir) / CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError) as exc:
        raise ReviewError(f"Cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ReviewError(f"{path} does not contain a JSON object; fix or remove it.")
    section = data.get("mirror") if isinstance(data.get("mirror"), dict) else {}
    data["mirror"] = {**section, "budget_tokens": tokens}
    atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
    return tokens
