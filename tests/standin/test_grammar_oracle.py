"""PostgREST's documented grammar, one request per form, each checked row for row against its oracle:
the equivalent SQL run directly in PostgreSQL as PostgREST's login role under the same role and JWT
claims (so RLS hides bob's rows from alice in both). `{t}` is the test table (grammar_fixture.py)."""

from __future__ import annotations

import pytest

from tests.standin.grammar_fixture import drop_grammar, make_grammar

TS = "2026-01-02T00:00:00+00:00"

# (id, query string or params, oracle SQL). Every form orders by something, so rows compare in order.
CASES = [
    ("star", "select=*&order=id", "select * from {t} order by id"),
    ("columns", "select=id,name&order=id", "select id, name from {t} order by id"),
    ("empty-select", {"select": "", "order": "id", "limit": "2"}, "select from {t} order by id limit 2"),
    ("quoted-names", {"select": 'id,"two words","odd.name","a,b"', '"two words"': "eq.x", "order": '"odd.name".desc'},
     'select id, "two words", "odd.name", "a,b" from {t} where "two words" = \'x\' order by "odd.name" desc'),
    ("quoted-order-nulls", {"select": "id", "order": '"odd.name".asc.nullsfirst,id'},
     'select id from {t} order by "odd.name" asc nulls first, id'),
    ("issue-tree-raw",
     f'select=id&order=id&or=("updated_at".gt.{TS.replace("+", "%2B")},and("updated_at".eq.{TS.replace("+", "%2B")},'
     '"id".gt.3))',
     f"select id from {{t}} where updated_at > '{TS}' or (updated_at = '{TS}' and id > 3) order by id"),
    ("issue-tree-encoded",
     {"select": "id", "order": "id", "or": f'("updated_at".gt.{TS},and("updated_at".eq.{TS},"id".gt.3))'},
     f"select id from {{t}} where updated_at > '{TS}' or (updated_at = '{TS}' and id > 3) order by id"),
    ("eq", "select=id&name=eq.beta", "select id from {t} where name = 'beta'"),
    ("neq", "select=id&name=neq.beta&order=id", "select id from {t} where name <> 'beta' order by id"),
    ("gt-gte-lt-lte", "select=id&id=gt.1&id=lte.5&score=gte.2&score=lt.5&order=id",
     "select id from {t} where id > 1 and id <= 5 and score >= 2 and score < 5 order by id"),
    ("like-star", "select=id&name=like.*pha*&order=id", "select id from {t} where name like '%pha%' order by id"),
    ("ilike", "select=id&name=ilike.alpha*&order=id", "select id from {t} where name ilike 'alpha%' order by id"),
    ("match-imatch", "select=id&name=match.^[ab]&or=(name.imatch.^ALPHA)&order=id",
     "select id from {t} where name ~ '^[ab]' and (name ~* '^ALPHA') order by id"),
    ("in-quoted", {"select": "id", "name": 'in.(beta,"gamma, with comma","delta (paren)","quote \\"q\\" here")',
                   "order": "id"},
     "select id from {t} where name = any(array['beta', 'gamma, with comma', 'delta (paren)', 'quote \"q\" here'])"
     " order by id"),
    ("in-backslash", {"select": "id", "name": 'in.("back\\\\slash")'}, "select id from {t} where name = 'back\\slash'"),
    ("in-empty", "select=id&name=in.()", "select id from {t} where false"),
    ("not-in", "select=id&id=not.in.(1,2,3)&order=id", "select id from {t} where not (id in (1, 2, 3)) order by id"),
    ("is-null", "select=id&name=is.null", "select id from {t} where name is null"),
    ("is-not-null", "select=id&score=is.not_null&order=id", "select id from {t} where score is not null order by id"),
    ("is-true-false-unknown", "select=id&or=(flag.is.TRUE,flag.is.unknown)&order=id",
     "select id from {t} where flag is true or flag is unknown order by id"),
    ("not-is-false", "select=id&flag=not.is.false&order=id", "select id from {t} where not (flag is false) order by id"),
    ("isdistinct", "select=id&flag=isdistinct.true&order=id",
     "select id from {t} where flag is distinct from true order by id"),
    ("cs-cd-ov", "select=id&tags=cs.{red}&or=(tags.cd.{red,green,blue},tags.ov.{x})&order=id",
     "select id from {t} where tags @> '{{red}}' and (tags <@ '{{red,green,blue}}' or tags && '{{x}}') order by id"),
    ("array-with-comma", {"select": "id", "tags": 'cs.{"x,y"}'}, "select id from {t} where tags @> array['x,y']"),
    # inside a tree a value ends at "," or ")": a range there must be quoted
    ("range-ops", 'select=id&span=sl.[20,30)&or=(span.adj."[5,7)",span.nxr."[0,6)",span.sr."[100,200)")&order=id',
     "select id from {t} where span << '[20,30)' and (span -|- '[5,7)' or span &< '[0,6)' or span >> '[100,200)')"
     " order by id"),
    ("nxl", "select=id&span=nxl.[2,3)&order=id", "select id from {t} where span &> '[2,3)' order by id"),
    ("fts-tsvector", "select=id&doc=fts.quick%26fox&order=id", "select id from {t} where doc @@ to_tsquery('quick&fox') order by id"),
    ("fts-lang-text", "select=id&body=fts(english).jumping&order=id",
     "select id from {t} where to_tsvector('english', body) @@ to_tsquery('english', 'jumping') order by id"),
    ("plfts", "select=id&body=plfts.quick brown&order=id",
     "select id from {t} where to_tsvector(body) @@ plainto_tsquery('quick brown') order by id"),
    ("phfts", "select=id&doc=phfts(english).quick brown&order=id",
     "select id from {t} where doc @@ phraseto_tsquery('english', 'quick brown') order by id"),
    ("wfts", {"select": "id", "doc": 'wfts.fox -"lazy dogs" or sleep', "order": "id"},
     "select id from {t} where doc @@ websearch_to_tsquery('fox -\"lazy dogs\" or sleep') order by id"),
    ("not-fts", "select=id&doc=not.fts.fox&order=id", "select id from {t} where not (doc @@ to_tsquery('fox')) order by id"),
    ("eq-any", "select=id&id=eq(any).{1,3,5}&order=id", "select id from {t} where id = any('{{1,3,5}}') order by id"),
    ("like-any", "select=id&name=like(any).{a*,b*}&order=id", "select id from {t} where name like any('{{a%,b%}}') order by id"),
    ("gt-all", "select=id&score=gt(all).{1,2}&order=id", "select id from {t} where score > all('{{1,2}}') order by id"),
    ("ilike-all", "select=id&name=ilike(all).{*a*,*l*}&order=id",
     "select id from {t} where name ilike all('{{%a%,%l%}}') order by id"),
    ("nested-not-tree", "select=id&and=(id.gt.1,not.or(name.eq.beta,and(id.lt.5,flag.is.true)))&order=id",
     "select id from {t} where (id > 1 and not (name = 'beta' or (id < 5 and flag is true))) order by id"),
    ("not-or-top", "select=id&not.or=(id.lt.3,id.gt.6)&order=id", "select id from {t} where not (id < 3 or id > 6) order by id"),
    ("not-and-top", "select=id&not.and=(flag.is.true,id.gt.1)&order=id",
     "select id from {t} where not (flag is true and id > 1) order by id"),
    ("tree-quoted-values", {"select": "id", "or": '(name.eq."gamma, with comma",name.eq."delta (paren)")', "order": "id"},
     "select id from {t} where name = 'gamma, with comma' or name = 'delta (paren)' order by id"),
    ("tree-in-and-arrays", "select=id&or=(id.in.(1,2),tags.cs.{blue})&order=id",
     "select id from {t} where id in (1, 2) or tags @> '{{blue}}' order by id"),
    ("tree-spaces", "select=id&or=( id.eq.1 , and( id.gt.6 , id.lt.8 ) )&order=id",
     "select id from {t} where id = 1 or (id > 6 and id < 8) order by id"),
    ("json-select", "select=id,data->a,x:data->>b,data->arr->0,data->nested->>k&order=id",
     "select id, data->'a' as a, data->>'b' as x, data->'arr'->0 as arr, data->'nested'->>'k' as k from {t} order by id"),
    ("json-filter", "select=id&data->>b=eq.two", "select id from {t} where data->>'b' = 'two'"),
    ("json-filter-jsonb", "select=id&data->a=eq.3", "select id from {t} where data->'a' = '3'"),
    ("json-order", "select=id&data->>b=not.is.null&order=data->>b.desc", "select id from {t} where data->>'b' is not null "
     "order by data->>'b' desc"),
    ("json-index-filter", "select=id&data->arr->>1=eq.20", "select id from {t} where data->'arr'->>1 = '20'"),
    ("json-on-array-column", "select=id,first:tags->>0&tags->>0=eq.red&order=id",
     "select id, to_jsonb(tags)->>0 as first from {t} where to_jsonb(tags)->>0 = 'red' order by id"),
    ("alias-cast", "select=n:name,s:score::text,i:score::int,id&order=id",
     "select name as n, score::text as s, score::int as i, id from {t} order by id"),
    ("cast-no-alias", "select=id::text,flag::int&order=id", "select id::text as id, flag::int as flag from {t} order by id"),
    ("cast-multiword", "select=id,score::double precision&order=id",
     "select id, score::double precision as score from {t} order by id"),
    ("order-multi", "select=id&order=flag.desc.nullslast,name.asc.nullsfirst,id",
     "select id from {t} order by flag desc nulls last, name asc nulls first, id"),
    ("order-desc-default-nulls", "select=id&order=score.desc,id", "select id from {t} order by score desc, id"),
    ("limit-offset", "select=id&order=id&limit=3&offset=2", "select id from {t} order by id limit 3 offset 2"),
    ("limit-zero", "select=id&order=id&limit=0", "select id from {t} where false"),
    ("offset-only", "select=id&order=id&offset=6", "select id from {t} order by id offset 6"),
    ("filters-anded", "select=id&id=gt.2&id=lt.7&name=not.is.null&order=id",
     "select id from {t} where id > 2 and id < 7 and name is not null order by id"),
    ("value-with-dots-and-parens", {"select": "id", "name": "eq.delta (paren)"}, "select id from {t} where name = 'delta (paren)'"),
    ("quoted-value-top-level-literal", {"select": "id", "name": 'neq."beta"', "order": "id"},
     "select id from {t} where name <> '\"beta\"' order by id"),
    ("plus-is-space", "select=id&body=eq.quick+fox", "select id from {t} where body = 'quick fox'"),
    ("trailing-junk-is-ignored", "select=id&name=is.nullx", "select id from {t} where name is null"),
]


