"""The PostgREST half of the stand-in: one transaction and one statement per request, RLS deciding.

Per request (supabase-protocol.md §2.2): BEGIN (READ ONLY for GET), set search_path, the role's own
settings, `role` and `request.jwt.claims` (with the role) plus request.method/path/headers via
set_config(…, true), run the statement, COMMIT. Rows are never filtered here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from psycopg import AsyncClientCursor, sql
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.requests import Request
from starlette.responses import Response

from tests.supabase_local import rest_statements as stmts
from tests.supabase_local.rest_errors import JSON_UTF8, RestError, from_postgres
from tests.supabase_local.rest_grammar import (
    RESERVED,
    casts_in,
    non_negative_int,
    order_by,
    select_list,
    where_from_params,
)
from tests.supabase_local.schema_cache import SchemaCache, Table

MAX_ROWS = 1000  # db-max-rows on Supabase
SINGULAR = "application/vnd.pgrst.object+json"

_ROLE_SETTINGS_SQL = """
select r.rolname, s.setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
where s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
order by s.setdatabase
"""


def request_settings(role_settings: list, role: str, claims: dict, method: str, path: str,
                     headers: dict) -> tuple[str, list]:
    """PostgREST's pre-request statement (§2.2): transaction-local GUCs, in PostgREST's order."""
    settings = [("search_path", '"public", "public", "extensions"'), *role_settings, ("role", role),
                ("request.jwt.claims", json.dumps({**claims, "role": role})), ("request.method", method),
                ("request.path", path), ("request.headers", json.dumps(headers)), ("request.cookies", "{}")]
    return "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings), [x for kv in settings for x in kv]


def request_transaction(read_only: bool, pre: str, statement: sql.Composable, commit: bool = True) -> sql.Composable:
    """PostgREST's per-request transaction as one simple-protocol query: BEGIN (READ ONLY for reads), the
    settings, the statement, COMMIT (left out when the caller must inspect the row before committing).

    One message and one round trip. The values are bound client-side as quoted literals, which are
    untyped, so Postgres coerces them exactly like PostgREST's unknown-typed parameters. After an error
    the server skips the rest and the transaction stays aborted until the caller's ROLLBACK.
    """
    begin = "BEGIN ISOLATION LEVEL READ COMMITTED " + ("READ ONLY" if read_only else "READ WRITE")
    return sql.SQL("; ").join([sql.SQL(begin), sql.SQL(pre), statement, *([sql.SQL("COMMIT")] if commit else [])])


async def run_transaction(conn, query: sql.Composable, params: list):
    """Send `request_transaction(...)` and return the statement's one row (the third result)."""
    cur = AsyncClientCursor(conn)
    await cur.execute(query, params, prepare=False)
    cur.nextset()  # BEGIN -> the settings
    cur.nextset()  # -> the statement
    return await cur.fetchone()


def range_header(value: str | None, limit: int | None, offset: int) -> tuple[int | None, int]:
    """`Range: 0-9` / `10-` (items), intersected with limit/offset as PostgREST does."""
    if not value:
        return limit, offset
    first, dash, last = value.strip().partition("-")
    if not dash or not first.isdigit() or (last and not last.isdigit()):
        return limit, offset  # not an items range: ignored
    start = int(first)
    end = int(last) if last else None
    if end is not None and end < start:
        raise RestError(416, "PGRST103", "Requested range not satisfiable", f"{value} is not a valid range")
    new_offset = max(offset, start)
    ends = [e for e in (end + 1 if end is not None else None, offset + limit if limit is not None else None)
            if e is not None]
    return (max(min(ends) - new_offset, 0) if ends else None), new_offset


def prefer(request: Request) -> dict[str, str]:
    prefs: dict[str, str] = {}
    for header in request.headers.getlist("prefer"):
        for item in header.split(","):
            key, _, value = item.strip().partition("=")
            if key:
                prefs[key.strip()] = value.strip()
    return prefs


