"""Headers, preferences, writes and functions: each request against the stand-in, and what it did or
returned checked against the oracle (the same SQL run in PostgreSQL under the same role and claims)."""

from __future__ import annotations

import json

import pytest

from tests.standin.grammar_fixture import drop_grammar, make_grammar

OBJECT = "application/vnd.pgrst.object+json"


@pytest.fixture(scope="module")
def g(supabase_stack_session):
    grammar = make_grammar(supabase_stack_session)
    yield grammar
    drop_grammar(supabase_stack_session, grammar)


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "details", "hint", "message"} and body["code"] == code, body
    return body


def ids(g, where: str = "true") -> list[int]:
    return [r["id"] for r in g.oracle(f"select id from {g.table} where {where} order by id")]


# -- reading: ranges, counts, HEAD, Accept -------------------------------------------------------
def test_range_header_limit_offset_and_counts(g):
    total = g.oracle_value(f"select count(*) from {g.table}")
    ranged = g.get("select=id&order=id", headers={"Range": "2-4"})
    assert [r["id"] for r in ranged.json()] == ids(g)[2:5] and ranged.headers["content-range"] == "2-4/*"
    counted = g.get("select=id&order=id", headers={"Range": "2-4", "Prefer": "count=exact"})
    assert counted.status_code == 206 and counted.headers["content-range"] == f"2-4/{total}"
    assert counted.headers["preference-applied"] == "count=exact"
    both = g.get("select=id&order=id&offset=1&limit=10", headers={"Range": "0-2"})  # intersected
    assert [r["id"] for r in both.json()] == ids(g)[1:3] and both.headers["content-range"] == "1-2/*"
    whole = g.get("select=id", headers={"Prefer": "count=exact"})
    assert whole.status_code == 200 and whole.headers["content-range"] == f"0-{total - 1}/{total}"
    none = g.get("select=id&id=gt.1000", headers={"Prefer": "count=exact"})
    assert none.json() == [] and none.headers["content-range"] == "*/0"
    beyond = g.get(f"select=id&offset={total + 5}", headers={"Prefer": "count=exact"})
    assert error(beyond, 416, "PGRST103")["details"] == f"An offset of {total + 5} was requested, but there are only {total} rows."
    reversed_range = g.get("select=id", headers={"Range": "5-2"})
    error(reversed_range, 416, "PGRST103")
    error(g.get("select=id&limit=-1"), 416, "PGRST103")
    assert g.get("select=id&limit=abc&order=id").json() == [{"id": i} for i in ids(g)]  # ignored, as readMaybe


def test_planned_and_estimated_counts(g):
    where = "score >= 2"
    plan = g.oracle_value(f"explain (format json) select 1 from {g.table} where {where}")
    planned_rows = plan[0]["Plan"]["Plan Rows"]
    planned = g.get("select=id&score=gte.2&limit=1", headers={"Prefer": "count=planned"})
    assert planned.headers["content-range"] == f"0-0/{planned_rows}"
    exact = g.oracle_value(f"select count(*) from {g.table} where {where}")
    estimated = g.get("select=id&score=gte.2&limit=1", headers={"Prefer": "count=estimated"})
    assert estimated.headers["content-range"] == f"0-0/{exact}"  # under db-max-rows: the exact count


def test_head_answers_like_get_without_a_body(g):
    get = g.get("select=id&order=id&limit=2", headers={"Prefer": "count=exact"})
    head = g.get("select=id&order=id&limit=2", headers={"Prefer": "count=exact"}, method="HEAD")
    assert head.status_code == get.status_code == 206 and head.content == b""
    assert head.headers["content-range"] == get.headers["content-range"]
    assert get.headers["content-location"] == f"/{g.table}?limit=2&order=id&select=id"


def test_single_object_accept(g):
    one = g.get("select=id,name,tags&id=eq.1", headers={"Accept": OBJECT})
    assert one.json() == g.oracle(f"select id, name, tags from {g.table} where id = 1")[0]
    assert one.headers["content-type"].startswith(OBJECT)
    assert error(g.get("select=id&id=eq.999", headers={"Accept": OBJECT}), 406, "PGRST116")["details"] == \
        "The result contains 0 rows"
    assert error(g.get("select=id&id=lt.3", headers={"Accept": OBJECT}), 406, "PGRST116")["details"] == \
        "The result contains 2 rows"
    stripped = g.get("select=id,name,score&id=eq.7", headers={"Accept": OBJECT + ";nulls=stripped"})
    assert stripped.json() == {"id": 7, "score": 7.25}
    error(g.get("select=id", headers={"Accept": "text/html"}), 406, "PGRST107")
    assert g.get("select=id&id=eq.1", headers={"Accept": "text/html, */*;q=0.8"}).json() == [{"id": 1}]


