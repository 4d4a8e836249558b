"""The parsed grammar (rest_grammar.py) as SQL text with %s parameters, in PostgREST's shapes
(src/PostgREST/Query/SqlFragment.hs).

Names are quoted identifiers (rest_types.ident); every value from the request — filter values, list
elements, JSON keys, full-text languages — is a parameter, bound client-side as an untyped literal so
Postgres coerces it to the column's type exactly like PostgREST's unknown-typed parameters. Casts are
type names resolved against the catalog (rest_types.cast_sql). Logic trees are rendered with an
explicit stack, so their depth never meets Python's recursion limit.
"""

from __future__ import annotations

from standin.rest_grammar import Field, Filter, Logic, OrderTerm, SelectItem
from standin.rest_types import cast_sql, ident

_QUANT = {"eq": "=", "gte": ">=", "gt": ">", "lte": "<=", "lt": "<", "like": "like", "ilike": "ilike",
          "match": "~", "imatch": "~*"}
_SIMPLE = {"neq": "<>", "cs": "@>", "cd": "<@", "ov": "&&", "sl": "<<", "sr": ">>", "nxr": "&<", "nxl": "&>",
           "adj": "-|-"}
_FTS = {"fts": "to_tsquery", "plfts": "plainto_tsquery", "phfts": "phraseto_tsquery",
        "wfts": "websearch_to_tsquery"}
_IS = {"null": "NULL", "not_null": "NOT NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}


class Sql:
    """SQL text pieces and their parameters, appended in order."""

    __slots__ = ("parts", "params")

    def __init__(self):
        self.parts: list[str] = []
        self.params: list = []

    def add(self, text: str) -> Sql:
        self.parts.append(text)
        return self

    def param(self, value) -> Sql:
        self.parts.append("%s")
        self.params.append(value)
        return self

    def extend(self, other: Sql) -> Sql:
        self.parts.extend(other.parts)
        self.params.extend(other.params)
        return self

    def text(self) -> str:
        return "".join(self.parts)


class Scope:
    """What names resolve against: the qualifier for columns (`"tasks"`) and the column types when
    known (None for a function's result), which decide `to_jsonb(...)` and `to_tsvector(...)`."""

    __slots__ = ("qualifier", "types", "cast_types")

    def __init__(self, relation: str, types: dict[str, str] | None, cast_types: dict | None = None):
        self.qualifier = ident(relation)
        self.types = types
        self.cast_types = cast_types or {}


def field_sql(out: Sql, scope: Scope, fld: Field, tsvector_lang: str | None | bool = False) -> None:
    col = scope.qualifier + "." + ident(fld.name)
    col_type = scope.types.get(fld.name) if scope.types is not None else None
    wrap_ts = tsvector_lang is not False and col_type is not None and col_type != "tsvector"
    if wrap_ts:
        out.add("to_tsvector(")
        if tsvector_lang:
            out.param(tsvector_lang).add(", ")
    if fld.path and col_type not in ("json", "jsonb"):
        out.add("to_jsonb(" + col + ")")  # other types (and unknown ones) convert first, as PostgREST
    else:
        out.add(col)
    for arrow, is_index, value in fld.path:
        out.add(arrow).param(value)
        if is_index:
            out.add("::int")
    if wrap_ts:
        out.add(")")


def _array_literal(items: list[str]) -> str:
    """pgBuildArrayLiteral: each element cut at NUL, backslashes and quotes escaped, all quoted."""
    def one(x: str) -> str:
        return '"' + x.split("\x00", 1)[0].replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "{" + ",".join(one(x) for x in items) + "}"


def filter_sql(out: Sql, scope: Scope, flt: Filter) -> None:
    if flt.negate:
        out.add("NOT (")
    op = flt.op
    field_sql(out, scope, flt.field, flt.lang if op in _FTS else False)
    if op in _QUANT:
        value = flt.value.replace("*", "%") if op in ("like", "ilike") else flt.value
        out.add(" " + _QUANT[op] + " ")
        if flt.quant:
            out.add(flt.quant.upper() + "(").param(value).add(")")
        else:
            out.param(value)
    elif op in _SIMPLE:
        out.add(" " + _SIMPLE[op] + " ").param(flt.value)
    elif op == "in":
        if flt.value == [""]:  # in.() matches nothing
            out.add(" = ANY('{}')")
        else:
            out.add(" = ANY(").param(_array_literal(flt.value)).add(")")
    elif op == "is":
        out.add(" IS " + _IS[flt.value])
    elif op == "isdistinct":
        out.add(" IS DISTINCT FROM ").param(flt.value)
    else:  # full-text search
        out.add(" @@ " + _FTS[op] + "(")
        if flt.lang:
            out.param(flt.lang).add(", ")
        out.param(flt.value).add(")")
    if flt.negate:
        out.add(")")


def logic_sql(out: Sql, scope: Scope, root: Logic) -> None:
    """`(a AND (b OR NOT (c)))` without recursion: a stack of (node, next child index)."""
    out.add("NOT (" if root.negate else "(")
    stack = [[root, 0]]
    while stack:
        frame = stack[-1]
        node, i = frame
        if i == len(node.children):
            out.add(")")
            stack.pop()
            continue
        if i:
            out.add(" AND " if node.op == "and" else " OR ")
        frame[1] = i + 1
        child = node.children[i]
        if isinstance(child, Logic):
            out.add("NOT (" if child.negate else "(")
            stack.append([child, 0])
        else:
            filter_sql(out, scope, child)


def where_sql(scope: Scope, conditions: list) -> Sql:
    """Filters and logic trees ANDed; `TRUE` when there are none."""
    out = Sql()
    if not conditions:
        return out.add("TRUE")
    for i, cond in enumerate(conditions):
        if i:
            out.add(" AND ")
        if isinstance(cond, Logic):
            logic_sql(out, scope, cond)
        else:
            filter_sql(out, scope, cond)
    return out


def _default_alias(fld: Field) -> str:
    """Plan.hs aliasSelectField: a JSON path is named by its last key (an index: the last key before it,
    else the column)."""
    for _arrow, is_index, value in reversed(fld.path):
        if not is_index:
            return value
    return fld.name


def select_sql(scope: Scope, items: list[SelectItem] | None) -> Sql:
    """None or [`*`]: every column; [] (`select=`): no column at all, rows render as `{}`."""
    out = Sql()
    if items is None:
        return out.add(scope.qualifier + ".*")
    for i, item in enumerate(items):
        if i:
            out.add(", ")
        if item.field is None:
            out.add(scope.qualifier + ".*")
            continue
        if item.cast is not None:
            out.add("CAST(")
        field_sql(out, scope, item.field)
        if item.cast is not None:
            out.add(" AS " + cast_sql(item.cast, scope.cast_types) + ")")
        out.add(" AS " + ident(item.alias or _default_alias(item.field)))
    return out


def order_sql(scope: Scope, terms: list[OrderTerm]) -> Sql:
    out = Sql()
    for i, term in enumerate(terms):
        out.add(", " if i else " ORDER BY ")
        field_sql(out, scope, term.field)
        if term.direction:
            out.add(" ASC" if term.direction == "asc" else " DESC")
        if term.nulls:
            out.add(" NULLS FIRST" if term.nulls == "nullsfirst" else " NULLS LAST")
    return out
