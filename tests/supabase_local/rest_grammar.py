"""PostgREST's URL grammar (supabase-protocol.md §3) turned into parameterised SQL.

Every value from the URL travels as an unknown-typed parameter, so Postgres coerces it to the column's
type exactly as PostgREST's literals are coerced; names travel as quoted identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from tests.supabase_local.rest_errors import RestError
from tests.supabase_local.rest_types import cast_sql, valid_cast_chars

RESERVED = {"select", "columns", "on_conflict", "order", "limit", "offset", "and", "or", "not.and", "not.or", "apikey"}
_COMPARE = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE",
            "ilike": "ILIKE", "match": "~", "imatch": "~*", "isdistinct": "IS DISTINCT FROM",
            "cs": "@>", "cd": "<@", "ov": "&&"}
_IS = {"null": "NULL", "not_null": "NOT NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}


def parse_error(what: str, text: str, details: str) -> RestError:
    return RestError(400, "PGRST100", f'"failed to parse {what} ({text})" (line 1, column 1)', details)


def _name(name: str, what: str, text: str) -> str:
    if not name or "%" in name or "\x00" in name:
        raise parse_error(what, text, f"unexpected column name {name!r}")
    return name


@dataclass
class Where:
    """A boolean SQL fragment and its parameters, in order."""

    parts: list[sql.Composable] = field(default_factory=list)
    params: list = field(default_factory=list)

    def sql(self) -> sql.Composable:
        return sql.SQL(" AND ").join(self.parts) if self.parts else sql.SQL("TRUE")


def _condition(table: str, column: str, negate: bool, op: str, value: str, text: str, in_tree: bool) -> tuple:
    col = sql.Identifier(table, _name(column, "filter", text))
    if op == "in":
        if not (value.startswith("(") and value.endswith(")")):
            raise parse_error("filter", text, 'expecting "("')
        items = _split_list(value[1:-1], text)
        array = "{" + ",".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "}"
        cond, params = sql.SQL("{} = ANY({})").format(col, sql.Placeholder()), [array]
    elif op == "is":
        keyword = _IS.get(value.lower())
        if keyword is None:
            raise parse_error("filter", text, "expecting null, not_null, true, false or unknown")
        cond, params = sql.SQL("{} IS " + keyword).format(col), []
    elif op in _COMPARE:
        if in_tree and len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if op in ("like", "ilike"):
            value = value.replace("*", "%")
        cond, params = sql.SQL("{} " + _COMPARE[op] + " {}").format(col, sql.Placeholder()), [value]
    else:
        raise parse_error("filter", text, f"unknown operator {op!r}")
    if negate:
        cond = sql.SQL("NOT ({})").format(cond)
    return cond, params


def _split_list(body: str, text: str) -> list[str]:
    """Elements of an in.(…) list: split on commas, double quotes protect ',' and ')' with \\ escapes."""
    if body == "":
        return []
    items, cur, i, quoted = [], [], 0, False
    while i < len(body):
        ch = body[i]
        if quoted:
            if ch == "\\" and i + 1 < len(body):
                cur.append(body[i + 1])
                i += 1
            elif ch == '"':
                quoted = False
            else:
                cur.append(ch)
        elif ch == '"':
            quoted = True
        elif ch == ",":
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    if quoted:
        raise parse_error("filter", text, "unterminated quoted value")
    items.append("".join(cur))
    return items


def simple_filter(table: str, column: str, expr: str) -> tuple:
    """`col=[not.]op.value` from a top-level query parameter; the value is taken literally."""
    text = f"{column}={expr}"
    negate = expr.startswith("not.")
    rest = expr[4:] if negate else expr
    op, dot, value = rest.partition(".")
    if not dot:
        raise parse_error("filter", rest, 'unexpected end of input expecting "."')
    return _condition(table, column, negate, op, value, text, in_tree=False)


class _TreeParser:
    """`(a.eq.1,b.gt.2,and(c.lt.3,not.or(d.is.null,e.eq."x,y")))` → nested AND/OR."""

    def __init__(self, table: str, text: str):
        self.table, self.text, self.pos, self.params, self.depth = table, text, 0, [], 0

    def fail(self, expecting: str) -> RestError:
        return RestError(400, "PGRST100",
                         f'"failed to parse logic tree ({self.text})" (line 1, column {self.pos + 1})',
                         f"unexpected {self.text[self.pos:self.pos + 1]!r} expecting {expecting}")

    def group(self, op: str, depth: int = 0) -> sql.Composable:
        if depth > 60:  # psycopg renders nested Composed objects recursively
            raise RestError(400, "PGRST100", f'"failed to parse logic tree ({self.text})" (line 1, column {self.pos + 1})',
                            "logic tree nested too deeply")
        self.depth = depth
        if self.text[self.pos:self.pos + 1] != "(":
            raise self.fail('"("')
        self.pos += 1
        items = [self.item()]
        while self.text[self.pos:self.pos + 1] == ",":
            self.pos += 1
            items.append(self.item())
        if self.text[self.pos:self.pos + 1] != ")":
            raise self.fail('"," or ")"')
        self.pos += 1
        joiner = " AND " if op == "and" else " OR "
        return sql.SQL("({})").format(sql.SQL(joiner).join(items))

    def item(self) -> sql.Composable:
        rest = self.text[self.pos:]
        negate = rest.startswith("not.")
        if negate:
            self.pos += 4
            rest = rest[4:]
        for op in ("and", "or"):
            if rest.startswith(op + "("):
                self.pos += len(op)
                depth = self.depth
                inner = self.group(op, depth + 1)
                self.depth = depth
                return sql.SQL("NOT {}").format(inner) if negate else inner
        column = self._until(".")
        self.pos += 1
        neg2 = self.text.startswith("not.", self.pos)
        if neg2:
            self.pos += 4
        op = self._until(".")
        self.pos += 1
        value = self._value(op)
        cond, params = _condition(self.table, column, neg2, op, value, self.text, in_tree=True)
        self.params.extend(params)
        return sql.SQL("NOT ({})").format(cond) if negate else cond

    def _until(self, stop: str) -> str:
        end = self.text.find(stop, self.pos)
        if end < 0 or any(c in self.text[self.pos:end] for c in ",()"):
            raise self.fail(repr(stop))
        word, self.pos = self.text[self.pos:end], end
        return word

    def _value(self, op: str) -> str:
        start, depth, quoted = self.pos, 0, False
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if quoted:
                if ch == "\\":
                    self.pos += 1
                elif ch == '"':
                    quoted = False
            elif ch == '"':
                quoted = True
            elif ch in "({":
                depth += 1
            elif ch in ")}":
                if depth == 0:
                    break
                depth -= 1
            elif ch == "," and depth == 0:
                break
            self.pos += 1
        if quoted:
            raise self.fail('closing "\\""')
        return self.text[start:self.pos]


def logic_tree(table: str, key: str, value: str) -> tuple:
    """`or=(…)`, `and=(…)`, `not.or=(…)` as one condition and its parameters."""
    negate = key.startswith("not.")
    op = key[4:] if negate else key
    parser = _TreeParser(table, value)
    try:
        cond = parser.group(op)
    except RecursionError:
        raise RestError(400, "PGRST100", f'"failed to parse logic tree ({value})" (line 1, column 1)',
                        "logic tree nested too deeply") from None
    if parser.pos != len(value):
        raise parser.fail("end of input")
    return (sql.SQL("NOT {}").format(cond) if negate else cond), parser.params


def where_from_params(table: str, items: list[tuple[str, str]]) -> Where:
    where = Where()
    for key, value in items:
        if key in ("or", "and", "not.or", "not.and"):
            cond, params = logic_tree(table, key, value)
        elif key in RESERVED:
            continue
        else:
            cond, params = simple_filter(table, key, value)
        where.parts.append(cond)
        where.params.extend(params)
    return where


def casts_in(text: str | None) -> list[str]:
    """The cast targets named in a `select=` (so the caller can refresh its type map first)."""
    return [part.split(",")[0] for part in (text or "").split("::")[1:]]


def select_list(table: str, text: str | None, types: dict[str, tuple[str, str]] | None = None) -> sql.Composable:
    """`*` or `col`, `alias:col`, `col::type`, `alias:col::type`, comma separated. A cast must be a
    type name (rest_types.cast_sql): nothing from the request is spliced into the SQL."""
    if text is None or text.strip() in ("", "*"):
        return sql.SQL("{}.*").format(sql.Identifier(table))
    fields = []
    for raw in text.split(","):
        item = raw.strip()
        if item == "*":
            fields.append(sql.SQL("{}.*").format(sql.Identifier(table)))
            continue
        if "(" in item or ")" in item:
            raise RestError(400, "PGRST100", f'"failed to parse select parameter ({text})" (line 1, column 1)',
                            "resource embedding is not supported by this stand-in")
        head, _, cast = item.partition("::")
        alias, sep, column = head.partition(":")
        if not sep:
            alias, column = "", head
        expr = sql.Identifier(table, _name(column, "select parameter", text))
        if cast:
            bad = valid_cast_chars(cast)
            if bad is not None:
                raise parse_error("select parameter", text, f"unexpected {cast[bad]!r} expecting letter or digit")
            expr = sql.SQL("CAST({} AS {})").format(expr, cast_sql(cast, types or {}))
        fields.append(sql.SQL("{} AS {}").format(expr, sql.Identifier(alias or column)))
    return sql.SQL(", ").join(fields)


def order_by(table: str, text: str | None) -> sql.Composable:
    if not text:
        return sql.SQL("")
    terms = []
    for raw in text.split(","):
        column, *mods = raw.strip().split(".")
        clause = [sql.Identifier(table, _name(column, "order", text))]
        for mod in mods:
            word = {"asc": "ASC", "desc": "DESC", "nullsfirst": "NULLS FIRST", "nullslast": "NULLS LAST"}.get(mod)
            if word is None:
                raise parse_error("order", text, f"unexpected {mod!r} expecting asc, desc, nullsfirst or nullslast")
            clause.append(sql.SQL(word))
        terms.append(sql.SQL(" ").join(clause))
    return sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join(terms))


def non_negative_int(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise parse_error(name, text, "expecting an integer") from None
    if value < 0:
        raise RestError(416, "PGRST103", "Requested range not satisfiable",
                        f"{name} must be a non-negative integer")
    return value