class RestApi:
    def __init__(self, pool: AsyncConnectionPool):
        self.pool = pool
        self.cache = SchemaCache(pool)
        self.role_settings: dict[str, list[tuple[str, str]]] = {}
        self._checking: asyncio.Future | None = None

    async def load(self) -> None:
        await self.cache.reload()
        async with self.pool.connection() as conn:
            for role, config in await (await conn.execute(_ROLE_SETTINGS_SQL)).fetchall():
                for item in config or []:
                    name, _, value = item.partition("=")
                    self.role_settings.setdefault(role, []).append((name, value))

    # -- the transaction -------------------------------------------------------------------
    async def run(self, request: Request, role: str, claims: dict, statement, params: list, read_only: bool,
                  path: str, check=None) -> tuple:
        """Run one statement in PostgREST's per-request transaction; `check(row)` may raise to roll back."""
        pre, pre_params = request_settings(self.role_settings.get(role, []), role, claims, request.method, path,
                                           {k: v for k, v in request.headers.items() if k != "cookie"})
        query = request_transaction(read_only, pre, statement, commit=check is None)
        try:
            async with self.pool.connection() as conn:  # autocommit connections: the transaction is explicit
                try:
                    # Not a psycopg pipeline of four statements: that took ~10 event-loop wake-ups per
                    # request, this ~2, and the stand-in spends about a third less CPU per request.
                    row = await run_transaction(conn, query, [*pre_params, *params])
                    if check is not None:
                        check(row)
                        await conn.execute("COMMIT")
                except pg_errors.Error as exc:
                    await self._rollback(conn)
                    # Connection lost (e.g. the backend was terminated: 57P01 arrives, then the socket
                    # closes): PostgREST's 503 PGRST001, and purge the other dead pool connections.
                    # (A psycopg error without SQLSTATE on a healthy connection is bad input refused
                    # before sending, e.g. a NUL byte: from_postgres answers 400.)
                    lost = conn.broken or (exc.sqlstate is None and isinstance(exc, pg_errors.OperationalError))
                    if lost and not self._checking:
                        self._checking = asyncio.ensure_future(self._check_pool())
                    raise from_postgres(exc, role, connection_lost=lost) from None
                except BaseException:
                    await self._rollback(conn)
                    raise
        except PoolTimeout:
            raise RestError(504, "PGRST003", "Timed out acquiring connection from connection pool.") from None
        return row

    async def _check_pool(self) -> None:
        try:
            await self.pool.check()
        finally:
            self._checking = None

    @staticmethod
    async def _rollback(conn) -> None:
        """Roll back an open transaction now; a connection still busy (a cancelled query) is left to the
        pool, which closes it rather than reuse it."""
        if not conn.closed and conn.pgconn.transaction_status in (TransactionStatus.INTRANS,
                                                                   TransactionStatus.INERROR):
            with contextlib.suppress(pg_errors.Error):  # a broken connection: the pool drops it
                await conn.execute("ROLLBACK")

    # -- routing ---------------------------------------------------------------------------
    async def handle(self, request: Request, role: str, claims: dict, path: str) -> Response:
        profile = request.headers.get("accept-profile" if request.method in ("GET", "HEAD") else "content-profile")
        if profile and profile != "public":
            raise RestError(406, "PGRST106", f"Invalid schema: {profile}",
                            hint="Only the following schemas are exposed: public, graphql_public")
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "rpc":
            if request.method not in ("POST", "GET", "HEAD"):
                raise RestError(405, "PGRST101", f"Cannot use the {request.method} method on RPC")
            return await self.rpc(request, role, claims, parts[1], path)
        if len(parts) != 1 or not parts[0]:
            raise RestError(404, "PGRST125", "Invalid path specified in request URL")
        table = await self.cache.table(parts[0])
        if table is None:
            raise RestError(404, "PGRST205", f"Could not find the table 'public.{parts[0]}' in the schema cache")
        method = {"GET": self.read, "HEAD": self.read, "POST": self.insert, "PATCH": self.update,
                  "DELETE": self.delete}.get(request.method)
        if method is None:
            raise RestError(405, "PGRST117", f"Unsupported HTTP method: {request.method}")
        return await method(request, role, claims, table, path)

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def singular(request: Request) -> bool:
        return SINGULAR in request.headers.get("accept", "")

    @staticmethod
    def check_singular(row) -> None:
        if row[1] != 1:
            raise RestError(406, "PGRST116", "Cannot coerce the result to a single JSON object",
                            f"The result contains {row[1]} rows")

    def respond(self, request: Request, status: int, body: str | None, headers: dict) -> Response:
        media = SINGULAR + "; charset=utf-8" if self.singular(request) else JSON_UTF8
        return Response(body if body is not None else b"", status, headers=headers, media_type=media)

    @staticmethod
    def _applied(prefs: dict, keys: tuple[str, ...]) -> dict:
        applied = [f"{k}={prefs[k]}" for k in keys if k in prefs]
        return {"Preference-Applied": ", ".join(applied)} if applied else {}

    async def _select(self, table: Table, text: str | None):
        types = await self.cache.type_names(casts_in(text)) if text and "::" in text else None
        return select_list(table.name, text, types)

    async def _write_select(self, request: Request, table: Table):
        text = request.query_params.get("select")
        return None if text is None or text.strip() in ("", "*") else await self._select(table, text)

    async def _columns_exist(self, table: Table, columns: list[str]) -> Table:
        missing = [c for c in columns if c not in table.columns]
        if missing:
            await self.cache.reload()
            table = self.cache.tables.get(table.name, table)
            missing = [c for c in columns if c not in table.columns]
        if missing:
            raise RestError(400, "PGRST204", f"Could not find the '{missing[0]}' column of '{table.name}' in the schema cache")
        return table

    @staticmethod
    def parse_json(raw: bytes):
        """(text, value) of a JSON body, or PostgREST's PGRST102. UTF-8 only (json.loads would guess
        UTF-16/32 from bytes); nesting too deep for the parser is refused, not a 500."""
        try:
            text = raw.decode("utf-8")
            return text, json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise RestError(400, "PGRST102", "Empty or invalid json") from None

    async def _json_body(self, request: Request):
        return self.parse_json(await request.body())

    # -- verbs -----------------------------------------------------------------------------
    async def read(self, request: Request, role: str, claims: dict, table: Table, path: str) -> Response:
        q = request.query_params
        where = where_from_params(table.name, q.multi_items())
        limit = non_negative_int("limit", q.get("limit"))
        offset = non_negative_int("offset", q.get("offset")) or 0
        limit, offset = range_header(request.headers.get("range"), limit, offset)
        limit = MAX_ROWS if limit is None else min(limit, MAX_ROWS)
        count = prefer(request).get("count") in ("exact", "planned", "estimated")
        singular = self.singular(request)
        stmt, params = stmts.read(table.name, await self._select(table, q.get("select")), where,
                                  order_by(table.name, q.get("order")), limit, offset, count, singular)
        row = await self.run(request, role, claims, stmt, params, True, path,
                             self.check_singular if singular else None)
        total, n, body = row[0], row[1], row[2]
        if total is not None and offset > total:
            raise RestError(416, "PGRST103", "Requested range not satisfiable",
                            f"An offset of {offset} was requested, but there are only {total} rows.")
        span = f"{offset}-{offset + n - 1}" if n else "*"
        status = 206 if total is not None and n < total else 200
        headers = {"Content-Range": f"{span}/{'*' if total is None else total}",
                   "Content-Location": path + ("?" + request.url.query if request.url.query else "")}
        if count:
            headers.update(self._applied(prefer(request), ("count",)))
        return self.respond(request, status, None if request.method == "HEAD" else body, headers)

    async def insert(self, request: Request, role: str, claims: dict, table: Table, path: str) -> Response:
        prefs = prefer(request)
        raw, data = await self._json_body(request)
        rows = data if isinstance(data, list) else [data]
        if not all(isinstance(r, dict) for r in rows):
            raise RestError(400, "PGRST102", "Empty or invalid json")
        columns_param = request.query_params.get("columns")
        if columns_param is not None:
            columns = [c.strip().strip('"') for c in columns_param.split(",") if c.strip()]
        else:
            columns = list(rows[0]) if rows else []
            if any(set(r) != set(columns) for r in rows):
                raise RestError(400, "PGRST102", "All object keys must match")
        table = await self._columns_exist(table, columns)
        on_conflict = request.query_params.get("on_conflict")
        conflict = [c.strip() for c in on_conflict.split(",")] if on_conflict else table.primary_key
        resolution = prefs.get("resolution") if prefs.get("resolution") in ("merge-duplicates", "ignore-duplicates") else None
        returning = prefs.get("return", "minimal")
        representation = returning == "representation" or (returning == "headers-only" and bool(table.primary_key))
        singular = self.singular(request)
        body_json = raw if isinstance(data, list) else "[" + raw + "]"
        stmt, params = stmts.insert(table, columns, body_json, prefs.get("missing") == "default", conflict or None,
                                    resolution, representation, await self._write_select(request, table), singular)
        row = await self.run(request, role, claims, stmt, params, False, path,
                             self.check_singular if singular else None)
        n, body, inserted = row[1], row[2], row[3]
        status = 200 if resolution == "merge-duplicates" and n and inserted == 0 else 201
        headers = {"Content-Range": "*/*", **self._applied(prefs, ("resolution", "missing", "return"))}
        if returning == "headers-only":
            if n == 1 and table.primary_key:
                obj = json.loads(body)[0]
                query = "&".join(f"{k}=eq.{obj.get(k)}" for k in table.primary_key)
                headers["Location"] = f"/{table.name}?{query}"
            body = None
        return self.respond(request, status, body if returning == "representation" else None, headers)

    async def update(self, request: Request, role: str, claims: dict, table: Table, path: str) -> Response:
        prefs = prefer(request)
        raw, data = await self._json_body(request)
        if not isinstance(data, dict):
            raise RestError(400, "PGRST102", "Empty or invalid json")
        where = where_from_params(table.name, request.query_params.multi_items())
        if not where.parts:
            raise RestError(400, "21000", "UPDATE requires a WHERE clause")
        table = await self._columns_exist(table, list(data))
        representation = prefs.get("return") == "representation"
        singular = self.singular(request)
        if not data:  # PostgREST runs no UPDATE for `{}`
            return self.respond(request, 200 if representation else 204, "[]" if representation else None, {})
        stmt, params = stmts.update(table, list(data), raw, where, representation,
                                    await self._write_select(request, table), singular)
        row = await self.run(request, role, claims, stmt, params, False, path,
                             self.check_singular if singular else None)
        n = row[1]
        headers = {"Content-Range": f"0-{n - 1}/*" if n else "*/*", **self._applied(prefs, ("return",))}
        return self.respond(request, 200 if representation else 204, row[2] if representation else None, headers)

    async def delete(self, request: Request, role: str, claims: dict, table: Table, path: str) -> Response:
        prefs = prefer(request)  # the body is never parsed (supabase-py sends `{}`)
        where = where_from_params(table.name, request.query_params.multi_items())
        if not where.parts:
            raise RestError(400, "21000", "DELETE requires a WHERE clause")
        representation = prefs.get("return") == "representation"
        singular = self.singular(request)
        stmt, params = stmts.delete(table, where, representation, await self._write_select(request, table), singular)
        row = await self.run(request, role, claims, stmt, params, False, path,
                             self.check_singular if singular else None)
        headers = {"Content-Range": "*/*", **self._applied(prefs, ("return",))}
        return self.respond(request, 200 if representation else 204, row[2] if representation else None, headers)

    async def rpc(self, request: Request, role: str, claims: dict, name: str, path: str) -> Response:
        if request.method == "POST":
            raw = await request.body()
            args = self.parse_json(raw)[1] if raw.strip() else {}
        else:  # GET /rpc/fn?arg=value runs read-only, arguments from the query string
            args = {k: v for k, v in request.query_params.items() if k not in RESERVED}
            raw = json.dumps(args).encode()
        if not isinstance(args, dict):
            raise RestError(400, "PGRST102", "Empty or invalid json")
        fn = await self.cache.function(name)
        known = dict(fn.args) if fn else {}
        required = [n for n, _ in fn.args[:len(fn.args) - fn.n_defaults]] if fn else []
        if fn is None or any(a not in known for a in args) or any(r not in args for r in required):
            listed = ", ".join(sorted(args))
            raise RestError(404, "PGRST202", f"Could not find the function public.{name}({listed}) in the schema cache"
                            if args else f"Could not find the function public.{name} without parameters in the schema cache",
                            "Searched for the function public." + name + (f" with parameters {listed}" if args else
                            " without parameters") + " or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.")
        singular = self.singular(request)
        stmt, params = stmts.call(fn, list(args), raw.decode() if args else "{}", singular)
        row = await self.run(request, role, claims, stmt, params, request.method != "POST", path)
        if fn.returns_void:
            return Response(b"", 204)
        return self.respond(request, 200, row[2], {})
