"""The parser on its own (no database): PostgREST's doctests from QueryParams.hs, as far as the
stand-in supports the forms, and the values the renderer receives."""

from __future__ import annotations

import pytest

from standin.rest_errors import RestError
from standin.rest_grammar import (
    Field,
    Filter,
    Logic,
    parse_columns,
    parse_filter,
    parse_logic,
    parse_order,
    parse_select,
)
from standin.rest_parser import ParseError, Parser
from standin.rest_query import canonical, parse_prefer, parse_query, query_items


@pytest.mark.parametrize(("text", "name"), [
    ("identifier", "identifier"), ("identifier with spaces", "identifier with spaces"),
    ("identifier-with-dashes", "identifier-with-dashes"), ("123", "123"), ("_", "_"), ("$", "$"),
    ('":"', ":"), (" no leading or trailing spaces ", "no leading or trailing spaces"),
    ('" leading and trailing spaces "', " leading and trailing spaces "), ('"a\\"b"', 'a"b'), ("ñandú", "ñandú"),
])
def test_field_names(text, name):
    assert Parser(text).field_name() == name


def test_field_name_refuses_punctuation():
    with pytest.raises(ParseError) as err:
        Parser(":").field_name()
    assert err.value.pos == 0


@pytest.mark.parametrize(("text", "path"), [
    ("->text", (("->", False, "text"),)), ("->!@#$%^&*_a", (("->", False, "!@#$%^&*_a"),)),
    ("->1", (("->", True, "+1"),)), ("->>1", (("->>", True, "+1"),)), ("->0,other", (("->", True, "+0"),)),
    ("->0.desc", (("->", True, "+0"),)), ("->-2", (("->", True, "-2"),)),
    ('->"a.b"->>c', (("->", False, "a.b"), ("->>", False, "c"))),
])
def test_json_paths(text, path):
    assert Parser(text).json_path() == path


def test_filters_and_their_values():
    assert parse_filter("id", "eq.1") == ([], Filter(Field("id"), False, "eq", "1"))
    assert parse_filter("a.b", "eq.0")[0] == ["a"]
    assert parse_filter("id", "not.eq(all).x,y)")[1] == Filter(Field("id"), True, "eq", "x,y)", quant="all")
    assert parse_filter("tags", 'in.("a,b",c)')[1].value == ["a,b", "c"]
    assert parse_filter("tags", "in.()")[1].value == [""]
    assert parse_filter("d", "fts(english).x")[1].lang == "english"
    assert parse_filter("d", "is.NULL")[1].value == "null"
    assert parse_filter('"my col"->>k', "like.a*")[1].field == Field("my col", (("->>", False, "k"),))
    for bad, column in (("val", 1), ("noop.0", 1), ("fts().value", 1), ("eq().value", 1), ("is().value", 1),
                        ("in().value", 1)):
        with pytest.raises(RestError) as err:
            parse_filter("id", bad)
        assert err.value.code == "PGRST100" and err.value.message.endswith(f"(line 1, column {column})")


def test_logic_trees():
    _, tree = parse_logic("not.or", '(a.eq.1,and(b.gt."x,y",not.or(c.is.null,d.cs.{1,2})))')
    assert tree.negate and tree.op == "or" and tree.children[0] == Filter(Field("a"), False, "eq", "1")
    inner = tree.children[1]
    assert isinstance(inner, Logic) and inner.children[0].value == "x,y"
    assert inner.children[1].negate and inner.children[1].children[1].value == "{1,2}"
    deep = parse_logic("or", "(" + "or(" * 50_000 + "a.eq.1" + ")" * 50_001)[1]
    for _ in range(50_001):  # the root, then 50,000 nested groups
        deep = deep.children[0]
    assert deep == Filter(Field("a"), False, "eq", "1")
    for bad, column in (("()", 4), ("(id.in.1,2,id.eq.3)", 10), (")(", 3), ("(ord(id.eq.1),id.eq.2)", 6),
                        ("(id.eq.1,not.xor(id.eq.2))", 16)):
        with pytest.raises(RestError) as err:
            parse_logic("or", bad)
        assert err.value.message.endswith(f"(line 1, column {column})"), err.value.message


def test_select_order_columns():
    items = parse_select('*,n:name::text,"a,b",data->x->>y::int')
    assert items[0].field is None and (items[1].alias, items[1].cast) == ("n", "text")
    assert items[2].field.name == "a,b" and items[3].field.path[-1] == ("->>", False, "y")
    assert parse_select("") == []
    for bad, code in (("count()", "PGRST123"), ("id.sum()", "PGRST123"), ("client(id)", "PGRST100"),
                      ("...client(id)", "PGRST100"), ("name!hint", "PGRST100"), ("name::", "PGRST100")):
        with pytest.raises(RestError) as err:
            parse_select(bad)
        assert err.value.code == code, bad
    terms = parse_order('name.desc.nullsfirst,"x y",json_col->key.asc.nullslast')
    assert [(t.field.name, t.direction, t.nulls) for t in terms] == [
        ("name", "desc", "nullsfirst"), ("x y", None, None), ("json_col", "asc", "nullslast")]
    for bad, column in (("id.ac", 4), ("id.descc", 8), ("id.nullslasttt", 13), ("id.asc.smth34", 8)):
        with pytest.raises(RestError) as err:
            parse_order(bad)
        assert err.value.message.endswith(f"(line 1, column {column})"), (bad, err.value.message)
    assert parse_columns("columns", '"id", "title",body') == ["id", "title", "body"]


def test_query_params_prefer_and_canonical():
    q = parse_query(query_items("select=id&id=eq.1&or=(a.eq.1)&order=id&limit=5&offset=2&apikey=k&x&y="),
                    rpc_read=True)
    assert [type(c).__name__ for c in q.conditions] == ["Filter", "Logic"] and q.rpc_args == {"y": ""}
    assert (q.limit, q.offset) == (5, 2)
    with pytest.raises(RestError) as err:
        parse_query([("rel.order", "id")])
    assert err.value.code == "PGRST108"
    assert canonical([("select", "*"), ("a", "b,c"), ("a", "d")]) == "a=b%2Cc,d&select=%2A"
    prefs = parse_prefer(["return=representation, count=exact", "return=minimal,tx=rollback,what"])
    assert prefs.values == {"return": "representation", "count": "exact"} and prefs.invalid == ["what"]
    assert prefs.applied(("return", "count")) == {"Preference-Applied": "return=representation, count=exact"}
    with pytest.raises(RestError) as err:
        parse_prefer(["handling=strict, nope"])
    assert err.value.code == "PGRST122"
