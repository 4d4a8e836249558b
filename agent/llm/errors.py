"""One exception type for everything that can go wrong talking to an endpoint, with one clear sentence.

`LLMError.kind` lets code decide (retry, mark offline, ...); `LLMError.message` is what the user reads.
Messages never contain the API key: server texts are redacted before they are quoted.
"""

from __future__ import annotations

import json
import re
from typing import Any

# kinds
AUTH = "auth"  # 401 / 403
NOT_FOUND = "not_found"  # 404: wrong base URL or model
RATE_LIMITED = "rate_limited"  # 429
SERVER = "server"  # 5xx, or an error event inside the stream
HTTP = "http"  # other 4xx / 3xx
TIMEOUT = "timeout"
OFFLINE = "offline"  # refused, DNS, network unreachable
INCOMPLETE = "incomplete"  # the stream ended before the reply was finished
MALFORMED = "malformed"  # 200 but not an OpenAI-compatible body (HTML page, bad JSON)
INVALID = "invalid"  # the request could not be built (bad URL, ...)

_KEY_PATTERN = re.compile(r"\b(sk|pk|rk|key)-[A-Za-z0-9_\-]{6,}")


class LLMError(Exception):
    def __init__(self, kind: str, message: str, *, status: int | None = None,
                 retry_after: float | None = None, partial: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait (429/503), if any
        self.partial = partial  # text received before the failure (kept by the caller)

    def __repr__(self) -> str:
        return f"LLMError({self.kind!r}, {self.message!r}, status={self.status})"


def redact(text: str, secret: str | None) -> str:
    """Remove the key (and anything shaped like a key) from a server-provided text."""
    if secret:
        text = text.replace(secret, "[redacted]")
        if len(secret) >= 8:  # OpenAI echoes a shortened key, e.g. "sk-abc***wxyz"
            text = text.replace(secret[:6], "[redacted]")
    return _KEY_PATTERN.sub("[redacted]", text)


def server_detail(body: bytes, content_type: str) -> tuple[str, bool]:
    """The server's own error text (short), and whether the body was an HTML page."""
    text = body.decode("utf-8", errors="replace").strip()
    if "html" in content_type.lower() or text[:15].lower().startswith(("<!doctype", "<html")):
        return "", True
    try:
        obj: Any = json.loads(text)
    except ValueError:
        return _shorten(text), False
    return _shorten(_find_message(obj)), False


def _find_message(obj: Any) -> str:
    # OpenAI: {"error": {"message": ...}}; others: {"error": "..."}, {"detail": ...}, {"message": ...}
    if isinstance(obj, dict):
        for key in ("error", "detail", "message", "msg"):
            if key in obj:
                found = _find_message(obj[key])
                if found:
                    return found
        return ""
    if isinstance(obj, list) and obj:
        return _find_message(obj[0])
    return str(obj) if obj is not None else ""


def _shorten(text: str, limit: int = 160) -> str:
    text = " ".join(text.split()).rstrip(".")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def http_error(status: int, body: bytes, content_type: str, api_key: str | None,
               retry_after: float | None = None) -> LLMError:
    """Map an HTTP error response to one user-facing sentence."""
    detail, is_html = server_detail(body, content_type)
    detail = redact(detail, api_key)
    said = f": {detail}" if detail else ""
    if status in (401, 403):
        return LLMError(AUTH, f"The server rejected the API key (HTTP {status}){said}.", status=status)
    if status == 404:
        hint = "check the base URL and the model name"
        return LLMError(NOT_FOUND, f"Not found (HTTP 404) — {hint}{' (' + detail + ')' if detail else ''}.",
                        status=status)
    if status == 429:
        wait = f"; try again in {_seconds(retry_after)}" if retry_after is not None else ""
        return LLMError(RATE_LIMITED, f"The server is rate-limiting requests (HTTP 429){said}{wait}.",
                        status=status, retry_after=retry_after)
    if is_html:
        return LLMError(SERVER if status >= 500 else HTTP,
                        f"The server answered HTTP {status} with a web page instead of an API reply — "
                        "check the base URL.", status=status, retry_after=retry_after)
    if status >= 500:
        return LLMError(SERVER, f"The server failed (HTTP {status}){said}.", status=status,
                        retry_after=retry_after)
    return LLMError(HTTP, f"The server refused the request (HTTP {status}){said}.", status=status)


def _seconds(value: float | None) -> str:
    if value is None:
        return "a moment"
    seconds = max(1, round(value))
    return f"{seconds} second{'s' if seconds != 1 else ''}"
