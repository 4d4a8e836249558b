"""Request bodies as GoTrue reads them: `json.Unmarshal` into a Go struct (internal/api/helpers.go
retrieveRequestParams), so a malformed body or a field of the wrong JSON type is a 400 `bad_json` whose
message is Go's, never a Python exception. Unknown fields are ignored, `null` leaves the zero value,
keys match case-insensitively (exact match first), as encoding/json does.
"""

from __future__ import annotations

import json

_GO_TYPES = {str: "string", dict: "map[string]interface {}"}

SIGNUP = ("SignupParams", {"email": str, "phone": str, "password": str, "data": dict, "channel": str,
                           "code_challenge_method": str, "code_challenge": str})
PASSWORD_GRANT = ("PasswordGrantParams", {"email": str, "phone": str, "password": str})
REFRESH_GRANT = ("RefreshTokenGrantParams", {"refresh_token": str})


class BadJson(Exception):
    """The body does not decode into the struct; str(self) is Go's error text."""


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "null")


def _decode(raw: bytes):
    # Go's decoder takes the bytes as UTF-8 and replaces what is not; a UTF-16 body then fails on its BOM.
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        raise BadJson("unexpected end of JSON input")
    try:
        return json.loads(text)
    except RecursionError:
        raise BadJson("exceeded max depth") from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise BadJson("unexpected end of JSON input") from None
        raise BadJson(f"invalid character {text[exc.pos]!r} looking for beginning of value") from None


def decode(raw: bytes, struct: tuple[str, dict]) -> dict:
    """The struct's fields (absent and null ones left out), or BadJson."""
    name, fields = struct
    data = _decode(raw)
    if data is None:  # `null` leaves a Go struct as it was
        return {}
    if not isinstance(data, dict):
        raise BadJson(f"json: cannot unmarshal {_kind(data)} into Go value of type api.{name}")
    out: dict = {}
    for key, value in data.items():
        field = key if key in fields else next((f for f in fields if f.lower() == key.lower()), None)
        if field is None or value is None:
            continue
        want = fields[field]
        if not isinstance(value, want):
            raise BadJson(f"json: cannot unmarshal {_kind(value)} into Go struct field {name}.{field} "
                          f"of type {_GO_TYPES[want]}")
        out[field] = value
    return out
