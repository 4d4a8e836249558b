"""Supabase Storage's error replies (supabase/storage src/internal/errors/codes.ts, src/http/error-handler.ts).

The body is `{"statusCode": "<the error's own status>", "code", "error", "message"}`; the HTTP status is
400 for every error whose own status is not 500 (Storage's `userStatusCode`), which is why clients see
"400" with `statusCode: "404"` for a missing object. Both official clients read `message`, `error` and
`statusCode` from that body.
"""

from __future__ import annotations

import json

from psycopg import errors as pg_errors
from starlette.responses import Response


class StorageError(Exception):
    def __init__(self, status: int, code: str, message: str, error: str | None = None, http_status: int | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.error = error or code
        self.http_status = http_status or (500 if status == 500 else 400)

    def response(self) -> Response:
        body = {"statusCode": str(self.status), "code": self.code, "error": self.error, "message": self.message}
        return Response(json.dumps(body), self.http_status, media_type="application/json; charset=utf-8")


def access_denied(message: str = "Access denied") -> StorageError:
    return StorageError(403, "AccessDenied", message, "Unauthorized")


def no_such_bucket() -> StorageError:
    return StorageError(404, "NoSuchBucket", "Bucket not found", "Bucket not found")


def no_such_key() -> StorageError:
    return StorageError(404, "NoSuchKey", "Object not found", "not_found")


def invalid_key(key: str) -> StorageError:
    return StorageError(400, "InvalidKey", f"Invalid key: {key}")


def key_already_exists() -> StorageError:
    return StorageError(409, "KeyAlreadyExists", "The resource already exists", "Duplicate")


def entity_too_large() -> StorageError:
    return StorageError(413, "EntityTooLarge", "The object exceeded the maximum allowed size", "Payload too large")


def invalid_mime_type(mime: str) -> StorageError:
    return StorageError(415, "InvalidMimeType", f"mime type {mime} is not supported", "invalid_mime_type")


def invalid_request(message: str) -> StorageError:
    return StorageError(400, "InvalidRequest", message)


def not_found_route() -> StorageError:
    return StorageError(404, "NotFound", "Route not found", "Not Found", http_status=404)


def from_postgres(exc: pg_errors.Error) -> StorageError:
    """DBError.fromDBError (src/storage/database/errors.ts)."""
    message = (exc.diag.message_primary if exc.diag else None) or str(exc)
    state = exc.sqlstate or ""
    if state == "42501":
        return access_denied("new row violates row-level security policy" if "row-level security" in message
                             else message)
    if state == "23505":
        return StorageError(409, "ResourceAlreadyExists", "The resource already exists", "Duplicate")
    if state == "22P02":
        return StorageError(400, "InvalidParameter", message or "Invalid value format or type conversion failed")
    if state == "57014":
        return StorageError(504, "DatabaseTimeout", "Query timeout")
    return StorageError(500, "DatabaseError", f"database error, code: {state or 'unknown'}")
