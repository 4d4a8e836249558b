"""POST (insert/upsert), PATCH and DELETE as PostgREST answers them (Response.hs actionResponse)."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import parse_qsl

from starlette.responses import Response

from standin import rest_statements as stmts
from standin.rest_api import Ctx, RestApi, content_range
from standin.rest_errors import RestError
from standin.rest_grammar import Filter
from standin.rest_sql import Scope, order_sql, select_sql, where_sql
from standin.schema_cache import Table


def parse_json(raw: bytes):
    """(text, value) of a JSON body, or PostgREST's PGRST102. UTF-8 only (json.loads would guess
    UTF-16/32 from bytes); nesting too deep for the parser is refused, not a 500."""
    try:
        text = raw.decode("utf-8")
        return text, json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RestError(400, "PGRST102", "Empty or invalid json") from None


_MISSING = object()


async def read_body(ctx: Ctx):
    """(JSON text, value) of the body by its Content-Type (Payload.hs): JSON, form-urlencoded (one row of
    strings) or CSV (a header line, `NULL` for null); anything else is PostgREST's PGRST102."""
    raw = await ctx.request.body()
    media = (ctx.request.headers.get("content-type") or "application/json").split(";", 1)[0].strip().lower()
    if media == "application/json":
        return parse_json(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RestError(400, "PGRST102", "Empty or invalid json") from None
    if media == "application/x-www-form-urlencoded":
        value = dict(parse_qsl(text, keep_blank_values=True))
        return json.dumps(value), value
    if media == "text/csv":
        rows = []
        for row in csv.DictReader(io.StringIO(text), restval=_MISSING):
            if None in row or _MISSING in row.values():
                raise RestError(400, "PGRST102", "All lines must have same number of fields")
            rows.append({k: None if v == "NULL" else v for k, v in row.items()})
        return json.dumps(rows), rows
    raise RestError(400, "PGRST102", f"Content-Type not acceptable: {media}")


async def _columns_exist(api: RestApi, table: Table, columns: list[str]) -> Table:
    missing = [c for c in columns if c not in table.columns]
    if missing:  # maybe added since the cache was loaded
        await api.cache.reload()
        table = api.cache.tables.get(table.name, table)
        missing = [c for c in columns if c not in table.columns]
    if missing:
        raise RestError(400, "PGRST204", f"Could not find the '{missing[0]}' column of '{table.name}' in the schema cache")
    return table


def _max_affected(ctx: Ctx, n: int) -> None:
    limit = ctx.prefs.get("max-affected")
    if ctx.prefs.get("handling") == "strict" and limit is not None and n > int(limit):
        raise RestError(400, "PGRST124", "Query result exceeds max-affected preference constraint",
                        f"The query affects {n} rows")


def _checks(api: RestApi, ctx: Ctx, max_affected: bool = False):
    """The row checks that roll the write back: singular Accept, max-affected."""
    if not ctx.singular and not (max_affected and ctx.prefs.get("handling") == "strict"
                                 and ctx.prefs.get("max-affected") is not None):
        return None

    def check(row) -> None:
        if ctx.singular:
            api.check_singular(row)
        if max_affected:
            _max_affected(ctx, row[1])
    return check


async def insert(api: RestApi, ctx: Ctx, table: Table) -> Response:
    q, prefs = ctx.q, ctx.prefs
    raw, data = await read_body(ctx)
    is_object = isinstance(data, dict)
    if q.columns is not None:  # the body goes to Postgres as it is; it says which keys matter
        columns = list(dict.fromkeys(q.columns))
    elif is_object:
        columns = list(data)
    elif isinstance(data, list) and data:
        if not isinstance(data[0], dict) or any(not isinstance(r, dict) or r.keys() != data[0].keys() for r in data):
            raise RestError(400, "PGRST102", "All object keys must match")
        columns = list(data[0])
    else:  # [] and scalars: nothing to insert (Payload.hs truncates them to an empty array)
        columns, raw = [], "[]"
    table = await _columns_exist(api, table, columns)
    conflict = q.on_conflict or table.primary_key or None
    resolution = prefs.get("resolution") if conflict else None
    returning = prefs.get("return", "minimal")
    representation = returning == "representation" or (returning == "headers-only" and bool(table.primary_key))
    select = select_sql(await api.scope(table, q), q.select) if q.select is not None else None
    statement = stmts.insert(table, columns, raw, is_object, prefs.get("missing") == "default", conflict, resolution,
                             representation, select, ctx.singular, ctx.strip_nulls)
    row = await api.run(ctx, statement, False, _checks(api, ctx))
    n, body, inserted = row[1], row[2], row[3]
    status = 200 if resolution == "merge-duplicates" and inserted == 0 else 201
    count = n if prefs.get("count") in ("exact", "estimated") else None
    headers = {"Content-Range": content_range(1, 0, count),
               **prefs.applied((*(("resolution",) if resolution else ()), "missing", "return", "count", "handling",
                                "timezone"))}
    if returning == "headers-only" and n == 1 and table.primary_key:
        obj = json.loads(body)
        obj = obj[0] if isinstance(obj, list) else obj
        query = "&".join(f"{k}=" + ("is.null" if obj.get(k) is None else f"eq.{obj.get(k)}") for k in table.primary_key)
        headers["Location"] = f"/{table.name}?{query}"
    return api.respond(ctx, status, body if returning == "representation" else None, headers)


async def update(api: RestApi, ctx: Ctx, table: Table) -> Response:
    q, prefs = ctx.q, ctx.prefs
    raw, data = await read_body(ctx)
    if not isinstance(data, dict):
        raise RestError(400, "PGRST102", "Empty or invalid json")
    if not q.conditions:
        raise RestError(400, "21000", "UPDATE requires a WHERE clause")
    columns = list(dict.fromkeys(q.columns)) if q.columns is not None else list(data)
    table = await _columns_exist(api, table, columns)
    representation = prefs.get("return") == "representation"
    applied = prefs.applied(("missing", "return", "count", "handling", "timezone", "max-affected"))
    if not columns:  # PostgREST runs no UPDATE for `{}`
        return api.respond(ctx, 200 if representation else 204, "[]" if representation else None, applied)
    scope = await api.scope(table, q)
    select = select_sql(scope, q.select) if q.select is not None else None
    statement = stmts.update(table, columns, raw, where_sql(scope, q.conditions), order_sql(scope, q.order),
                             q.limit, q.offset, representation, select, ctx.singular, ctx.strip_nulls)
    row = await api.run(ctx, statement, False, _checks(api, ctx, max_affected=True))
    n = row[1]
    count = n if prefs.get("count") in ("exact", "estimated") else None
    headers = {"Content-Range": content_range(0, n - 1, count), **applied}
    return api.respond(ctx, 200 if representation else 204, row[2] if representation else None, headers)


async def delete(api: RestApi, ctx: Ctx, table: Table) -> Response:
    q, prefs = ctx.q, ctx.prefs  # the body is never parsed (supabase-py sends `{}`)
    if not q.conditions:
        raise RestError(400, "21000", "DELETE requires a WHERE clause")
    representation = prefs.get("return") == "representation"
    scope = await api.scope(table, q)
    select = select_sql(scope, q.select) if q.select is not None else None
    statement = stmts.delete(table, where_sql(scope, q.conditions), order_sql(scope, q.order), q.limit, q.offset,
                             representation, select, ctx.singular, ctx.strip_nulls)
    row = await api.run(ctx, statement, False, _checks(api, ctx, max_affected=True))
    n = row[1]
    count = n if prefs.get("count") in ("exact", "estimated") else None
    headers = {"Content-Range": content_range(1, 0, count),
               **prefs.applied(("return", "count", "handling", "timezone", "max-affected"))}
    return api.respond(ctx, 200 if representation else 204, row[2] if representation else None, headers)


async def put(api: RestApi, ctx: Ctx, table: Table) -> Response:
    """PUT: one row upserted by its full primary key, given as `pk=eq.value` filters (MutationSingleUpsert)."""
    q, prefs = ctx.q, ctx.prefs
    keys = table.primary_key
    filters = [c for c in q.conditions if isinstance(c, Filter)]
    if (not keys or len(filters) != len(q.conditions) or sorted(f.field.name for f in filters) != sorted(keys)
            or any(f.op != "eq" or f.negate or f.quant or f.field.path for f in filters)):
        raise RestError(405, "PGRST105", "Filters must include all and only primary key columns with 'eq' operators")
    if q.has_range:
        raise RestError(400, "PGRST114", "limit/offset querystring parameters are not allowed for PUT")
    raw, data = await read_body(ctx)
    rows = [data] if isinstance(data, dict) else data if isinstance(data, list) else []
    if len(rows) != 1 or not isinstance(rows[0], dict):
        raise RestError(400, "PGRST115", "Payload values do not match URL in primary key column(s)")
    columns = list(dict.fromkeys(q.columns)) if q.columns is not None else list(rows[0])
    table = await _columns_exist(api, table, columns)
    if not set(keys) <= set(columns):
        raise RestError(400, "PGRST115", "Payload values do not match URL in primary key column(s)")
    representation = prefs.get("return") == "representation"
    scope = await api.scope(table, q)
    select = select_sql(scope, q.select) if q.select is not None else None
    body_scope = Scope("_", {c.name: c.type for c in table.columns.values()})
    statement = stmts.insert(table, columns, raw, isinstance(data, dict), False, keys, "merge-duplicates",
                             representation, select, ctx.singular, ctx.strip_nulls, where_sql(body_scope, filters))

    def check(row) -> None:
        if row[1] != 1:  # failPut: the body's key is not the URL's
            raise RestError(400, "PGRST115", "Payload values do not match URL in primary key column(s)")
        if ctx.singular:
            api.check_singular(row)

    row = await api.run(ctx, statement, False, check)
    applied = prefs.applied(("return", "count", "handling", "timezone"))
    if not representation:
        return api.respond(ctx, 204, None, applied)
    return api.respond(ctx, 201 if row[3] else 200, row[2], applied)