@pytest.fixture(scope="module")
def grammar(supabase_stack_session):
    g = make_grammar(supabase_stack_session)
    yield g
    drop_grammar(supabase_stack_session, g)


@pytest.mark.parametrize(("query", "sql"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_form_matches_its_oracle(grammar, query, sql):
    response = grammar.get(query)
    assert response.status_code == 200, response.text
    expected = grammar.oracle(sql.format(t=grammar.table))
    assert response.json() == expected
    assert expected or "where false" in sql or "is null" in sql, "a case that matches nothing proves little"


def test_rls_is_the_same_for_both(grammar):
    """bob sees his rows only, through the stand-in and through the oracle."""
    response = grammar.get("select=id,name&order=id", who=grammar.bob)
    assert [r["id"] for r in response.json()] == [101, 102, 103]
    assert response.json() == grammar.oracle(f"select id, name from {grammar.table} order by id", who=grammar.bob)


@pytest.mark.parametrize(("query", "column"), [
    ("or=(id.eq.1", 11), ("select=id&id=gtx.5", 1), ("name=like", 1), ("id=in.(1,2", 8),
    ("order=id.ac", 4), ("order=id.asc.nlsfst", 8), ("select=name::", 7), ("or=(id.eq.1,not.xor(id.eq.2))", 16),
    ("and=(ord(id.eq.1,id.eq.1),id.eq.2)", 7), ("or=()", 4), ("select=id!inner(*)", 3),
])
def test_unsupported_and_malformed_forms_are_pgrst100_with_the_position(grammar, query, column):
    response = grammar.get(query)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "PGRST100" and body["message"].endswith(f"(line 1, column {column})"), body


def test_deeply_nested_trees(grammar):
    """180 levels answer like any tree; absurd depths are Postgres' own 42601, never a RecursionError."""
    tree = "(" + "or(" * 180 + "id.eq.2" + ")" * 181
    response = grammar.get("select=id&or=" + tree)
    assert response.status_code == 200 and response.json() == [{"id": 2}]
    deep = "(" + "or(" * 12000 + "id.eq.2" + ")" * 12001
    response = grammar.get("select=id&or=" + deep)
    assert response.status_code == 400 and response.json()["code"] == "42601", response.text[:300]
    assert grammar.get("select=id&id=eq.1").json() == [{"id": 1}]
