"""A thin PostgREST client over httpx, carrying the user's JWT and the project's apikey.

Push and pull go straight through httpx (supabase-py's query builder adds per-call overhead we do not
need at 1,000-row pages). Every failure leaves here as `RequestFailed` with its `Kind`; a 401 is answered
by one single-flight refresh and one retry of the same request.

Every request ends within REQUEST_DEADLINE seconds, however the server answers (sync.deadline: a total,
not a time per read), and a client made `within(seconds)` — a sync cycle's — sends nothing after its
own deadline: a hung or dribbling server fails the cycle as network trouble, and the changes wait.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
import orjson

from sync import deadline
from sync.errors import Kind, RequestFailed, classify_reply

TIMEOUT = httpx.Timeout(30.0, connect=10.0)  # per socket operation
REQUEST_DEADLINE = 60.0  # seconds for a whole request: connect, send, the reply's last byte
MAX_WAIT = 5.0  # seconds of Retry-After waited out inside a cycle (longer: the scheduler waits)
MAX_WAITS = 2   # per request


class Rows(list):
    """A JSON array from the server, with the time the server said it was when it answered (its `Date`
    header; None when absent or unreadable). Pull compares row stamps with it, never with our clock."""

    server_date: datetime | None = None


def _server_date(response: httpx.Response) -> datetime | None:
    try:
        date = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return date if date.tzinfo is not None else None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _lenient_json(response: httpx.Response):
    """The body as Python's json reads it, or RequestFailed(MALFORMED)."""
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise RequestFailed(Kind.MALFORMED, response.status_code, None,
                            f"the server's reply is not JSON ({response.content[:80]!r})") from exc
    except RecursionError:  # JSON nested thousands deep: no server of ours sends that
        raise RequestFailed(Kind.MALFORMED, response.status_code, None,
                            "the server's reply is JSON nested too deeply to be a real answer") from None


