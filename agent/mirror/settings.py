"""The review budget: `mirror.budget_tokens` in config.json (read and written through sync/settings.py,
which keeps the other sections), shared by the window and the command line."""

from __future__ import annotations

from agent.mirror.request import DEFAULT_BUDGET_TOKENS, MAX_BUDGET_TOKENS, MIN_BUDGET_TOKENS, ReviewError

SECTION = "mirror"


def load_budget(data_dir) -> int:
    """`mirror.budget_tokens` from config.json; DEFAULT_BUDGET_TOKENS when unset or unreadable."""
    from sync.errors import ConfigError
    from sync.settings import read_section

    try:
        value = int(read_section(data_dir, SECTION)["budget_tokens"])
    except (ConfigError, ValueError, KeyError, TypeError):
        return DEFAULT_BUDGET_TOKENS
    return value if MIN_BUDGET_TOKENS <= value <= MAX_BUDGET_TOKENS else DEFAULT_BUDGET_TOKENS


def save_budget(data_dir, tokens: int) -> int:
    """Store the review budget (estimated tokens), keeping every other setting of config.json."""
    from sync.errors import ConfigError
    from sync.settings import update_section

    if not isinstance(tokens, int) or not MIN_BUDGET_TOKENS <= tokens <= MAX_BUDGET_TOKENS:
        raise ReviewError(f"The budget must be a whole number of tokens from {MIN_BUDGET_TOKENS:,} "
                          f"to {MAX_BUDGET_TOKENS:,}.")
    try:
        update_section(data_dir, SECTION, lambda section: {**section, "budget_tokens": tokens})
    except ConfigError as exc:
        raise ReviewError(str(exc)) from None
    return tokens
