"""Casts in `select=col::type`: a type name and nothing else.

PostgREST splices the cast into `CAST(x AS <cast>)` after its parser allowed only letters, digits,
`_`, `$` and spaces. The stand-in goes further and never splices request text at all: a cast must name
a type Postgres knows — an SQL keyword type (rendered from the constant text below) or a type in
pg_catalog/public/extensions (rendered as a quoted, schema-qualified identifier). Anything else gets
the error Postgres would have raised for the CAST, so the answer matches PostgREST's.
"""

from __future__ import annotations

from standin.rest_errors import RestError

# SQL-standard spellings that are keywords, not catalog names (or mean something else as a catalog
# name: `char` is character(1) here, the catalog's "char" is a one-byte internal type).
_KEYWORDS = {
    "int": "integer", "integer": "integer", "smallint": "smallint", "bigint": "bigint",
    "real": "real", "float": "double precision", "double precision": "double precision",
    "dec": "numeric", "decimal": "numeric", "numeric": "numeric", "boolean": "boolean",
    "char": "character", "character": "character", "nchar": "character", "national character": "character",
    "varchar": "character varying", "character varying": "character varying",
    "national character varying": "character varying", "nchar varying": "character varying",
    "bit": "bit", "bit varying": "bit varying", "varbit": "bit varying",
    "timestamp": "timestamp without time zone", "timestamp without time zone": "timestamp without time zone",
    "timestamp with time zone": "timestamp with time zone", "time": "time without time zone",
    "time without time zone": "time without time zone", "time with time zone": "time with time zone",
    "interval": "interval",
}
def ident(name: str) -> str:
    """A quoted SQL identifier, as PostgREST's escapeIdent: cut at the first NUL, `"` doubled. `%` is
    doubled too, because the statement text goes through psycopg's %s placeholder parsing."""
    return '"' + name.split("\x00", 1)[0].replace('"', '""').replace("%", "%%") + '"'


def cast_sql(cast: str, types: dict[str, tuple[str, str]]) -> str:
    """The SQL for a cast target; `types` maps catalog names to (schema, name) as the search path
    resolves them. Raises Postgres' own error for a name that is not a type."""
    words = cast.lower().split()
    if not words:
        raise RestError(400, "42601", 'syntax error at or near ")"')
    phrase = " ".join(words)
    if phrase in _KEYWORDS:
        return _KEYWORDS[phrase]
    if len(words) == 1:
        found = types.get(words[0])
        if found is None:
            raise RestError(400, "42704", f'type "{words[0]}" does not exist')
        return ident(found[0]) + "." + ident(found[1])
    # Two words that are no type: Postgres stops at the second word of `CAST(x AS a b)`.
    raise RestError(400, "42601", f'syntax error at or near "{cast.split()[1]}"')