class RestClient:
    def __init__(self, url: str, anon_key: str, token: Callable[[], str], refresh: Callable[[str], str],
                 transport: httpx.BaseTransport | None = None):
        self._token, self._refresh = token, refresh
        # A plain-http project (a local Supabase, the stand-in) makes no TLS connection, so the CA store is
        # not loaded for it (docs/sync.md, "Why it is built this way"). https keeps full verification.
        verify = not url.lower().startswith("http://")
        if transport is None:
            transport = deadline.transport(verify=verify)
        self._http = httpx.Client(base_url=f"{url.rstrip('/')}/rest/v1", timeout=TIMEOUT, transport=transport,
                                  verify=verify,
                                  headers={"apikey": anon_key, "Accept-Profile": "public",
                                           "Content-Profile": "public", "Accept": "application/json"})
        self._count_lock = threading.Lock()
        self.requests = 0  # every HTTP request sent, for the benchmark and the idle-sync test
        self.deadline_at: float | None = None  # time.monotonic() after which nothing more is sent

    def close(self) -> None:
        self._http.close()

    def within(self, seconds: float) -> RestClient:
        """This client (the same connections) for work that must end within `seconds`, e.g. one sync
        cycle: its requests share that deadline, and it counts its own requests."""
        bounded = copy.copy(self)
        bounded.deadline_at, bounded.requests = time.monotonic() + seconds, 0
        return bounded

    def _timed_out(self, exc: Exception, method: str, path: str) -> RequestFailed:
        what = f"{method} {path}"
        if self.deadline_at is not None and time.monotonic() >= self.deadline_at:
            return RequestFailed(Kind.TRANSIENT, None, None, f"the sync cycle ran out of time ({what} was still "
                                 "waiting for the server); the changes wait for the next cycle")
        if isinstance(exc, httpx.TimeoutException):
            return RequestFailed(Kind.TRANSIENT, None, None, f"the server did not answer in time ({what}: no "
                                 f"complete reply within {REQUEST_DEADLINE:g} s)")
        return RequestFailed(Kind.TRANSIENT, None, None, f"{type(exc).__name__}: {exc}")

    def request(self, method: str, path: str, *, params=None, json_body=None, prefer: str | None = None):
        """Send one request; return the decoded JSON body (None for an empty one)."""
        return self._decode(self._send(method, path, params=params, json_body=json_body, prefer=prefer))

    def _send(self, method: str, path: str, *, params=None, json_body=None, prefer: str | None = None):
        """Send one request; return the successful httpx.Response.

        A 401 is answered by one refresh and one resend. A 429/503 whose Retry-After is short is waited
        out and resent (at most MAX_WAITS times) rather than failing the whole cycle: every request sync
        makes is safe to replay, and the scheduler's backoff is for longer outages. A longer Retry-After
        ends the cycle and the scheduler waits at least that long."""
        body = None if json_body is None else json.dumps(json_body, separators=(",", ":")).encode()
        token = self._token()
        refreshed, waits = False, 0
        while True:
            headers = {"Authorization": f"Bearer {token}"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            if prefer:
                headers["Prefer"] = prefer
            if self.deadline_at is not None and time.monotonic() >= self.deadline_at:
                raise self._timed_out(TimeoutError(), method, path)
            with self._count_lock:
                self.requests += 1
            try:
                with deadline.deadline(REQUEST_DEADLINE, self.deadline_at):
                    response = self._http.request(method, path, params=params, content=body, headers=headers)
            except httpx.HTTPError as exc:
                raise self._timed_out(exc, method, path) from exc
            # httpx ties a response and its stream in a reference cycle, so a read response (its whole
            # body, ~0.6 MB for a pull page) waits for Python's cyclic collector: a 200,000-row pull left
            # dozens in the old generation (+20 MB). The body is read and the stream closed: let it go.
            response.stream = httpx.ByteStream(b"")
            if response.is_success:
                return response
            failure = self._failure(response)
            if failure.kind is Kind.AUTH and not refreshed:
                token, refreshed = self._refresh(token), True  # single-flight; SignInNeeded when final
                continue
            wait = failure.retry_after
            left = None if self.deadline_at is None else self.deadline_at - time.monotonic()
            if failure.kind is Kind.TRANSIENT and wait is not None and 0 <= wait <= MAX_WAIT and waits < MAX_WAITS \
                    and (left is None or wait < left):
                waits += 1
                time.sleep(wait)
                continue
            raise failure

    @staticmethod
    def _decode(response: httpx.Response):
        content = response.content
        if not content:
            return None
        try:
            body = orjson.loads(content)  # ~1.7x json.loads on pull pages, on the fetching threads
        except orjson.JSONDecodeError:
            body = _lenient_json(response)  # what orjson refuses (big integers, lone surrogates, NaN): as before
        if isinstance(body, list):
            body = Rows(body)
            body.server_date = _server_date(response)
        return body

    @staticmethod
    def _failure(response: httpx.Response) -> RequestFailed:
        try:
            body = response.json()
        except (ValueError, RecursionError):
            body = None
        kind, code, message, details = classify_reply(
            response.status_code, body, response.text, response.headers.get("Location"),
            f"{response.request.method} {str(response.request.url).split('?')[0]} answered")
        return RequestFailed(kind, response.status_code, code, message, details, _retry_after(response))

    # -- the four calls sync makes ---------------------------------------------------------------------
    def select(self, table: str, params: dict) -> list[dict]:
        rows = self.request("GET", f"/{table}", params=params)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise RequestFailed(Kind.MALFORMED, 200, None, f"GET {table}: expected a JSON array of rows")
        return rows

    def insert(self, table: str, rows: list[dict]) -> list[dict]:
        columns = ",".join(f'"{c}"' for c in rows[0])
        result = self.request("POST", f"/{table}", params={"columns": columns}, json_body=rows,
                              prefer="return=representation")
        if not isinstance(result, list):
            raise RequestFailed(Kind.MALFORMED, 201, None, f"POST {table}: expected the inserted rows back")
        return result

    def update(self, table: str, filters: dict, values: dict) -> list[dict]:
        result = self.request("PATCH", f"/{table}", params=filters, json_body=values,
                              prefer="return=representation")
        if not isinstance(result, list):
            raise RequestFailed(Kind.MALFORMED, 200, None, f"PATCH {table}: expected the updated rows back")
        return result

    # -- beyond sync ----------------------------------------------------------------------------------
    def select_page(self, table: str, params: dict) -> tuple[list[dict], int | None]:
        """One page of rows and the total count PostgREST reports (Prefer: count=exact), for browsing."""
        response = self._send("GET", f"/{table}", params=params, prefer="count=exact")
        rows = self._decode(response)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise RequestFailed(Kind.MALFORMED, response.status_code, None, f"GET {table}: expected a JSON array of rows")
        total = response.headers.get("Content-Range", "").rpartition("/")[2]
        return rows, int(total) if total.isdigit() else None

    def rpc(self, function: str, args: dict | None = None):
        """Call a database function (POST /rpc/<function> with named arguments); returns its JSON result.

        Safe to resend after a 401 or a short Retry-After (the server did not run the call), but never
        replayed after a lost response: the caller decides whether a non-idempotent call may run again."""
        return self.request("POST", f"/rpc/{function}", json_body=args or {})