# -- writes ---------------------------------------------------------------------------------------
def test_insert_preferences(g):
    t = g.table
    minimal = g.get("", method="POST", json={"id": 201, "name": "minimal"}, headers={"Prefer": "count=exact"})
    assert minimal.status_code == 201 and minimal.content == b"" and minimal.headers["content-range"] == "*/1"
    assert minimal.headers["content-type"].startswith("application/json")
    assert g.oracle(f"select name, status from {t} where id = 201") == [{"name": "minimal", "status": "fresh"}]
    rep = g.get("select=id,name", method="POST", json=[{"id": 202, "name": "a"}, {"id": 203, "name": "b"}],
                headers={"Prefer": "return=representation,count=exact"})
    assert rep.status_code == 201 and rep.json() == [{"id": 202, "name": "a"}, {"id": 203, "name": "b"}]
    assert rep.headers["preference-applied"] == "return=representation, count=exact"
    assert rep.headers["content-range"] == "*/2"
    located = g.get("", method="POST", json={"id": 204, "name": "loc"}, headers={"Prefer": "return=headers-only"})
    assert located.status_code == 201 and located.content == b"" and located.headers["location"] == f"/{t}?id=eq.204"
    assert ids(g, "id between 201 and 204") == [201, 202, 203, 204]


def test_upserts_and_missing_default(g):
    t = g.table
    g.get("", method="POST", json=[{"id": 210, "name": "old"}, {"id": 211, "name": "keep"}])
    merged = g.get('on_conflict="id"', method="POST", json=[{"id": 210, "name": "new"}],
                   headers={"Prefer": "resolution=merge-duplicates,return=representation"})
    assert merged.status_code == 200 and merged.json()[0]["name"] == "new"  # only updates: 200
    assert merged.headers["preference-applied"] == "resolution=merge-duplicates, return=representation"
    mixed = g.get("on_conflict=id", method="POST", json=[{"id": 210, "name": "newer"}, {"id": 212, "name": "fresh"}],
                  headers={"Prefer": "resolution=merge-duplicates"})
    assert mixed.status_code == 201
    ignored = g.get("", method="POST", json=[{"id": 211, "name": "changed?"}, {"id": 213, "name": "added"}],
                    headers={"Prefer": "resolution=ignore-duplicates,return=representation"})
    assert ignored.status_code == 201 and [r["id"] for r in ignored.json()] == [213]
    assert g.oracle(f"select id, name from {t} where id between 210 and 213 order by id") == [
        {"id": 210, "name": "newer"}, {"id": 211, "name": "keep"}, {"id": 212, "name": "fresh"},
        {"id": 213, "name": "added"}]
    # columns= with a key missing from a row: NULL, or the column DEFAULT with missing=default
    cols = 'columns="id","name","status"'
    nulled = g.get(cols, method="POST", json=[{"id": 214, "name": "n"}])
    error(nulled, 400, "23502")  # status is NOT NULL: the NULL reached Postgres
    defaulted = g.get(cols, method="POST", json=[{"id": 214, "name": "n"}, {"id": 215, "status": "set"}],
                      headers={"Prefer": "missing=default,return=representation"})
    assert [(r["id"], r["name"], r["status"]) for r in defaulted.json()] == [(214, "n", "fresh"), (215, None, "set")]
    assert defaulted.headers["preference-applied"] == "missing=default, return=representation"
    error(g.get("", method="POST", json=[{"id": 216}, {"id": 217, "name": "x"}]), 400, "PGRST102")
    error(g.get("", method="POST", json={"id": 218, "colour": "red"}), 400, "PGRST204")
    assert ids(g, "id between 214 and 218") == [214, 215]


def test_singular_write_rolls_back(g):
    two = g.get("", method="POST", json=[{"id": 220}, {"id": 221}],
                headers={"Accept": OBJECT, "Prefer": "return=representation"})
    error(two, 406, "PGRST116")
    assert ids(g, "id in (220, 221)") == []


