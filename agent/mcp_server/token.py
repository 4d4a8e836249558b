"""The bearer token of `mirari mcp serve --http`: generated once, kept in the key store (sync.secrets,
service "MIRARI MCP"), shown by `mirari mcp token`; `--new` replaces it (apps using the old one are shut out)."""

from __future__ import annotations

import secrets as random

SERVICE, NAME = "MIRARI MCP", "serve-token"


def get_token(store, *, create: bool = True, new: bool = False) -> str:
    """The token ("" when there is none and `create` is False). Raises SecretsUnavailable / SecretsLocked."""
    token = "" if new else store.get_secret(SERVICE, NAME)
    if not token and (create or new):
        token = random.token_urlsafe(32)
        store.set_secret(SERVICE, NAME, token)
    return token
