"""What PostgREST keeps in its schema cache: the exposed tables, their columns and keys, and functions.

Loaded from the catalogs with the server's own connection. A miss (a table or function created after
start-up, e.g. by a test) triggers one reload before the request is refused.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from psycopg_pool import AsyncConnectionPool

EXPOSED_SCHEMA = "public"

_COLUMNS_SQL = """
select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), pg_get_expr(d.adbin, d.adrelid),
       coalesce(a.attnum = any(i.indkey::int2[]), false)
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
left join pg_index i on i.indrelid = c.oid and i.indisprimary
where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'f', 'p')
order by c.relname, a.attnum
"""

_FUNCTIONS_SQL = """
select p.proname, coalesce(p.proargnames, '{}'), coalesce(p.proargmodes::text[], '{}'),
       array(select format_type(t, null) from unnest(p.proargtypes) t), p.pronargdefaults,
       p.proretset, p.prorettype = 'void'::regtype, t.typtype = 'c' or p.prorettype = 'record'::regtype,
       p.provolatile = 'v'
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_type t on t.oid = p.prorettype
where n.nspname = %s and p.prokind = 'f'
"""


# Type names as an unqualified name resolves with PostgREST's search path (pg_catalog first, then
# public, extensions): the first schema holding the name wins.
_TYPES_SQL = """
select distinct on (t.typname) t.typname, n.nspname
from pg_type t join pg_namespace n on n.oid = t.typnamespace
where n.nspname in ('pg_catalog', 'public', 'extensions')
order by t.typname, array_position(array['pg_catalog', 'public', 'extensions'], n.nspname::text)
"""


@dataclass
class Column:
    name: str
    type: str
    default: str | None
    primary: bool


@dataclass
class Table:
    name: str
    columns: dict[str, Column] = field(default_factory=dict)

    @property
    def primary_key(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.primary]


@dataclass
class Function:
    name: str
    args: list[tuple[str, str]]  # (name, type) of the IN arguments; "" for an unnamed one
    n_defaults: int
    returns_set: bool
    returns_void: bool
    returns_composite: bool
    variadic: str | None = None  # the VARIADIC argument's name
    volatile: bool = True

    @property
    def required(self) -> list[str]:
        return [n for n, _ in self.args[:len(self.args) - self.n_defaults]]

    @property
    def returns_scalar(self) -> bool:
        return not self.returns_composite

    @property
    def one_unnamed_json(self) -> bool:
        """A single unnamed json/jsonb parameter takes the whole POST body (PostgREST's OnePosParam)."""
        return len(self.args) == 1 and self.args[0][0] == "" and self.args[0][1] in ("json", "jsonb")


class SchemaCache:
    def __init__(self, pool: AsyncConnectionPool):
        self._pool = pool
        self._lock = asyncio.Lock()
        self.tables: dict[str, Table] = {}
        self.functions: dict[str, list[Function]] = {}  # overloads by name
        self.timezones: frozenset[str] = frozenset()
        self.types: dict[str, tuple[str, str]] = {}  # name -> (schema, name)

    async def reload(self) -> None:
        async with self._lock, self._pool.connection() as conn:
            tables: dict[str, Table] = {}
            for rel, col, typ, default, primary in await (await conn.execute(_COLUMNS_SQL, [EXPOSED_SCHEMA])).fetchall():
                tables.setdefault(rel, Table(rel)).columns[col] = Column(col, typ, default, primary)
            functions: dict[str, list[Function]] = {}
            rows = await (await conn.execute(_FUNCTIONS_SQL, [EXPOSED_SCHEMA])).fetchall()
            for name, argnames, modes, types, n_defaults, retset, void, composite, volatile in rows:
                # proargnames/proargmodes cover OUT arguments too, proargtypes only the input ones
                slots = range(len(modes) if modes else len(types))
                inputs = [i for i in slots if not modes or modes[i] in ("i", "b", "v")]
                names = [argnames[i] if i < len(argnames) else "" for i in inputs]
                variadic = next((argnames[i] for i in inputs if modes and modes[i] == "v" and i < len(argnames)), None)
                args = list(zip(names, types, strict=False))
                functions.setdefault(name, []).append(
                    Function(name, args, n_defaults, retset, void, composite, variadic, volatile))
            if not self.timezones:
                zones = await (await conn.execute("select name from pg_timezone_names")).fetchall()
                self.timezones = frozenset(z for (z,) in zones)
            types = {name: (schema, name) for name, schema in await (await conn.execute(_TYPES_SQL)).fetchall()}
            self.tables, self.functions, self.types = tables, functions, types

    async def table(self, name: str) -> Table | None:
        if name not in self.tables:
            await self.reload()
        return self.tables.get(name)

    async def type_names(self, casts: list[str]) -> dict[str, tuple[str, str]]:
        """The type map, reloaded once if a cast names a type created after the last load."""
        if any(len(c.split()) == 1 and c.strip().lower() not in self.types for c in casts):
            await self.reload()
        return self.types

    async def function(self, name: str) -> list[Function]:
        if name not in self.functions:
            await self.reload()
        return self.functions.get(name, [])
