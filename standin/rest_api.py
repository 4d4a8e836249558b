"""The PostgREST half of the stand-in: one transaction and one statement per request, RLS deciding.

Per request, as PostgREST: BEGIN (READ ONLY for GET/HEAD), set search_path, the role's
own settings, `role` and `request.jwt.claims` (with the role) plus request.method/path/headers via
set_config(…, true), run the statement, COMMIT. Rows are never filtered here. Writes live in
rest_writes.py, functions in rest_rpc.py; the grammar in rest_grammar/rest_query, SQL in rest_sql.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass

from psycopg import AsyncClientCursor
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.requests import Request
from starlette.responses import Response

from standin import rest_statements as stmts
from standin.rest_errors import JSON_UTF8, RestError, from_postgres
from standin.rest_query import (
    MAX_ROWS,
    SINGULAR,
    Prefs,
    Query,
    apply_range_header,
    negotiate,
    parse_prefer,
    parse_query,
    query_items,
)
from standin.rest_sql import Scope, Sql, order_sql, select_sql, where_sql
from standin.schema_cache import SchemaCache, Table

_ROLE_SETTINGS_SQL = """
select r.rolname, s.setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
where s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
order by s.setdatabase
"""


def request_settings(role_settings: list, role: str, claims: dict, method: str, path: str,
                     headers: dict, timezone: str | None = None) -> tuple[str, list]:
    """PostgREST's pre-request statement: transaction-local GUCs, in PostgREST's order."""
    settings = [("search_path", '"public", "public", "extensions"'), *role_settings, ("role", role),
                ("request.jwt.claims", json.dumps({**claims, "role": role})), ("request.method", method),
                ("request.path", path), ("request.headers", json.dumps(headers)), ("request.cookies", "{}")]
    if timezone:
        settings.append(("timezone", timezone))
    return "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings), [x for kv in settings for x in kv]


def request_transaction(read_only: bool, pre: str, statement: str, commit: bool = True,
                        explain: str | None = None) -> str:
    """PostgREST's per-request transaction as one simple-protocol query: BEGIN (READ ONLY for reads), the
    settings, the statement, the planner's count when asked for, COMMIT (left out when the caller must
    inspect the row before committing).

    One message and one round trip. The values are bound client-side as quoted literals, which are
    untyped, so Postgres coerces them exactly like PostgREST's unknown-typed parameters. After an error
    the server skips the rest and the transaction stays aborted until the caller's ROLLBACK.
    """
    begin = "BEGIN ISOLATION LEVEL READ COMMITTED " + ("READ ONLY" if read_only else "READ WRITE")
    parts = [begin, pre, statement]
    if explain is not None:
        parts.append("EXPLAIN (FORMAT JSON) " + explain)
    if commit:
        parts.append("COMMIT")
    return "; ".join(parts)


async def run_transaction(conn, query: str, params: list, explain: bool = False):
    """Send `request_transaction(...)`; the statement's one row (the third result), and with `explain`
    the planner's row estimate for the count query as a fifth value."""
    cur = AsyncClientCursor(conn)
    await cur.execute(query, params, prepare=False)
    cur.nextset()  # BEGIN -> the settings
    cur.nextset()  # -> the statement
    row = await cur.fetchone()
    if explain:
        cur.nextset()
        plan = (await cur.fetchone())[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        row = (*row, int(plan[0]["Plan"]["Plan Rows"]))
    return row


def content_range(lower: int, upper: int, total: int | None) -> str:
    """RangeQuery.contentRangeH."""
    span = f"{lower}-{upper}" if total != 0 and lower <= upper else "*"
    return f"{span}/{'*' if total is None else total}"


@dataclass
class Ctx:
    """One request as the verbs need it."""

    request: Request
    role: str
    claims: dict
    path: str
    q: Query
    prefs: Prefs
    singular: bool
    strip_nulls: bool

    @property
    def method(self) -> str:
        return self.request.method


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
    async def run(self, ctx: Ctx, statement: Sql, read_only: bool, check=None, explain: Sql | None = None) -> tuple:
        """Run one statement in PostgREST's per-request transaction; `check(row)` may raise to roll back."""
        request = ctx.request
        pre, pre_params = request_settings(self.role_settings.get(ctx.role, []), ctx.role, ctx.claims, ctx.method,
                                           ctx.path, {k: v for k, v in request.headers.items() if k != "cookie"},
                                           ctx.prefs.get("timezone"))
        query = request_transaction(read_only, pre, statement.text(), commit=check is None,
                                    explain=explain.text() if explain is not None else None)
        params = [*pre_params, *statement.params, *(explain.params if explain is not None else ())]
        try:
            async with self.pool.connection() as conn:  # autocommit connections: the transaction is explicit
                try:
                    # Not a psycopg pipeline of four statements: that took ~10 event-loop wake-ups per
                    # request, this ~2, and the stand-in spends about a third less CPU per request.
                    row = await run_transaction(conn, query, params, explain is not None)
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
                    raise from_postgres(exc, ctx.role, connection_lost=lost) from None
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
        from standin import rest_rpc, rest_writes

        method = request.method
        profile = request.headers.get("accept-profile" if method in ("GET", "HEAD") else "content-profile")
        if profile and profile != "public":
            raise RestError(406, "PGRST106", f"Invalid schema: {profile}",
                            hint="Only the following schemas are exposed: public, graphql_public")
        parts = path.strip("/").split("/")
        is_rpc = len(parts) == 2 and parts[0] == "rpc"
        if is_rpc and method not in ("POST", "GET", "HEAD"):
            raise RestError(405, "PGRST101", f"Cannot use the {method} method on RPC")
        if not is_rpc and (len(parts) != 1 or not parts[0]):
            raise RestError(404, "PGRST125", "Invalid path specified in request URL")
        if not is_rpc and method not in ("GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"):
            raise RestError(405, "PGRST117", f"Unsupported HTTP method: {method}")
        singular, strip = negotiate(request.headers.get("accept"))
        q = parse_query(query_items(request.url.query), rpc_read=is_rpc and method != "POST")
        prefs = parse_prefer(request.headers.getlist("prefer"), self.cache.timezones)
        if method == "GET":
            apply_range_header(q, request.headers.get("range"))
        ctx = Ctx(request, role, claims, path, q, prefs, singular, strip)
        if is_rpc:
            return await rest_rpc.call(self, ctx, parts[1])
        table = await self.cache.table(parts[0])
        if table is None:
            raise RestError(404, "PGRST205", f"Could not find the table 'public.{parts[0]}' in the schema cache")
        if method in ("GET", "HEAD"):
            return await self.read(ctx, table)
        verb = {"POST": rest_writes.insert, "PATCH": rest_writes.update, "PUT": rest_writes.put,
                "DELETE": rest_writes.delete}[method]
        return await verb(self, ctx, table)

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def check_singular(row) -> None:
        if row[1] != 1:
            raise RestError(406, "PGRST116", "Cannot coerce the result to a single JSON object",
                            f"The result contains {row[1]} rows")

    @staticmethod
    def respond(ctx: Ctx, status: int, body: str | None, headers: dict) -> Response:
        if ctx.singular:
            media = SINGULAR + (";nulls=stripped" if ctx.strip_nulls else "") + "; charset=utf-8"
        else:
            media = JSON_UTF8
        return Response(body if body is not None else b"", status, headers=headers, media_type=media)

    async def scope(self, table: Table, q: Query) -> Scope:
        """Names resolve against the table; casts in select= against the catalog's types."""
        casts = [i.cast for i in q.select or () if i.cast]
        types = await self.cache.type_names(casts) if casts else None
        return Scope(table.name, {c.name: c.type for c in table.columns.values()}, types)

    @staticmethod
    def count_mode(ctx: Ctx) -> str | None:
        return ctx.prefs.get("count")

    # -- GET / HEAD -----------------------------------------------------------------------
    async def read(self, ctx: Ctx, table: Table) -> Response:
        q = ctx.q
        scope = await self.scope(table, q)
        source = stmts.rel(table.name)
        where = where_sql(scope, q.conditions)
        limit = MAX_ROWS if q.limit is None else min(q.limit, MAX_ROWS)
        page = stmts.page(select_sql(scope, q.select), source, where, order_sql(scope, q.order), limit, q.offset)
        return await self.respond_read(ctx, page, source, where, table.name)

    async def respond_read(self, ctx: Ctx, page: Sql, source: str, where: Sql, name: str,
                           prefix: Sql | None = None, scalar: bool = False, read_only: bool = True,
                           single_row: bool = False) -> Response:
        """Run a read (or a function call) with the count PostgREST would give, and answer it."""
        q, mode = ctx.q, self.count_mode(ctx)
        count = None
        if mode == "exact":
            count = stmts.count_query(source, where)
        elif mode == "estimated":
            count = stmts.count_query(source, where, MAX_ROWS + 1)
        explain = None
        if mode in ("planned", "estimated"):  # the planner's estimate of the same count query
            explain = stmts.count_query(source, where)
            if prefix is not None:  # a function's result: the call is the query's CTE
                explain = Sql().add("WITH ").extend(prefix).add(" ").extend(explain)
        statement = stmts.read(page, count, ctx.singular or single_row, ctx.strip_nulls, prefix, scalar)
        row = await self.run(ctx, statement, read_only, self.check_singular if ctx.singular else None, explain)
        total, n, body = row[0], row[1], row[2]
        if single_row:
            n = 1  # a function returning one value: page_total is 1 (pageCountSelectF)
        if mode == "planned" and explain is not None:
            total = row[4]
        elif mode == "estimated" and explain is not None and total is not None and total > MAX_ROWS:
            total = max(total, row[4])
        lower, upper = q.offset, q.offset + n - 1
        if total is not None and lower > total:
            raise RestError(416, "PGRST103", "Requested range not satisfiable",
                            f"An offset of {lower} was requested, but there are only {total} rows.")
        status = 206 if total is not None and (1 + upper - lower) < total else 200
        headers = {"Content-Range": content_range(lower, upper, total)}
        if prefix is None:
            headers["Content-Location"] = "/" + name + ("?" + q.canonical if q.canonical else "")
        headers.update(ctx.prefs.applied(("count", "handling", "timezone")))
        return self.respond(ctx, status, None if ctx.method == "HEAD" else body, headers)
