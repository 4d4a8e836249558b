"""The one SQL statement PostgREST runs per request (supabase-protocol.md §2.3).

Each statement yields one row: (total count or NULL, rows in the page, body as JSON text, rows newly
inserted). Bodies are rendered by Postgres' json_agg, so values look exactly as Supabase returns them.
"""

from __future__ import annotations

from psycopg import sql

from tests.supabase_local.rest_grammar import Where
from tests.supabase_local.schema_cache import Function, Table

SCHEMA = "public"


def _body(singular: bool) -> sql.Composable:
    if singular:
        return sql.SQL("coalesce(json_agg(_postgrest_t)->0, 'null')::text")
    return sql.SQL("coalesce(json_agg(_postgrest_t), '[]')::text")


def read(table: str, select: sql.Composable, where: Where, order: sql.Composable, limit: int, offset: int,
         count: bool, singular: bool) -> tuple[sql.Composable, list]:
    rel = sql.Identifier(SCHEMA, table)
    total = sql.SQL("(SELECT pg_catalog.count(*) FROM {} WHERE {})").format(rel, where.sql()) if count \
        else sql.SQL("NULL::bigint")
    stmt = sql.SQL(
        "WITH pgrst_source AS (SELECT {select} FROM {rel} WHERE {where}{order} LIMIT {limit} OFFSET {offset}) "
        "SELECT {total}, pg_catalog.count(_postgrest_t), {body}, 0 FROM (SELECT * FROM pgrst_source) _postgrest_t"
    ).format(select=select, rel=rel, where=where.sql(), order=order, limit=sql.Literal(limit),
             offset=sql.Literal(offset), total=total, body=_body(singular))
    return stmt, where.params + (where.params if count else [])


def _projection(table: Table, select: sql.Composable | None) -> sql.Composable:
    """Writes return `select=` columns, or every column (listed, since the CTE carries a flag column)."""
    if select is not None:
        return select
    return sql.SQL(", ").join(sql.Identifier(table.name, c) for c in table.columns)


def _output(table: Table, select: sql.Composable | None, representation: bool, singular: bool) -> sql.Composable:
    if not representation:
        return sql.SQL("SELECT NULL::bigint, pg_catalog.count(*), '', "
                       "pg_catalog.count(*) FILTER (WHERE pgrst_inserted) FROM pgrst_source")
    return sql.SQL(
        "SELECT NULL::bigint, pg_catalog.count(_postgrest_t), {body}, "
        "(SELECT pg_catalog.count(*) FILTER (WHERE pgrst_inserted) FROM pgrst_source) "
        "FROM (SELECT {proj} FROM pgrst_source AS {alias}) _postgrest_t"
    ).format(body=_body(singular), proj=_projection(table, select), alias=sql.Identifier(table.name))


def _returning(table: Table, representation: bool, flag: sql.Composable) -> sql.Composable:
    rows = sql.SQL("{}.*, ").format(sql.Identifier(table.name)) if representation else sql.SQL("")
    return sql.SQL(" RETURNING {}{} AS pgrst_inserted").format(rows, flag)


