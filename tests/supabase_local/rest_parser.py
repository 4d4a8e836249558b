"""The pieces of PostgREST's URL grammar (src/PostgREST/ApiRequest/QueryParams.hs): the parsed values
(Field, Filter, Logic, SelectItem, OrderTerm) and a character-level Parser whose methods follow the
Parsec parsers rule for rule — field names quoted ("a,b") or bare (letters, digits, `_`, `$`, spaces,
dash-separated), JSON paths (`->`, `->>`, keys or indexes), operators with `not.` and
`(any)`/`(all)`, single values, `in.(…)` lists with quoted elements. rest_grammar.py parses whole
parameters with it. Nothing here builds SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.supabase_local.rest_errors import RestError

QUANT_OPS = ("eq", "gte", "gt", "lte", "lt", "like", "ilike", "match", "imatch")
SIMPLE_OPS = ("neq", "cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj")
FTS_OPS = ("fts", "plfts", "phfts", "wfts")
IS_VALUES = ("null", "not_null", "true", "false", "unknown")
_WS = " \t"
_OP_EXPECT = '"not" or operator (eq, gt, ...)'


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    path: tuple = ()  # ((arrow "->" | "->>", is_index, value), ...)


@dataclass(slots=True)
class Filter:
    field: Field
    negate: bool
    op: str  # a QUANT/SIMPLE/FTS op, "in", "is" or "isdistinct"
    value: object  # str; list[str] for in; the keyword for is
    quant: str | None = None  # "any" | "all"
    lang: str | None = None  # fts language


@dataclass(slots=True)
class Logic:
    negate: bool
    op: str  # "and" | "or"
    children: list = field(default_factory=list)


@dataclass(slots=True)
class SelectItem:
    field: Field | None  # None: `*`
    alias: str | None = None
    cast: str | None = None


@dataclass(slots=True)
class OrderTerm:
    field: Field
    direction: str | None  # "asc" | "desc"
    nulls: str | None  # "nullsfirst" | "nullslast"


class ParseError(Exception):
    def __init__(self, pos: int, found: str, expecting: str):
        super().__init__(expecting)
        self.pos, self.found, self.expecting = pos, found, expecting


def query_error(what: str, text: str, err: ParseError) -> RestError:
    """PGRST100 in PostgREST's words: the failing parameter, the 1-based column, what was expected."""
    return RestError(400, "PGRST100", f'"failed to parse {what} ({text})" (line 1, column {err.pos + 1})',
                     f"unexpected {err.found} expecting {err.expecting}")


