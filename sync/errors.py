"""What a failed request means for sync, decided once (docs/sync.md, "Failures").

Every HTTP failure is turned into a `RequestFailed` carrying a `Kind`; push and pull then act on the kind,
never on raw status codes. Nothing maps to "ignore": each kind is retried, parked, paused or surfaced.
"""

from __future__ import annotations

import enum
import random
import re


class Kind(enum.Enum):
    TRANSIENT = "transient"          # network, 429, 502-504, pool/connection errors: retry later, keep order
    AUTH = "auth"                    # token invalid or expired: refresh once and retry the same request
    REJECTED = "rejected"            # RLS / check / invalid data / trigger refusal: park this op
    DUPLICATE = "duplicate"          # 23505: for an insert, check whether it is our own earlier success
    FK_MISSING = "fk_missing"        # 23503: the parent is not on the server (yet)
    SCHEMA = "schema"                # unknown table/column: pause the table, "update required"
    TOO_LARGE = "too_large"          # 413: split the batch; a single row too large is parked
    SERVER = "server"                # other 5xx: retry with backoff, park after too many attempts
    MALFORMED = "malformed"          # the server answered 2xx with something that is not what PostgREST sends
    MISCONFIGURED = "misconfigured"  # an error reply that is not PostgREST's (wrong URL, proxy, redirect,
                                     # gateway 404, HTML 403): nothing is parked, every change keeps waiting


# 5xx that are not known transients are retried this many times before the op is parked with an alert.
MAX_SERVER_ATTEMPTS = 20

_TRANSIENT_CODES = {"PGRST000", "PGRST001", "PGRST002", "PGRST003", "40001", "40P01", "57014", "55P03"}
_SCHEMA_CODES = {"PGRST204", "PGRST205", "42P01", "42703"}
_AUTH_CODES = {"PGRST301", "PGRST302", "PGRST303"}
# PostgREST's own answers about the URL rather than a write: the project URL (or a proxy) is wrong.
_URL_CODES = {"PGRST106", "PGRST117", "PGRST125", "PGRST126"}
_CODE = re.compile(r"^(PGRST\d{3}|[0-9A-Z]{5})$")  # PostgREST's codes and PostgreSQL's SQLSTATEs
MISCONFIGURED_PREFIX = "server unreachable or misconfigured"
KEY_REFUSED_CODE = "apikey"  # RequestFailed.code of a refused anon key (not a PostgREST or SQL code)


class SyncError(Exception):
    """Base of every error the sync package raises on purpose; `str()` is one line a user can read."""


class ConfigError(SyncError):
    """Missing or invalid Supabase URL / anon key."""


class SignInNeeded(SyncError):
    """No session, or the refresh token was refused for good: sync pauses until the user signs in."""


class KeychainUnavailable(SyncError):
    """No OS keychain to keep the session in (and plaintext storage was not explicitly allowed)."""


class RequestFailed(SyncError):
    def __init__(self, kind: Kind, status: int | None, code: str | None, message: str,
                 details: str | None = None, retry_after: float | None = None):
        self.kind, self.status, self.code = kind, status, code
        self.message, self.details, self.retry_after = message, details, retry_after
        if kind is Kind.MISCONFIGURED and (status is None or code == KEY_REFUSED_CODE):
            super().__init__(message)  # already a sentence; "no response" would be wrong (one came)
            return
        where = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"{where}{f' {code}' if code else ''}: {message}")


KEY_REFUSED_TEXT = ("the project refused its anon key (\"Invalid API key\"): the project changed its key. Sign in "
                    "again with the new anon key (Supabase dashboard → Project Settings → API); your changes wait "
                    "here")


def is_key_refusal(status: int | None, message: object) -> bool:
    """The API gateway (Kong), not PostgREST or Auth, turned the request away for its `apikey`."""
    return status == 401 and isinstance(message, str) and "api key" in message.lower()


def key_refused(exc: BaseException) -> bool:
    """The project no longer accepts the anon key this device has (see KEY_REFUSED_TEXT)."""
    return isinstance(exc, RequestFailed) and exc.kind is Kind.MISCONFIGURED and exc.code == KEY_REFUSED_CODE


