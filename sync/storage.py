"""A small client for Supabase Storage (`/storage/v1`), carrying the user's JWT like sync.rest.

Only what attachments need: upload a file (raw body, `x-upsert: true`, so a retry after a lost reply
replaces rather than fails), download an object into an open file (streamed), and remove objects.
Storage answers errors with HTTP 400 and its own status in the body (`{"statusCode": "404", ...}`); a
`StorageFailed` carries that status. An expired token (Storage's 403 that is not a policy refusal) is
refreshed once and the request sent again. Every request has a total deadline that grows with the size
of what it moves (sync.deadline), so a stalled transfer ends instead of holding a sync cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import quote

import httpx

from sync import deadline
from sync.errors import SyncError

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
BASE_DEADLINE = 60.0  # seconds for a request that moves nothing big
SLOWEST_RATE = 256 * 1024  # bytes a second a transfer may not be slower than (on average)
RLS_REFUSAL = "row-level security"


class StorageFailed(SyncError):
    """A Storage request that did not succeed. `status`: Storage's own (404 for a missing object), None
    when no reply came; `transient`: worth retrying later (network trouble, 5xx, 429)."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None, transient: bool = False):
        super().__init__(message)
        self.status, self.code, self.transient = status, code, transient

    @property
    def not_found(self) -> bool:
        return self.status == 404


def _path(bucket: str, name: str) -> str:
    return f"{quote(bucket, safe='')}/{quote(name, safe='/')}"


class StorageClient:
    def __init__(self, url: str, anon_key: str, token: Callable[[], str], refresh: Callable[[str], str],
                 transport: httpx.BaseTransport | None = None):
        self._token, self._refresh = token, refresh
        verify = not url.lower().startswith("http://")
        self._http = httpx.Client(base_url=f"{url.rstrip('/')}/storage/v1", timeout=TIMEOUT, verify=verify,
                                  transport=transport or deadline.transport(verify=verify),
                                  headers={"apikey": anon_key})
        self.requests = 0

    def close(self) -> None:
        self._http.close()

    # -- the three calls -------------------------------------------------------------------------
    def upload(self, bucket: str, name: str, source: BinaryIO, size: int, mime_type: str) -> None:
        """Store the bytes of `source` (from its start) as `bucket/name`, replacing what is there."""
        def send(token: str) -> httpx.Response:
            source.seek(0)
            return self._http.post(f"/object/{_path(bucket, name)}", content=source, headers={
                "Authorization": f"Bearer {token}", "Content-Type": mime_type, "Content-Length": str(size),
                "Cache-Control": "max-age=3600", "x-upsert": "true"})
        self._call(send, f"upload {name}", size)

    def download_to(self, bucket: str, name: str, out: BinaryIO, expected_size: int) -> int:
        """Write the object's bytes to `out` (streamed); returns how many were written."""
        def fetch(token: str) -> int | httpx.Response:
            written = 0
            with self._http.stream("GET", f"/object/authenticated/{_path(bucket, name)}",
                                   headers={"Authorization": f"Bearer {token}"}) as response:
                if not response.is_success:
                    response.read()
                    return response  # an error reply: _call reads it
                for chunk in response.iter_bytes(1 << 16):
                    written += len(chunk)
                    if written > expected_size:  # never more than the row says: a wrong object
                        raise StorageFailed(f"download {name}: the object is larger than the attachment's "
                                            f"{expected_size} bytes")
                    out.write(chunk)
            return written
        return self._call(fetch, f"download {name}", expected_size)

    def remove(self, bucket: str, names: list[str]) -> list[str]:
        """Remove objects; returns the names Storage removed (a name already gone is not an error)."""
        def send(token: str) -> httpx.Response:
            return self._http.request("DELETE", f"/object/{quote(bucket, safe='')}", json={"prefixes": names},
                                      headers={"Authorization": f"Bearer {token}"})
        reply = self._call(send, f"remove {len(names)} object(s)", 0)
        try:
            removed = reply.json()
        except ValueError:
            raise StorageFailed("remove: Storage's reply is not JSON") from None
        if not isinstance(removed, list):
            raise StorageFailed("remove: Storage's reply is not a list of objects")
        return [item["name"] for item in removed if isinstance(item, dict) and isinstance(item.get("name"), str)]

    # -- one request, refreshed once -------------------------------------------------------------
    def _call(self, send, what: str, size: int):
        seconds = BASE_DEADLINE + size / SLOWEST_RATE
        token, refreshed = self._token(), False
        while True:
            self.requests += 1
            try:
                with deadline.deadline(seconds):
                    result = send(token)
            except httpx.HTTPError as exc:
                detail = "no complete reply in time" if isinstance(exc, httpx.TimeoutException) else \
                    f"{type(exc).__name__}: {exc}"
                raise StorageFailed(f"{what}: {detail}", transient=True) from exc
            if not isinstance(result, httpx.Response) or result.is_success:
                return result  # a download's byte count, or a successful reply
            failure = _failure(result, what)
            if failure.status == 403 and RLS_REFUSAL not in str(failure) and not refreshed:
                token, refreshed = self._refresh(token), True  # an expired token: refresh once
                continue
            raise failure


def _failure(response: httpx.Response, what: str) -> StorageFailed:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        try:
            status = int(body.get("statusCode") or response.status_code)
        except (TypeError, ValueError):
            status = response.status_code
        return StorageFailed(f"{what}: {body['message']}", status, body.get("code") or body.get("error"),
                             transient=status >= 500 or status == 429)
    text = " ".join(response.text.split())[:120] or "an empty reply"
    return StorageFailed(f"{what}: HTTP {response.status_code} that is not Supabase Storage's ({text})",
                         response.status_code, transient=response.status_code >= 500 or response.status_code == 429)
