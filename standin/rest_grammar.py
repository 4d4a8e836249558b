"""PostgREST's query parameters (src/PostgREST/ApiRequest/QueryParams.hs) parsed into plain data:
filters, logic trees nested to any depth (an explicit stack, never Python recursion), select items with
aliases and casts, order terms, column lists. Like Parsec it stops where a rule ends and ignores what
follows (`id=is.nullx` is `IS NULL`), and refuses what it cannot read with PGRST100 and the 1-based
column. rest_sql.py renders the result with quoted identifiers and parameters.
"""

from __future__ import annotations

from standin.rest_errors import RestError
from standin.rest_parser import (
    Field,
    Filter,
    Logic,
    OrderTerm,
    ParseError,
    Parser,
    SelectItem,
    query_error,
)

__all__ = ["Field", "Filter", "Logic", "OrderTerm", "SelectItem", "parse_columns", "parse_filter",
           "parse_filter_key", "parse_logic", "parse_order", "parse_select"]


def parse_filter_key(key: str) -> tuple[list[str], Field]:
    """pTreePath: `[embedded.]*column[->json path]` (what follows is ignored, as Parsec does)."""
    p = Parser(key)
    try:
        names = [p.field_name()]
        while p.take("."):
            names.append(p.field_name())
        return names[:-1], Field(names[-1], p.json_path())
    except ParseError as err:
        raise query_error("tree path", key, err) from None


def parse_filter(key: str, value: str) -> tuple[list[str], Filter]:
    embed, fld = parse_filter_key(key)
    p = Parser(value)
    try:
        return embed, p.op_expr(fld, in_tree=False)
    except ParseError as err:
        raise query_error("filter", value, err) from None


def parse_logic(key: str, value: str) -> tuple[list[str], Logic]:
    """`or=(…)`, `and=(…)`, `not.or=(…)`, `rel.or=(…)`: the tree, parsed from op + value with an
    explicit stack so any nesting depth is fine (Postgres itself refuses absurd depths with 42601)."""
    names = key.split(".")
    negate = "not" in names[:-1]
    embed = [n for n in names[:-1] if n != "not"]
    text = names[-1] + value
    p = Parser(text)
    try:
        root = _logic_tree(p, negate)
    except ParseError as err:
        raise query_error("logic tree", value, err) from None
    return embed, root


def _logic_op(p: Parser) -> str | None:
    for op in ("and", "or"):
        if p.s.startswith(op, p.pos):
            p.pos += len(op)
            return op
    return None


def _logic_tree(p: Parser, negate_root: bool) -> Logic:
    op = _logic_op(p)
    if op is None:
        raise p.fail("logic operator (and, or)")
    root = Logic(negate_root, op)
    stack = [root]
    p.ws()
    p.expect("(")
    p.ws()
    while True:
        # one element: a filter (tried first, as `try pLogicFilter`), else a nested [not.]and/or(…)
        start = p.pos
        child = filter_error = None
        try:
            fld = p.field()
            p.expect(".", "delimiter (.)")
            child = p.op_expr(fld, in_tree=True)
        except ParseError as err:
            p.pos, filter_error = start, err
        if child is None:
            negate = p.take("not.")
            op = _logic_op(p)
            if op is None:
                if negate:  # consumed input: this error stands alone
                    raise p.fail("logic operator (and, or)")
                # Neither alternative consumed: Parsec reports the furthest of the two errors.
                own = p.fail("field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)")
                raise filter_error if filter_error is not None and filter_error.pos > own.pos else own
            p.ws()
            p.expect("(")
            p.ws()
            node = Logic(negate, op)
            stack[-1].children.append(node)
            stack.append(node)
            continue
        stack[-1].children.append(child)
        # after an element: "," (next element) or ")" closing one or more groups
        while True:
            p.ws()
            if p.take(","):
                p.ws()
                break
            if p.take(")"):
                stack.pop()
                if not stack:
                    p.ws()
                    return root
                continue
            raise p.fail('"," or ")"')


def parse_select(text: str) -> list[SelectItem]:
    """pFieldForest, for the items this stand-in can run: `*`, `alias:field->path::cast`. Embedded
    resources, spreads and aggregates are refused in PostgREST's terms."""
    p = Parser(text)
    items: list[SelectItem] = []
    try:
        p.ws()
        if p.at_end():
            return items
        while True:
            items.append(_select_item(p, text))
            p.ws()
            if not p.take(","):
                return items
            p.ws()
    except ParseError as err:
        raise query_error("select parameter", text, err) from None


def _select_end(p: Parser) -> None:
    p.ws()
    if not (p.at_end() or p.peek() in ",)"):
        raise p.fail('"," or end of input')


def _select_item(p: Parser, text: str) -> SelectItem:
    start = p.pos
    if p.take("*"):
        _select_end(p)
        return SelectItem(None)
    if p.s.startswith("...", p.pos):
        raise _unsupported_embedding(text, p.pos)
    alias = None
    try:
        candidate = p.field_name()
        if p.peek() == ":" and p.peek(2) != "::":
            p.pos += 1
            alias = candidate
        else:
            p.pos = start
    except ParseError:
        p.pos = start
    p.ws()
    if p.s.startswith("count()", p.pos):
        raise RestError(400, "PGRST123", "Use of aggregate functions is not allowed")
    fld = p.field()
    if p.peek() in ("(", "!"):
        raise _unsupported_embedding(text, p.pos)
    cast = None
    if p.take("::"):
        cast = p.identifier()
        if cast is None:
            raise p.fail("letter or digit")
    if p.peek() == ".":
        for agg in ("sum", "avg", "count", "max", "min"):
            if p.s.startswith(f".{agg}()", p.pos):
                raise RestError(400, "PGRST123", "Use of aggregate functions is not allowed")
    _select_end(p)
    return SelectItem(fld, alias, cast)


def _unsupported_embedding(text: str, pos: int) -> RestError:
    return RestError(400, "PGRST100", f'"failed to parse select parameter ({text})" (line 1, column {pos + 1})',
                     "resource embedding is not supported by this stand-in")


def parse_order(text: str) -> list[OrderTerm]:
    p = Parser(text)
    terms = []
    try:
        while True:
            p.ws()
            fld = p.field()
            if p.peek() == "(":
                raise RestError(400, "PGRST100", f'"failed to parse order ({text})" (line 1, column {p.pos + 1})',
                                "ordering by an embedded resource is not supported by this stand-in")
            direction = nulls = None
            for word in ("asc", "desc"):
                if p.s.startswith("." + word, p.pos):
                    direction = word
                    p.pos += len(word) + 1
                    break
            for word in ("nullsfirst", "nullslast"):
                if p.s.startswith("." + word, p.pos):
                    nulls = word
                    p.pos += len(word) + 1
                    break
            p.ws()
            if not (p.at_end() or p.peek() == ","):
                if p.peek() == "." and nulls is None:
                    p.pos += 1
                    raise p.fail('"asc", "desc", "nullsfirst" or "nullslast"' if direction is None
                                 else '"nullsfirst" or "nullslast"')
                raise p.fail('"," or end of input')
            terms.append(OrderTerm(fld, direction, nulls))
            if not p.take(","):
                return terms
    except ParseError as err:
        raise query_error("order", text, err) from None


def parse_columns(what: str, text: str) -> list[str]:
    """pColumns: field names separated by commas (on_conflict, columns)."""
    p = Parser(text)
    try:
        names = [p.field_name()]
        while True:
            p.ws()
            if not p.take(","):
                return names
            p.ws()
            names.append(p.field_name())
    except ParseError as err:
        raise query_error(f"{what} parameter", text, err) from None
