"""/rpc/<function> by POST (arguments from the JSON body) and by GET/HEAD (arguments from the query
string, run read-only), as PostgREST plans it (Plan.hs callPlan, QueryBuilder.callPlanToQuery).

The function is chosen among its overloads by argument names; a single unnamed json/jsonb parameter
takes the whole POST body. Functions returning rows accept select=, filters, order, limit/offset and
counts on their result, like a table.
"""

from __future__ import annotations

from starlette.responses import Response

from standin import rest_statements as stmts
from standin.rest_api import Ctx, RestApi
from standin.rest_errors import RestError
from standin.rest_query import MAX_ROWS
from standin.rest_sql import Scope, Sql, order_sql, select_sql, where_sql
from standin.rest_types import ident
from standin.rest_writes import read_body
from standin.schema_cache import Function


def _not_found(name: str, args: list[str]) -> RestError:
    listed = ", ".join(sorted(args))
    if args:
        return RestError(404, "PGRST202", f"Could not find the function public.{name}({listed}) in the schema cache",
                         f"Searched for the function public.{name} with parameters {listed} or with a single unnamed "
                         "json/jsonb parameter, but no matches were found in the schema cache.")
    return RestError(404, "PGRST202", f"Could not find the function public.{name} without parameters in the schema cache",
                     f"Searched for the function public.{name} without parameters or with a single unnamed json/jsonb "
                     "parameter, but no matches were found in the schema cache.")


def _choose(overloads: list[Function], name: str, args: list[str], is_post: bool) -> tuple[Function, bool]:
    """(function, whole_body): the overload whose parameters cover the given names (Plan.hs findProc)."""
    given = set(args)
    matches = [f for f in overloads if set(f.required) <= given <= {n for n, _ in f.args} and "" not in given
               and not (f.args and f.args[0][0] == "" and len(f.args) == 1 and given)]
    if not matches and is_post:
        matches = [f for f in overloads if f.one_unnamed_json]
        if len(matches) == 1:
            return matches[0], True
    if not matches:
        raise _not_found(name, args)
    if len(matches) > 1:
        listed = ", ".join(f"public.{name}({', '.join(f'{n} => {t}' for n, t in f.args)})" for f in matches)
        raise RestError(300, "PGRST203", f"Could not choose the best candidate function between: {listed}",
                        hint="Try renaming the parameters or the function itself in the database so function "
                             "overloading can be resolved")
    return matches[0], False


async def call(api: RestApi, ctx: Ctx, name: str) -> Response:
    is_post = ctx.method == "POST"
    raw_text = None
    if is_post:
        raw = await ctx.request.body()
        raw_text, args = await read_body(ctx) if raw.strip() else ("{}", {})
        if not isinstance(args, dict):
            args = {}  # a non-object body only fits a single unnamed json parameter
            whole_only = True
        else:
            whole_only = False
    else:
        args, whole_only = dict(ctx.q.rpc_args), False
    overloads = await api.cache.function(name)
    try:
        fn, whole_body = _choose(overloads, name, list(args), is_post)
    except RestError as err:
        if err.code != "PGRST202":
            raise
        await api.cache.reload()  # created or replaced since the cache was loaded?
        fn, whole_body = _choose(api.cache.functions.get(name, []), name, list(args), is_post)
    if whole_only and not whole_body:
        raise RestError(400, "PGRST102", "Empty or invalid json")
    if whole_body:
        args = {}
    call_sql = stmts.call(fn, args, raw_text if (is_post and (args or whole_body)) else None, whole_body)
    q = ctx.q
    if fn.returns_scalar:
        select, where, order = Sql().add("*"), Sql().add("TRUE"), Sql()
    else:
        scope = Scope(fn.name, None, None)
        if any(i.cast for i in q.select or ()):
            scope.cast_types = await api.cache.type_names([i.cast for i in q.select or () if i.cast])
        select, where, order = select_sql(scope, q.select), where_sql(scope, q.conditions), order_sql(scope, q.order)
    source = "pgrst_call_result AS " + ident(fn.name)
    limit = None if fn.returns_scalar and not fn.returns_set else (MAX_ROWS if q.limit is None else min(q.limit, MAX_ROWS))
    page = stmts.page(select, source, where, order, limit, q.offset)
    prefix = Sql().add("pgrst_call_result AS (").extend(call_sql).add(")")
    response = await api.respond_read(ctx, page, source, where, fn.name, prefix=prefix,
                                      scalar=fn.returns_scalar, read_only=not is_post,
                                      single_row=not fn.returns_set)
    if fn.returns_void:
        return Response(b"", 204, headers={k: v for k, v in response.headers.items()
                                           if k.lower() in ("content-range", "preference-applied")})
    return response