class Parser:
    """One query-string value. Methods mirror the Parsec parsers of QueryParams.hs."""

    def __init__(self, text: str, offset: int = 0):
        self.s, self.pos = text, offset

    # -- primitives ------------------------------------------------------------------------
    def peek(self, n: int = 1) -> str:
        return self.s[self.pos:self.pos + n]

    def at_end(self) -> bool:
        return self.pos >= len(self.s)

    def fail(self, expecting: str, pos: int | None = None) -> ParseError:
        pos = self.pos if pos is None else pos
        found = f'"{self.s[pos]}"' if pos < len(self.s) else "end of input"
        return ParseError(pos, found, expecting)

    def ws(self) -> None:
        while self.pos < len(self.s) and self.s[self.pos] in _WS:
            self.pos += 1

    def take(self, word: str) -> bool:
        if self.s.startswith(word, self.pos):
            self.pos += len(word)
            return True
        return False

    def expect(self, word: str, expecting: str | None = None) -> None:
        if not self.take(word):
            raise self.fail(expecting or f'"{word}"')

    # -- names -------------------------------------------------------------------------------
    def quoted(self) -> str | None:
        """pQuotedValue: "…" with backslash escaping any character; None if not at a quote."""
        if self.peek() != '"':
            return None
        self.pos += 1
        s, out = self.s, []
        while self.pos < len(s):
            ch = s[self.pos]
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == "\\":
                if self.pos + 1 >= len(s):
                    break
                self.pos += 1
                ch = s[self.pos]
            out.append(ch)
            self.pos += 1
        raise ParseError(len(s), "end of input", '"\\"" (closing quote)')

    def _dashed(self, word) -> str | None:
        """sepByDash: words joined by `-` when the dash does not start `->`."""
        first = word()
        if first is None:
            return None
        parts = [first]
        while self.peek() == "-" and self.peek(2) != "->":
            self.pos += 1
            nxt = word()
            if nxt is None:
                raise self.fail("field name (* or [a..z0..9_$])")
            parts.append(nxt)
        return "-".join(parts)

    def _identifier(self) -> str | None:
        start, s = self.pos, self.s
        while self.pos < len(s) and (s[self.pos].isalpha() or "0" <= s[self.pos] <= "9" or s[self.pos] in "_ $"):
            self.pos += 1
        return s[start:self.pos].strip() if self.pos > start else None

    def identifier(self) -> str | None:
        return self._identifier()

    def field_name(self) -> str:
        name = self.quoted()
        if name is None:
            name = self._dashed(self._identifier)
        if name is None:
            raise self.fail("field name (* or [a..z0..9_$])")
        return name

    def _json_key_word(self) -> str | None:
        start, s = self.pos, self.s
        while self.pos < len(s) and s[self.pos] not in "(-:.,>)":
            self.pos += 1
        return s[start:self.pos].strip() if self.pos > start else None

    def json_path(self) -> tuple:
        path = []
        while True:
            arrow = "->>" if self.peek(3) == "->>" else "->" if self.peek(2) == "->" else None
            if arrow is None:
                return tuple(path)
            self.pos += len(arrow)
            start = self.pos
            self.take("-")
            digits = self.pos
            while self.pos < len(self.s) and "0" <= self.s[self.pos] <= "9":
                self.pos += 1
            rest = self.s[self.pos:]
            if self.pos > digits and (not rest or rest.startswith(("->", "::", ".", ","))):
                number = self.s[start:self.pos]
                path.append((arrow, True, number if number.startswith("-") else "+" + number))
                continue
            self.pos = start
            key = self.quoted()
            if key is None:
                key = self._dashed(self._json_key_word)
            if key is None:
                raise self.fail("any non reserved character different from: .,>()")
            path.append((arrow, False, key))

    def field(self) -> Field:
        """pField: lexeme (field name, optional JSON path)."""
        self.ws()
        name = self.field_name()
        path = self.json_path()
        self.ws()
        return Field(name, path)

    # -- operators and values ----------------------------------------------------------------
    def op_expr(self, field_: Field, in_tree: bool) -> Filter:
        negate = self.take("not.")
        start = self.pos
        if self.take("in."):
            return Filter(field_, negate, "in", self.list_value())
        if self.take("is."):
            for word in IS_VALUES:
                if self.s[self.pos:self.pos + len(word)].lower() == word:
                    self.pos += len(word)
                    return Filter(field_, negate, "is", word)
            raise self.fail("isVal: (null, not_null, true, false, unknown)")
        if self.take("isdistinct."):
            return Filter(field_, negate, "isdistinct", self.single_value(in_tree))
        for op in FTS_OPS:
            if self.s.startswith(op + ".", self.pos) or self.s.startswith(op + "(", self.pos):
                self.pos += len(op)
                lang = None
                if self.take("("):
                    lang = self.identifier()
                    if lang is None or not self.take(")"):
                        self.pos = start
                        raise self.fail(_OP_EXPECT)
                self.expect(".", "delimiter (.)")
                return Filter(field_, negate, op, self.single_value(in_tree), lang=lang)
        for op in SIMPLE_OPS:
            if self.s.startswith(op + ".", self.pos):
                self.pos += len(op) + 1
                return Filter(field_, negate, op, self.single_value(in_tree))
        for op in QUANT_OPS:
            if self.s.startswith(op, self.pos):
                after = self.pos + len(op)
                quant = None
                for q in ("any", "all"):
                    if self.s.startswith(f"({q})", after):
                        quant, after = q, after + len(q) + 2
                if self.s.startswith(".", after):
                    self.pos = after + 1
                    return Filter(field_, negate, op, self.single_value(in_tree), quant=quant)
        raise self.fail(_OP_EXPECT)

    def single_value(self, in_tree: bool) -> str:
        if not in_tree:  # pSingleVal: everything that is left, quotes and all
            value, self.pos = self.s[self.pos:], len(self.s)
            return value
        # pLogicSingleVal: a quoted value ending at , or ), a {…} array, or up to , or )
        start = self.pos
        try:
            value = self.quoted()
        except ParseError:
            value = None
        if value is not None and (self.at_end() or self.peek() in ",)"):
            return value
        self.pos = start
        if self.peek() == "{":
            end = self.pos + 1
            while end < len(self.s) and self.s[end] not in "{}":
                end += 1
            if end < len(self.s) and self.s[end] == "}":
                value, self.pos = self.s[start:end + 1], end + 1
                return value
        return self._until(",)")

    def _until(self, stops: str) -> str:
        start, s = self.pos, self.s
        while self.pos < len(s) and s[self.pos] not in stops:
            self.pos += 1
        return s[start:self.pos]

    def list_value(self) -> list[str]:
        """pListVal: lexeme "(" elements sepBy1 "," lexeme ")"."""
        self.ws()
        self.expect("(")
        self.ws()
        items = []
        while True:
            start = self.pos
            try:
                item = self.quoted()
            except ParseError:
                item = None
            if item is None or not (self.at_end() or self.peek() in ",)"):
                self.pos = start
                item = self._until(",)")
            items.append(item)
            if not self.take(","):
                break
        self.ws()
        self.expect(")", '"," or ")"')
        self.ws()
        return items