def test_patch_and_delete(g):
    t = g.table
    g.get("", method="POST", json=[{"id": i, "name": f"p{i}"} for i in range(230, 236)])
    patched = g.get("id=gte.230&id=lt.233&select=id,name", method="PATCH", json={"name": "patched"},
                    headers={"Prefer": "return=representation,count=exact"})
    assert patched.status_code == 200 and patched.headers["content-range"] == "0-2/3"
    assert patched.json() == g.oracle(f"select id, name from {t} where id between 230 and 232 order by id")
    limited = g.get("id=gte.230&order=id.desc&limit=2", method="PATCH", json={"status": "limited"})
    assert limited.status_code == 204 and limited.headers["content-range"] == "0-1/*"
    assert ids(g, "status = 'limited'") == [234, 235]
    strict = g.get("id=gte.230", method="PATCH", json={"status": "too many"},
                   headers={"Prefer": "handling=strict,max-affected=2"})
    assert error(strict, 400, "PGRST124")["details"] == "The query affects 6 rows"
    assert ids(g, "status = 'too many'") == []  # rolled back
    error(g.get("id=gte.230", headers={"Prefer": "handling=strict,bogus=1"}), 400, "PGRST122")
    empty = g.get("id=eq.230", method="PATCH", json={}, headers={"Prefer": "return=representation"})
    assert empty.status_code == 200 and empty.json() == []
    deleted = g.get("id=in.(233,234)&select=id", method="DELETE", headers={"Prefer": "return=representation"})
    assert deleted.status_code == 200 and deleted.json() == [{"id": 233}, {"id": 234}]
    gone = g.get("or=(id.eq.235,id.eq.101)", method="DELETE", headers={"Prefer": "count=exact"})
    assert gone.status_code == 204 and gone.headers["content-range"] == "*/1"  # bob's 101 is not alice's
    assert ids(g, "id between 230 and 235") == [230, 231, 232]
    assert g.oracle(f"select id from {t} where id = 101", who=g.bob) == [{"id": 101}]


def test_timezone_preference(g):
    response = g.get("select=updated_at&id=eq.1", headers={"Prefer": "timezone=America/New_York"})
    assert response.json() == [{"updated_at": "2025-12-31T19:00:00-05:00"}]
    assert response.headers["preference-applied"] == "timezone=America/New_York"
    assert g.get("select=updated_at&id=eq.1", headers={"Prefer": "timezone=Nowhere/Else"}).json() == [
        {"updated_at": "2026-01-01T00:00:00+00:00"}]


# -- functions ------------------------------------------------------------------------------------
def test_rpc_by_get_and_post_with_result_filters(g):
    fn = f"rpc/{g.table}_named"
    oracle = g.oracle(f"select id, name from {g.table}_named('%a%') where id > 1 order by id desc limit 2")
    by_get = g.get({"pattern": "%a%", "select": "id,name", "id": "gt.1", "order": "id.desc", "limit": "2"}, path=fn)
    assert by_get.status_code == 200 and by_get.json() == oracle
    by_post = g.get({"select": "id,name", "id": "gt.1", "order": "id.desc", "limit": "2"}, path=fn, method="POST",
                    json={"pattern": "%a%"})
    assert by_post.json() == oracle
    counted = g.get({"pattern": "%"}, path=fn, headers={"Prefer": "count=exact", "Range": "0-1"})
    total = g.oracle_value(f"select count(*) from {g.table}_named('%')")
    assert counted.status_code == 206 and counted.headers["content-range"] == f"0-1/{total}"
    planned = g.get({"pattern": "%"}, path=fn, headers={"Prefer": "count=planned"})
    plan = g.oracle_value(f"explain (format json) select 1 from {g.table}_named('%') where true")
    assert planned.headers["content-range"].endswith(f"/{plan[0]['Plan']['Plan Rows']}")
    head = g.get({"pattern": "%"}, path=fn, method="HEAD")
    assert head.status_code == 200 and head.content == b""
    one = g.get({"pattern": "beta"}, path=fn, headers={"Accept": OBJECT})
    assert one.json()["id"] == 2


