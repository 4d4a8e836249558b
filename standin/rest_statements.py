"""The one SQL statement PostgREST runs per request (PostgREST's Query/Statements.hs).

Each statement yields one row: (total count or NULL, rows in the page, body as JSON text, rows newly
inserted). Bodies are rendered by Postgres' json_agg, so values look exactly as Supabase returns them.
Statements are SQL text with %s parameters (rest_sql.Sql); names are quoted identifiers, column types
and defaults come from the catalog, never from the request.
"""

from __future__ import annotations

from standin.rest_sql import Sql
from standin.rest_types import ident
from standin.schema_cache import Function, Table

SCHEMA = "public"


def rel(name: str) -> str:
    return ident(SCHEMA) + "." + ident(name)


def body_sql(singular: bool, strip_nulls: bool = False, scalar: bool = False) -> str:
    """handlerF: json_agg of the rows (`->0` for one object, or a function returning one value), the
    scalar column for scalar functions."""
    agg = "json_agg(_postgrest_t.pgrst_scalar)" if scalar else "json_agg(_postgrest_t)"
    if singular:
        agg += "->0"
    if strip_nulls:
        agg = f"json_strip_nulls({agg})"
    empty = "'null'" if singular else "'[]'"
    return f"coalesce({agg}, {empty})::text"


def page(select: Sql, source: str, where: Sql, order: Sql, limit: int | None, offset: int) -> Sql:
    """SELECT <select> FROM <source> WHERE … ORDER BY … LIMIT … OFFSET … (source: SQL text, no params)"""
    out = Sql().add("SELECT ").extend(select).add(" FROM " + source + " WHERE ").extend(where).extend(order)
    if limit is not None:
        out.add(f" LIMIT {int(limit)}")
    if offset:
        out.add(f" OFFSET {int(offset)}")
    return out


def count_query(source: str, where: Sql, limit: int | None = None) -> Sql:
    """readPlanToCountQuery (`LIMIT max-rows + 1` for count=estimated)."""
    out = Sql().add("SELECT 1 FROM " + source + " WHERE ").extend(where)
    if limit is not None:
        out.add(f" LIMIT {int(limit)}")
    return out


def read(page_sql: Sql, count: Sql | None, singular: bool, strip_nulls: bool, prefix: Sql | None = None,
         scalar: bool = False) -> Sql:
    """`singular` also for a function that returns one value (asJsonSingleF / asJsonF)."""
    """mainRead / mainCall: the page in pgrst_source, the optional count CTE, one result row."""
    out = Sql().add("WITH ")
    if prefix is not None:
        out.extend(prefix).add(", ")
    out.add("pgrst_source AS (").extend(page_sql).add(")")
    if count is not None:
        out.add(", pgrst_source_count AS (").extend(count).add(")")
    total = "(SELECT pg_catalog.count(*) FROM pgrst_source_count)" if count is not None else "NULL::bigint"
    out.add(f" SELECT {total}, pg_catalog.count(_postgrest_t), {body_sql(singular, strip_nulls, scalar)}, 0 "
            "FROM (SELECT * FROM pgrst_source) _postgrest_t")
    return out


# -- writes -----------------------------------------------------------------------------------
def _output(table: Table, select: Sql | None, representation: bool, singular: bool, strip_nulls: bool) -> Sql:
    if not representation:
        return Sql().add("SELECT NULL::bigint, pg_catalog.count(*), '', "
                         "pg_catalog.count(*) FILTER (WHERE pgrst_inserted) FROM pgrst_source")
    if select is None:  # every column, listed: the CTE also carries the inserted flag
        select = Sql().add(", ".join(ident(table.name) + "." + ident(c) for c in table.columns))
    return (Sql().add(f"SELECT NULL::bigint, pg_catalog.count(_postgrest_t), {body_sql(singular, strip_nulls)}, "
                      "(SELECT pg_catalog.count(*) FILTER (WHERE pgrst_inserted) FROM pgrst_source) FROM (SELECT ")
            .extend(select).add(" FROM pgrst_source AS " + ident(table.name) + ") _postgrest_t"))


def _returning(table: Table, representation: bool, flag: str) -> str:
    rows = ident(table.name) + ".*, " if representation else ""
    return f" RETURNING {rows}{flag} AS pgrst_inserted"


def _typed(table: Table, columns: list[str]) -> str:
    return ", ".join(ident(c) + " " + table.columns[c].type for c in columns)


def _sql_text(expr: str) -> str:
    return expr.replace("%", "%%")  # catalog text inside a statement that has %s placeholders


