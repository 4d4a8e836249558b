"""Validation of the Bind form: every problem gets a message the user can act on, per field."""

from __future__ import annotations

from urllib.parse import urlsplit

from agent.connections.presets import PROVIDERS

# The server's check constraints on agent_connections: a longer value would save here, then never sync.
URL_LIMIT = 2048
MODEL_LIMIT = 500


def validate_connection(name: str | None, base_url: str | None, model: str | None,
                        provider: str | None = "custom") -> dict[str, str]:
    """Problems by field name ('name', 'base_url', 'model', 'provider'); an empty dict means valid."""
    problems: dict[str, str] = {}
    if not (name or "").strip():
        problems["name"] = "Give the connection a name."
    elif len(name.strip()) > 200:
        problems["name"] = "Keep the name under 200 characters."
    url_problem = base_url_problem(base_url)
    if url_problem:
        problems["base_url"] = url_problem
    if not (model or "").strip():
        problems["model"] = "Enter the model name, e.g. hermes3."
    elif any(ch.isspace() for ch in model.strip()):
        problems["model"] = "The model name must not contain spaces."
    elif len(model.strip()) > MODEL_LIMIT:
        problems["model"] = f"The model name is too long (at most {MODEL_LIMIT} characters)."
    if provider not in PROVIDERS:
        problems["provider"] = "Choose a provider: hermes, openrouter, nous or custom."
    return problems


def base_url_problem(base_url: str | None) -> str | None:
    """Why this base URL cannot work, or None."""
    url = (base_url or "").strip()
    if not url:
        return "Enter the base URL, e.g. http://localhost:11434/v1."
    if len(url.rstrip("/")) > URL_LIMIT:
        return f"The base URL is too long (at most {URL_LIMIT} characters)."
    if any(ch.isspace() for ch in url):
        return "The base URL must not contain spaces."
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "The base URL must start with http:// or https://."
    if not parts.hostname:
        return "The base URL needs a host name, e.g. http://localhost:11434/v1."
    try:
        port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        port = 0
    if port == 0:
        return "The port in the base URL must be a number between 1 and 65535."
    if parts.query or parts.fragment:
        return "The base URL must not contain '?' or '#'."
    if parts.path.rstrip("/").endswith("/chat/completions"):
        return "Leave out /chat/completions: the base URL is the root it is appended to (usually ending in /v1)."
    return None


def clean_base_url(base_url: str) -> str:
    """The stored form: surrounding spaces and trailing slashes removed."""
    return base_url.strip().rstrip("/")
