"""The pieces of PostgREST's URL grammar (src/PostgREST/ApiRequest/QueryParams.hs): the parsed values
(Field, Filter, Logic, SelectItem, OrderTerm) and a character-level Parser whose methods follow the
Parsec parsers rule for rule — field names quoted ("a,b") or bare (letters, digits, `_`, `$`, spaces,
dash-separated), JSON paths (`->`, `->>`, keys or indexes), operators with `not.` and
`(any)`/`(all)`, single values, `in.(…)` lists with quoted elements. rest_grammar.py parses whole
parameters with it. Nothing here builds SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from standin.rest_errors import RestError

QUANT_OPS = ("eq", "gte", "gt", "lte", "lt", "like", "ilike", "match", "imatch")
SIMPLE_OPS = ("neq", "cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj")
FTS_OPS = ("fts", "plfts", "phfts", "wfts")
IS_VALUES = ("null", "not_null", "true", "false", "unknown")
_QUANT_SET = frozenset(QUANT_OPS)
_VALUE_OPS = frozenset(QUANT_OPS + SIMPLE_OPS + FTS_OPS)  # operators followed by one value
_WS_CHARS = (" ", "\t")
_SPACES = re.compile(r"[ \t]*")
# pIdentifierChar: a letter (any script), an ASCII digit, "_", " " or "$"
_IDENTIFIER = re.compile(r"(?:[^\W\d]|[0-9 $])+")
_JSON_KEY = re.compile(r"[^(\-:.,>)]+")
_PLAIN_VALUE = re.compile(r"[^,)]*")
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
        if self.s[self.pos:self.pos + 1] in _WS_CHARS:  # usually nothing to skip
            self.pos = _SPACES.match(self.s, self.pos).end()

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
        return self._run(_IDENTIFIER)

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
        return self._run(_JSON_KEY)

    def _run(self, pattern: re.Pattern) -> str | None:
        """many1 of a character class, then stripped (pIdentifier, pJsonKeyIdentifier)."""
        m = pattern.match(self.s, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m.group().strip()

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
        """pOpExpr: [not.] then in, is, isdistinct, fts-like (with a language), simple or quantifiable
        operators (with (any)/(all)). The operator word is read up to its `.` or `(` and looked up."""
        negate = self.take("not.")
        s, start = self.s, self.pos
        end = start
        while end < len(s) and s[end] not in ".(":
            end += 1
        op, after = s[start:end], s[end:end + 1]
        if after == ".":
            self.pos = end + 1
            if op == "in":
                return Filter(field_, negate, "in", self.list_value())
            if op == "is":
                for word in IS_VALUES:
                    if s[self.pos:self.pos + len(word)].lower() == word:
                        self.pos += len(word)
                        return Filter(field_, negate, "is", word)
                raise self.fail("isVal: (null, not_null, true, false, unknown)")
            if op == "isdistinct" or op in _VALUE_OPS:
                return Filter(field_, negate, op, self.single_value(in_tree))
        elif after == "(":
            if op in _QUANT_SET:
                for quant in ("any", "all"):
                    if s.startswith(quant + ").", end + 1):
                        self.pos = end + len(quant) + 3
                        return Filter(field_, negate, op, self.single_value(in_tree), quant=quant)
            elif op in FTS_OPS:
                self.pos = end + 1
                lang = self.identifier()
                if lang is not None and self.take(")") and self.take("."):
                    return Filter(field_, negate, op, self.single_value(in_tree), lang=lang)
        self.pos = start
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
        return self._until_comma_paren()

    def _until_comma_paren(self) -> str:
        """many (noneOf ",)")"""
        start = self.pos
        self.pos = _PLAIN_VALUE.match(self.s, start).end()
        return self.s[start:self.pos]

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
                item = self._until_comma_paren()
            items.append(item)
            if not self.take(","):
                break
        self.ws()
        self.expect(")", '"," or ")"')
        self.ws()
        return items