def test_rpc_return_shapes(g):
    t = g.table
    heads = g.get("", path=f"rpc/{t}_heads")
    assert heads.json() == g.oracle(f"select * from {t}_heads()")
    assert len(heads.json()) == 1  # RLS: only alice's rows (security invoker)
    assert g.get("min_score=2", path=f"rpc/{t}_total").json() == g.oracle_value(f"select {t}_total(2)")
    assert g.get("", path=f"rpc/{t}_total", method="POST", json={}).json() == g.oracle_value(f"select {t}_total()")
    assert g.get("", path=f"rpc/{t}_ids").json() == [r["i"] for r in g.oracle(f"select i from {t}_ids() i")]
    echo = g.get("", path=f"rpc/{t}_body", method="POST", json={"any": ["shape", 1]})
    assert echo.json() == {"any": ["shape", 1]}  # one unnamed jsonb parameter takes the whole body
    touched = g.get("", path=f"rpc/{t}_touch", method="POST", json={"target": 1})
    assert touched.status_code == 204 and touched.content == b""
    assert g.oracle(f"select status from {t} where id = 1") == [{"status": "touched"}]
    read_only = g.get("target=2", path=f"rpc/{t}_touch")  # GET runs read-only: Postgres refuses the write
    error(read_only, 405, "25006")
    assert g.get("", path=f"rpc/{t}_over", method="POST", json={"a": "x", "b": "y"}).json() == "text"
    ambiguous = g.get("", path=f"rpc/{t}_over", method="POST", json={"a": 1})
    assert error(ambiguous, 300, "PGRST203")["message"].startswith("Could not choose the best candidate function")
    missing = g.get("", path=f"rpc/{t}_named", method="POST", json={"nope": 1})
    error(missing, 404, "PGRST202")
    error(g.get("", path=f"rpc/{t}_named", method="PATCH", json={}), 405, "PGRST101")
    error(g.get("", path=f"rpc/{t}_named", method="POST", content=b"{bad", headers={"Content-Type": "application/json"}),
          400, "PGRST102")


def test_select_aliases_on_writes_and_json_bodies_round_trip(g):
    body = {"id": 240, "name": "j", "data": {"deep": {"list": [1, {"x": None}]}}, "tags": ["a", "b,c"]}
    response = g.get("select=id,k:data->deep->list,tags", method="POST", json=body,
                     headers={"Prefer": "return=representation"})
    assert response.json() == [{"id": 240, "k": [1, {"x": None}], "tags": ["a", "b,c"]}]
    assert json.loads(json.dumps(g.oracle(f"select data from {g.table} where id = 240")[0]["data"])) == body["data"]


def test_csv_and_form_bodies(g):
    created = g.get("select=id,name,score", method="POST", content=b"id,name,score\n250,csv one,1.5\n251,NULL,2\n",
                    headers={"Content-Type": "text/csv", "Prefer": "return=representation"})
    assert created.status_code == 201, created.text
    assert created.json() == g.oracle(f"select id, name, score from {g.table} where id in (250, 251) order by id")
    assert created.json()[1]["name"] is None
    form = g.get("", method="POST", content=b"id=252&name=form+row",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 201 and g.oracle(f"select name from {g.table} where id = 252") == [{"name": "form row"}]
    uneven = g.get("", method="POST", content=b"id,name\n253\n", headers={"Content-Type": "text/csv"})
    assert error(uneven, 400, "PGRST102")["message"] == "All lines must have same number of fields"
    plain = g.get("", method="POST", content=b"id=254", headers={"Content-Type": "text/plain"})
    assert error(plain, 400, "PGRST102")["message"] == "Content-Type not acceptable: text/plain"
    assert ids(g, "id between 253 and 254") == []


def test_put_upserts_one_row_by_its_key(g):
    created = g.get("id=eq.260&select=id,name", method="PUT", json={"id": 260, "name": "put"},
                    headers={"Prefer": "return=representation"})
    assert created.status_code == 201 and created.json() == [{"id": 260, "name": "put"}]
    replaced = g.get("id=eq.260", method="PUT", json={"id": 260, "name": "again"})
    assert replaced.status_code == 204
    assert g.oracle(f"select name from {g.table} where id = 260") == [{"name": "again"}]
    mismatch = g.get("id=eq.261", method="PUT", json={"id": 262, "name": "x"})
    error(mismatch, 400, "PGRST115")
    error(g.get("name=eq.x", method="PUT", json={"id": 263}), 405, "PGRST105")
    error(g.get("id=gt.1", method="PUT", json={"id": 263}), 405, "PGRST105")
    error(g.get("id=eq.263&limit=1", method="PUT", json={"id": 263}), 400, "PGRST114")
    assert ids(g, "id between 261 and 263") == []
