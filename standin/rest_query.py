"""One request's query string, Prefer and Accept headers as PostgREST reads them (QueryParams.hs,
Preferences.hs, RangeQuery.hs, ApiRequest.hs): which parameters are reserved, filters vs RPC
arguments, limit/offset and the Range header, the canonical query, the preferences that apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote_plus

from standin.rest_errors import RestError
from standin.rest_grammar import (
    OrderTerm,
    SelectItem,
    parse_columns,
    parse_filter,
    parse_logic,
    parse_order,
    parse_select,
)

RESERVED = ("select", "columns", "on_conflict")
RESERVED_EMBEDDABLE = ("order", "limit", "offset", "and", "or")
MAX_ROWS = 1000  # db-max-rows on Supabase
SINGULAR = "application/vnd.pgrst.object+json"


@dataclass
class Query:
    select: list[SelectItem] | None = None  # None: `*`
    conditions: list = field(default_factory=list)  # Filter | Logic, ANDed
    order: list[OrderTerm] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    columns: list[str] | None = None
    on_conflict: list[str] | None = None
    rpc_args: dict[str, str] = field(default_factory=dict)  # GET/HEAD /rpc: parameters without an operator
    items: list[tuple[str, str]] = field(default_factory=list)

    @property
    def canonical(self) -> str:
        return canonical(self.items) if self.items else ""

    @property
    def has_range(self) -> bool:
        return self.limit is not None or self.offset != 0


def _not_embedded(name: str) -> RestError:
    return RestError(400, "PGRST108", f"'{name}' is not an embedded resource in this request",
                     hint=f"Verify that '{name}' is included in the 'select' query parameter.")


def _integer(text: str) -> int | None:
    """Haskell's readMaybe for an Integer: optional minus and digits, else nothing (ignored)."""
    body = text.strip()
    digits = body[1:] if body.startswith("-") else body
    return int(body) if digits.isascii() and digits.isdigit() else None


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*\Z")


def _encode(text: str) -> str:
    return text if _UNRESERVED.match(text) else quote(text, safe="-_.~")


def canonical(items: list[tuple[str, str]]) -> str:
    """qsCanonical: parameters sorted by name, percent-encoded except [A-Za-z0-9-_.~], a repeated name's
    values joined by "," (Network.HTTP.Base.urlEncodeVars)."""
    merged: dict[str, list[str]] = {}
    for key, value in sorted(items, key=lambda kv: kv[0].encode()):
        merged.setdefault(key, []).append(value)
    return "&".join(_encode(k) + "=" + ",".join(_encode(v) for v in vs) for k, vs in merged.items())


def query_items(raw: str) -> list[tuple[str, str]]:
    """The query string as HTTP.parseQueryReplacePlus + nonemptyParams: `+` is a space, and a name
    without `=` is dropped (`?a=` keeps a= with an empty value)."""
    items = []
    for piece in raw.split("&"):
        name, eq, value = piece.partition("=")
        if eq:
            items.append((unquote_plus(name), unquote_plus(value)))
    return items


def parse_query(items: list[tuple[str, str]], rpc_read: bool = False) -> Query:
    q = Query(items=items)
    limit = offset = None
    for key, value in items:
        if key == "apikey":  # the gateway's key (Kong reads it from the query too); never a filter
            continue
        last = key.rsplit(".", 1)[-1]
        if key in RESERVED:
            if key == "select":
                q.select = None if value.strip() == "*" else parse_select(value)
            elif key == "columns":
                q.columns = parse_columns("columns", value)
            else:
                q.on_conflict = parse_columns("on_conflict", value)
            continue
        if last in RESERVED_EMBEDDABLE:
            if last in ("and", "or"):
                embed, tree = parse_logic(key, value)
                if embed:
                    raise _not_embedded(embed[0])
                q.conditions.append(tree)
                continue
            if key != last:
                raise _not_embedded(key.rsplit(".", 1)[0])
            if last == "order":
                q.order = parse_order(value)
            elif last == "limit":
                limit = _integer(value)
            else:
                offset = _integer(value)
            continue
        try:
            embed, flt = parse_filter(key, value)
        except RestError:
            if rpc_read:  # GET /rpc/fn?a=1: a value without an operator is an argument
                q.rpc_args[key] = value
                continue
            raise
        if embed:
            raise _not_embedded(embed[0])
        q.conditions.append(flt)
    if limit is not None and limit < 0:
        raise RestError(416, "PGRST103", "Requested range not satisfiable", "Limit should be greater than or equal to zero.")
    q.limit, q.offset = limit, offset or 0
    return q