def insert(table: Table, columns: list[str], body_json: str, is_object: bool, defaults: bool,
           conflict: list[str] | None, resolution: str | None, representation: bool, select: Sql | None,
           singular: bool, strip_nulls: bool, put_where: Sql | None = None) -> Sql:
    """INSERT … SELECT FROM json_to_record(set)(body), optionally ON CONFLICT (upsert). `put_where` (PUT):
    only a body row whose key matches the URL's filters (on `_`, the body's columns) is written."""
    target = rel(table.name) + " AS " + ident(table.name)
    kind = "record" if is_object else "recordset"
    pairs = [f"{_sql_text(repr_literal(c))}, {_sql_text(table.columns[c].default)}"
             for c in columns if table.columns[c].default is not None] if defaults else []
    out = Sql()
    if pairs:  # Prefer: missing=default — absent keys take the column DEFAULT (merged in jsonb)
        merged = f"jsonb_build_object({', '.join(pairs)})"
        source = (f"(SELECT {merged} || %s::jsonb)" if is_object else
                  f"(SELECT coalesce(jsonb_agg({merged} || pgrst_row), '[]') FROM jsonb_array_elements(%s::jsonb) pgrst_row)")
        fn = f"jsonb_to_{kind}"
    else:
        source, fn = "%s::json", f"json_to_{kind}"
    idents = ", ".join(ident(c) for c in columns)
    if columns:
        out.add(f"INSERT INTO {target} ({idents}) SELECT {idents} FROM {fn}({source}) AS _({_typed(table, columns)})")
    elif is_object:  # `{}`: one row of defaults
        out.add(f"INSERT INTO {target} SELECT FROM (SELECT %s::json) _")
    else:  # `[{}, {}]`: a row of defaults each
        out.add(f"INSERT INTO {target} SELECT FROM json_array_elements(%s::json)")
    out.params.append(body_json)
    if put_where is not None:
        out.add(" WHERE ").extend(put_where)
    if resolution and conflict:
        on = ", ".join(ident(c) for c in conflict)
        if resolution == "merge-duplicates" and columns:
            sets = ", ".join(f"{ident(c)} = EXCLUDED.{ident(c)}" for c in columns)
            out.add(f" ON CONFLICT ({on}) DO UPDATE SET {sets}")
        else:
            out.add(f" ON CONFLICT ({on}) DO NOTHING")
    flag = f"({ident(table.name)}.xmax = 0)" if resolution == "merge-duplicates" else "true"
    head = Sql().add("WITH pgrst_source AS (").extend(out).add(_returning(table, representation, flag) + ") ")
    return head.extend(_output(table, select, representation, singular, strip_nulls))


def repr_literal(text: str) -> str:
    """A string literal for text from the catalog (a column name)."""
    return "'" + text.replace("'", "''") + "'"


def _limited(table: Table, where: Sql, order: Sql, limit: int | None, offset: int) -> Sql:
    """PATCH/DELETE with limit/offset: only the first rows in `order`, picked by ctid as PostgREST does."""
    if limit is None and not offset:
        return where
    inner = page(Sql().add("ctid"), rel(table.name) + " AS " + ident(table.name), where, order, limit, offset)
    return Sql().add("ctid = ANY(ARRAY(").extend(inner).add("))")


def update(table: Table, columns: list[str], body_json: str, where: Sql, order: Sql, limit: int | None,
           offset: int, representation: bool, select: Sql | None, singular: bool, strip_nulls: bool) -> Sql:
    sets = ", ".join(f"{ident(c)} = pgrst_body.{ident(c)}" for c in columns)
    out = (Sql().add(f"WITH pgrst_source AS (UPDATE {rel(table.name)} AS {ident(table.name)} SET {sets} "
                     f"FROM (SELECT * FROM json_to_record(%s::json) AS _({_typed(table, columns)})) pgrst_body WHERE ")
           .extend(_limited(table, where, order, limit, offset)))
    out.params.insert(0, body_json)
    out.add(_returning(table, representation, "false") + ") ")
    return out.extend(_output(table, select, representation, singular, strip_nulls))


def delete(table: Table, where: Sql, order: Sql, limit: int | None, offset: int, representation: bool,
           select: Sql | None, singular: bool, strip_nulls: bool) -> Sql:
    out = (Sql().add(f"WITH pgrst_source AS (DELETE FROM {rel(table.name)} AS {ident(table.name)} WHERE ")
           .extend(_limited(table, where, order, limit, offset)).add(_returning(table, representation, "false") + ") "))
    return out.extend(_output(table, select, representation, singular, strip_nulls))


# -- functions --------------------------------------------------------------------------------
def call(fn: Function, args: dict, args_json: str | None, whole_body: bool) -> Sql:
    """callPlanToQuery: `fn(a := …)` with POST arguments typed by json_to_record, GET arguments as
    unknown literals cast to the parameter type, or the whole body for one unnamed json parameter."""
    target = rel(fn.name)
    out = Sql()
    if whole_body:
        inner = Sql().add(f"{target}(%s::{fn.args[0][1]})")
        inner.params.append(args_json)
        prefix = None
    elif args_json is not None and args:  # POST
        types = dict(fn.args)
        named = ", ".join(f"{'VARIADIC ' if n == fn.variadic else ''}{ident(n)} := pgrst_body.{ident(n)}" for n in args)
        typed = ", ".join(f"{ident(n)} {types[n]}" for n in args)
        prefix = Sql().add(f"pgrst_body AS (SELECT * FROM json_to_record(%s::json) AS _({typed}))")
        prefix.params.append(args_json)
        inner = Sql().add(f"{target}({named})")
    else:  # GET, or no arguments
        types = dict(fn.args)
        inner = Sql().add(target + "(")
        for i, (name, value) in enumerate(args.items()):
            variadic = name == fn.variadic
            inner.add(", " if i else "").add(f"{'VARIADIC ' if variadic else ''}{ident(name)} := ").param(value)
            inner.add("::" + types[name])
        inner.add(")")
        prefix = None
    if fn.returns_scalar:
        out.add("SELECT pgrst_call.pgrst_scalar FROM (SELECT ").extend(inner).add(" pgrst_scalar")
        out.add(" FROM pgrst_body) pgrst_call" if prefix is not None else ") pgrst_call")
    else:
        out.add("SELECT pgrst_call.* FROM ")
        if prefix is not None:
            out.add("pgrst_body, LATERAL ")
        out.extend(inner).add(" pgrst_call")
    return out if prefix is None else Sql().add("WITH ").extend(prefix).add(" ").extend(out)