def missing_function(exc: RequestFailed) -> bool:
    """The server has no such database function (its schema is older than this client)."""
    return exc.status == 404 or exc.code in ("PGRST202", "42883")


def classify(status: int, code: str | None) -> Kind:
    code = code or ""
    if status == 401 or code in _AUTH_CODES:
        return Kind.AUTH
    if code in _SCHEMA_CODES:
        return Kind.SCHEMA
    if code == "23505":
        return Kind.DUPLICATE
    if code == "23503":
        return Kind.FK_MISSING
    if code in _TRANSIENT_CODES or code.startswith(("08", "53")) or status in (408, 429, 502, 503, 504):
        return Kind.TRANSIENT
    if status == 413:
        return Kind.TOO_LARGE
    if status >= 500:
        return Kind.SERVER
    # 403/42501 (RLS WITH CHECK), 23514 check, 23502 not-null, 22xxx invalid data, P0001 trigger refusal and
    # any other 4xx: the server refuses this write for good. Parking keeps it visible instead of stuck or lost.
    return Kind.REJECTED


def postgrest_error(body: object) -> tuple[str, str, str | None] | None:
    """(code, message, details) when `body` is an error in PostgREST's shape, else None.

    PostgREST (and PostgreSQL through it) answers `{"code", "message", "details", "hint"}` with a
    PGRSTnnn code or a five-character SQLSTATE. A proxy, a gateway or a wrong URL answers something
    else (HTML, `{"message": "no Route matched"}`, a redirect) and must never be read as a refusal."""
    if not isinstance(body, dict):
        return None
    code, message = body.get("code"), body.get("message")
    if not isinstance(code, str) or not _CODE.match(code) or not isinstance(message, str):
        return None
    details = body.get("details")
    return code, message, details if isinstance(details, str) else None


def classify_reply(status: int, body: object, text: str = "", location: str | None = None,
                   url: str = "") -> tuple[Kind, str | None, str, str | None]:
    """(kind, code, message, details) for an HTTP error reply from the REST endpoint."""
    found = postgrest_error(body)
    if found is not None:
        code, message, details = found
        if code in _URL_CODES:
            hint = " (the project URL must be https://<project>.supabase.co, with no path)" \
                if code == "PGRST125" else ""
            return Kind.MISCONFIGURED, code, f"{MISCONFIGURED_PREFIX}: {message}{hint}", details
        return classify(status, code), code, message, details
    # Not PostgREST's. Statuses that mean "later" or "smaller" keep their meaning whoever sends them;
    # the rest says nothing about this change, only that the endpoint is not a PostgREST we can reach.
    message = body.get("message") or body.get("msg") if isinstance(body, dict) else None
    if is_key_refusal(status, message):  # not a token problem: refreshing the session cannot help
        return Kind.MISCONFIGURED, KEY_REFUSED_CODE, KEY_REFUSED_TEXT, None
    if status == 401 or status == 413 or status in (408, 429, 502, 503, 504):
        kind = classify(status, None)
        return kind, None, str(message or text[:200].strip() or f"HTTP {status}"), None
    if status >= 500:
        return Kind.TRANSIENT, None, f"{MISCONFIGURED_PREFIX}: HTTP {status} that is not PostgREST's " \
                                     f"({_snippet(message, text)})", None
    what = f"redirected to {location}" if 300 <= status < 400 and location else \
        f"HTTP {status} that is not PostgREST's ({_snippet(message, text)})"
    return Kind.MISCONFIGURED, None, f"{MISCONFIGURED_PREFIX}: {url + ' ' if url else ''}{what}", None


def _snippet(message: object, text: str) -> str:
    if isinstance(message, str) and message:
        return message[:120]
    plain = " ".join(re.sub(r"<[^>]*>", " ", text or "").split())
    return (plain[:120] or "an empty reply")


def backoff_delay(attempt: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter: retries from many devices do not arrive in lockstep."""
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    return random.uniform(ceiling / 2, ceiling)