def insert(table: Table, columns: list[str], body_json: str, defaults: bool, conflict: list[str] | None,
           resolution: str | None, representation: bool, select: sql.Composable | None,
           singular: bool) -> tuple[sql.Composable, list]:
    """INSERT … SELECT FROM json_to_recordset(body), optionally ON CONFLICT (upsert). body_json is an array."""
    rel = sql.Identifier(SCHEMA, table.name)
    idents = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    if defaults:
        # Prefer: missing=default — absent keys take the column DEFAULT (PostgREST merges defaults in jsonb).
        pairs = [sql.SQL("{}, {}").format(sql.Literal(c), sql.SQL(table.columns[c].default))
                 for c in columns if table.columns[c].default is not None]
        source = sql.SQL(
            "(SELECT coalesce(json_agg(jsonb_build_object({pairs}) || pgrst_row), '[]') "
            "FROM jsonb_array_elements({ph}::jsonb) pgrst_row)"
        ).format(pairs=sql.SQL(", ").join(pairs), ph=sql.Placeholder()) if pairs else sql.SQL("{}::json").format(
            sql.Placeholder())
    else:
        source = sql.SQL("{}::json").format(sql.Placeholder())
    if columns:
        typed = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(table.columns[c].type))
                                   for c in columns)
        body = sql.SQL("INSERT INTO {rel} AS {alias} ({idents}) SELECT {idents} FROM json_to_recordset({src}) AS _({typed})").format(
            rel=rel, alias=sql.Identifier(table.name), idents=idents, src=source, typed=typed)
    else:  # `{}` rows: every column takes its default
        body = sql.SQL("INSERT INTO {rel} AS {alias} SELECT FROM json_array_elements({src})").format(
            rel=rel, alias=sql.Identifier(table.name), src=source)
    on_conflict = sql.SQL("")
    if resolution and conflict:
        target = sql.SQL(", ").join(sql.Identifier(c) for c in conflict)
        if resolution == "merge-duplicates" and columns:
            sets = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in columns)
            on_conflict = sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(target, sets)
        else:
            on_conflict = sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(target)
    flag = sql.SQL("({}.xmax = 0)").format(sql.Identifier(table.name)) if resolution == "merge-duplicates" \
        else sql.SQL("true")
    stmt = sql.SQL("WITH pgrst_source AS ({}{}{}) {}").format(
        body, on_conflict, _returning(table, representation, flag), _output(table, select, representation, singular))
    return stmt, [body_json]


def update(table: Table, columns: list[str], body_json: str, where: Where, representation: bool,
           select: sql.Composable | None, singular: bool) -> tuple[sql.Composable, list]:
    rel = sql.Identifier(SCHEMA, table.name)
    sets = sql.SQL(", ").join(sql.SQL("{0} = pgrst_body.{0}").format(sql.Identifier(c)) for c in columns)
    typed = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(table.columns[c].type))
                               for c in columns)
    stmt = sql.SQL(
        "WITH pgrst_source AS (UPDATE {rel} AS {alias} SET {sets} FROM (SELECT * FROM json_to_record({ph}::json) "
        "AS _({typed})) pgrst_body WHERE {where}{ret}) {out}"
    ).format(rel=rel, alias=sql.Identifier(table.name), sets=sets, ph=sql.Placeholder(), typed=typed,
             where=where.sql(), ret=_returning(table, representation, sql.SQL("false")),
             out=_output(table, select, representation, singular))
    return stmt, [body_json, *where.params]


def delete(table: Table, where: Where, representation: bool, select: sql.Composable | None,
           singular: bool) -> tuple[sql.Composable, list]:
    rel = sql.Identifier(SCHEMA, table.name)
    stmt = sql.SQL("WITH pgrst_source AS (DELETE FROM {rel} AS {alias} WHERE {where}{ret}) {out}").format(
        rel=rel, alias=sql.Identifier(table.name), where=where.sql(),
        ret=_returning(table, representation, sql.SQL("false")), out=_output(table, select, representation, singular))
    return stmt, list(where.params)


def call(fn: Function, names: list[str], args_json: str, singular: bool) -> tuple[sql.Composable, list]:
    """SELECT fn(a := …) with the JSON arguments typed by json_to_record, as PostgREST does."""
    types = dict(fn.args)
    named = sql.SQL(", ").join(sql.SQL("{0} := pgrst_args.{0}").format(sql.Identifier(n)) for n in names)
    typed = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(types[n])) for n in names)
    args = sql.SQL("(SELECT * FROM json_to_record({}::json) AS _({})) pgrst_args").format(sql.Placeholder(), typed) \
        if names else sql.SQL("(SELECT) pgrst_args")
    target = sql.SQL("{}({})").format(sql.Identifier(SCHEMA, fn.name), named)
    if fn.returns_set:
        stmt = sql.SQL("SELECT NULL::bigint, pg_catalog.count(_postgrest_t), {body}, 0 "
                       "FROM {args}, LATERAL {target} _postgrest_t").format(body=_body(singular), args=args, target=target)
    else:
        stmt = sql.SQL("SELECT NULL::bigint, 1, to_json({target})::text, 0 FROM {args}").format(target=target, args=args)
    return stmt, ([args_json] if names else [])
