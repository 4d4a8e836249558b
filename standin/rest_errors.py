"""PostgREST's error bodies and its SQLSTATE → HTTP status mapping (docs/standin.md, "PostgREST grammar and behaviour")."""

from __future__ import annotations

import json

from psycopg import errors as pg_errors
from starlette.responses import Response

JSON_UTF8 = "application/json; charset=utf-8"


class RestError(Exception):
    """An error PostgREST would answer with its four-key JSON body."""

    def __init__(self, status: int, code: str, message: str, details: str | None = None,
                 hint: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.hint, self.headers = details, hint, headers or {}

    def response(self) -> Response:
        body = json.dumps({"code": self.code, "details": self.details, "hint": self.hint, "message": self.message})
        headers = {"Proxy-Status": f"PostgREST; error={self.code}", **self.headers}
        return Response(body, self.status, headers=headers, media_type=JSON_UTF8)


def status_for_sqlstate(state: str, message: str, role: str) -> int:
    """src/PostgREST/Error.hs mapSQLtoHTTP."""
    if state == "42501":
        return 401 if role == "anon" else 403
    if state == "21000":
        return 400 if message.endswith("requires a WHERE clause") else 500
    if state == "22023":
        return 401 if message.startswith("role ") and message.endswith("does not exist") else 400
    if state in ("23503", "23505"):
        return 409
    if state == "25006":
        return 405
    if state == "42883":
        return 404
    if state == "42P01":
        return 404
    if state in ("42P17", "53400"):
        return 500
    if state == "P0001":
        return 400
    if state == "57P01":
        return 503
    if state.startswith("PT") and state[2:].isdigit():
        return int(state[2:])
    prefix = state[:2]
    if prefix == "08" or prefix == "53":
        return 503
    if prefix in ("0L", "0P", "28"):
        return 403
    if prefix in ("09", "25", "2D", "38", "39", "3B", "40", "54", "55", "57", "58", "F0", "HV", "XX", "P0"):
        return 500
    return 400


def from_postgres(exc: pg_errors.Error, role: str, connection_lost: bool = False) -> RestError:
    """Forward Postgres' MESSAGE/DETAIL/HINT verbatim with PostgREST's status."""
    if connection_lost:  # the connection failed: PostgREST's 503 (clients retry GETs)
        return RestError(503, "PGRST001", "Database client error. Retrying the connection.", str(exc))
    if exc.sqlstate is None:  # psycopg refused a value before sending it; Postgres would have said why
        if "NUL" in str(exc):
            return RestError(400, "22021", 'invalid byte sequence for encoding "UTF8": 0x00')
        return RestError(400, "22000", str(exc))
    diag = exc.diag
    state = exc.sqlstate
    message = diag.message_primary or str(exc)
    status = status_for_sqlstate(state, message, role)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return RestError(status, state, message, diag.message_detail, diag.message_hint, headers)