def apply_range_header(q: Query, header: str | None) -> None:
    """`Range: first-[last]` (GET only) intersected with limit/offset; anything else is ignored."""
    if not header:
        return
    first, dash, last = header.strip().partition("-")
    if not (dash and first.isascii() and first.isdigit() and (not last or (last.isascii() and last.isdigit()))):
        return
    lower, upper = int(first), int(last) if last else None
    if upper is not None and upper < lower:
        raise RestError(416, "PGRST103", "Requested range not satisfiable",
                        "The lower boundary must be lower than or equal to the upper boundary in the Range header.")
    if q.limit == 0:
        return  # limit=0 bypasses the header (RangeQuery.convertToLimitZeroRange)
    q_upper = q.offset + q.limit - 1 if q.limit is not None else None
    new_lower = max(lower, q.offset)
    uppers = [u for u in (upper, q_upper) if u is not None]
    new_upper = min(uppers) if uppers else None
    if new_upper is not None and new_upper < new_lower:
        raise RestError(416, "PGRST103", "Requested range not satisfiable",
                        "The lower boundary must be lower than or equal to the upper boundary in the Range header.")
    q.offset = new_lower
    q.limit = None if new_upper is None else new_upper - new_lower + 1


# -- Prefer ----------------------------------------------------------------------------------
_ACCEPTED = {"resolution": ("merge-duplicates", "ignore-duplicates"),
             "return": ("representation", "minimal", "headers-only"),
             "count": ("exact", "planned", "estimated"),
             "tx": ("commit", "rollback"),
             "missing": ("default", "null"),
             "handling": ("strict", "lenient")}
_APPLIED_ORDER = ("resolution", "missing", "return", "count", "tx", "handling", "timezone", "max-affected")


@dataclass
class Prefs:
    values: dict[str, str] = field(default_factory=dict)  # the first accepted value of each preference
    invalid: list[str] = field(default_factory=list)

    def get(self, name: str, default=None):
        return self.values.get(name, default)

    def applied(self, names: tuple[str, ...]) -> dict:
        """Preference-Applied for the given preferences, in PostgREST's fixed order."""
        shown = [f"{n}={self.values[n]}" for n in _APPLIED_ORDER if n in names and n in self.values]
        return {"Preference-Applied": ", ".join(shown)} if shown else {}


def parse_prefer(headers: list[str], timezones: frozenset[str] | set[str] = frozenset()) -> Prefs:
    """Preferences.fromHeaders: comma-split, stripped, exact `name=value` matches, first one wins.
    tx= is never applied (Supabase does not allow the override); an unknown timezone is ignored."""
    prefs = Prefs()
    for header in headers:
        for item in header.split(","):
            item = item.strip()
            name, eq, value = item.partition("=")
            if eq and value in _ACCEPTED.get(name, ()):
                if name != "tx":
                    prefs.values.setdefault(name, value)
            elif name == "timezone" and eq:
                if value in timezones:
                    prefs.values.setdefault(name, value)
            elif name == "max-affected" and eq:
                number = _integer(value)
                if number is not None:
                    prefs.values.setdefault(name, str(number))
            else:
                prefs.invalid.append(item)
    if prefs.values.get("handling") == "strict" and prefs.invalid:
        raise RestError(400, "PGRST122", "Invalid preferences given with handling=strict",
                        "Invalid preferences: " + ", ".join(prefs.invalid))
    return prefs


# -- Accept ----------------------------------------------------------------------------------
def negotiate(accept: str | None) -> tuple[bool, bool]:
    """(singular, strip_nulls) for the Accept header, or 406 PGRST107 when no JSON form is acceptable."""
    if not accept:
        return False, False
    offered = []
    for part in accept.split(","):
        media, *params = (x.strip() for x in part.split(";"))
        quality = next((p[2:] for p in params if p.startswith("q=")), "1")
        if quality.strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        offered.append((media.lower(), any(p.replace(" ", "") == "nulls=stripped" for p in params)))
    for media, strip in offered:
        if media == SINGULAR:
            return True, strip
        if media in ("application/json", "*/*", "application/*", "application/vnd.pgrst.array+json"):
            return False, strip and media == "application/vnd.pgrst.array+json"
    raise RestError(406, "PGRST107", "None of these media types are available: "
                    + ", ".join(m for m, _ in offered))
