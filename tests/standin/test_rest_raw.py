"""What the official client cannot express, sent with raw httpx: gateway keys, JWT failures, malformed
bodies, filter-less writes, PostgREST headers and preferences."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import jwt
import pytest


@pytest.fixture
def rest(supabase_stack):
    def call(method: str, path: str, *, token: str | None = None, headers: dict | None = None, **kwargs):
        base = {"apikey": supabase_stack.anon_key}
        if token:
            base["Authorization"] = f"Bearer {token}"
        return httpx.request(method, f"{supabase_stack.url}/rest/v1{path}", headers={**base, **(headers or {})},
                             timeout=30, **kwargs)
    return call


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"code", "details", "hint", "message"}
    return body


def test_apikey_is_required_and_checked(supabase_stack):
    url = f"{supabase_stack.url}/rest/v1/tasks"
    missing = httpx.get(url)
    assert missing.status_code == 401 and missing.json()["message"] == "No API key found in request"
    wrong = httpx.get(url, headers={"apikey": "sb_not_a_key"})
    assert wrong.status_code == 401 and wrong.json()["message"] == "Invalid API key"
    # any header case, or the query parameter; the service key bypasses RLS and grants
    assert httpx.get(url, headers={"APIKEY": supabase_stack.service_role_key}).status_code == 200
    assert httpx.get(url, params={"apikey": supabase_stack.service_role_key}).status_code == 200
    auth_missing = httpx.post(f"{supabase_stack.url}/auth/v1/token?grant_type=password", json={})
    assert auth_missing.status_code == 401


def test_bearer_falls_back_to_the_apikey_and_anon_has_no_grants(rest):
    anon = rest("GET", "/tasks")
    assert anon.status_code == 401 and _error(anon)["code"] == "42501"  # 42501 is 401 for anon
    assert anon.headers["www-authenticate"] == "Bearer"


def test_forged_empty_and_expired_tokens(rest, supabase_stack, alice):
    forged = jwt.encode({"sub": alice.id, "role": "service_role"}, "x" * 40, algorithm="HS256")
    response = rest("GET", "/tasks", token=forged)
    assert response.status_code == 401 and _error(response) == {
        "code": "PGRST301", "details": None, "hint": None, "message": "JWT cryptographic operation failed"}
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    response = rest("GET", "/tasks", headers={"Authorization": "Bearer"})
    assert response.status_code == 401 and _error(response)["code"] == "PGRST301"
    response = rest("GET", "/tasks", token="only.two")
    assert _error(response)["message"] == "Expected 3 parts in JWT; got 2"
    now = int(time.time())
    expired = jwt.encode({"sub": alice.id, "role": "authenticated", "exp": now - 60}, supabase_stack.jwt_secret,
                         algorithm="HS256")
    response = rest("GET", "/tasks", token=expired)
    assert response.status_code == 401 and _error(response)["message"] == "JWT expired"
    assert _error(response)["code"] == "PGRST303"
    within_skew = jwt.encode({"sub": alice.id, "role": "authenticated", "exp": now - 5}, supabase_stack.jwt_secret,
                             algorithm="HS256")
    assert rest("GET", "/tasks", token=within_skew).status_code == 200
    unknown_role = jwt.encode({"role": "superman"}, supabase_stack.jwt_secret, algorithm="HS256")
    response = rest("GET", "/tasks", token=unknown_role)
    assert response.status_code == 401 and _error(response)["code"] == "22023"


def test_filterless_patch_and_delete_are_refused(rest, alice):
    for method in ("PATCH", "DELETE"):
        response = rest(method, "/tasks", token=alice.token, json={"title": "all"})
        assert response.status_code == 400
        assert _error(response) == {"code": "21000", "details": None, "hint": None,
                                    "message": f"{'UPDATE' if method == 'PATCH' else 'DELETE'} requires a WHERE clause"}


def test_malformed_and_mismatched_json(rest, alice):
    response = rest("POST", "/tasks", token=alice.token, content=b'{"title": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and _error(response)["code"] == "PGRST102"
    response = rest("POST", "/tasks", token=alice.token, json=[{"title": "a"}, {"title": "b", "status": "done"}])
    assert response.status_code == 400 and _error(response)["message"] == "All object keys must match"
    response = rest("PATCH", "/tasks?id=eq.1", token=alice.token, content=b"nope")
    assert response.status_code == 400 and _error(response)["code"] == "PGRST102"


def test_preferences_status_codes_and_headers(rest, alice):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    minimal = rest("POST", "/tasks", token=alice.token, json={"id": a, "title": "minimal"})
    assert minimal.status_code == 201 and minimal.content == b"" and minimal.headers["content-range"] == "*/*"
    # columns= (quoted, as supabase-py sends) with missing keys: NULL, or the DEFAULT with missing=default
    response = rest("POST", '/tasks?columns="id","title","status"', token=alice.token,
                    headers={"Prefer": "return=representation,missing=default"}, json=[{"id": b, "title": "t"}])
    assert response.status_code == 201 and response.json()[0]["status"] == "pending"
    assert response.headers["preference-applied"] == "missing=default, return=representation"
    merged = rest("POST", "/tasks?on_conflict=id", token=alice.token,
                  headers={"Prefer": "return=representation,resolution=merge-duplicates"},
                  json=[{"id": a, "title": "merged"}, {"id": str(uuid.uuid4()), "title": "new"}])
    assert merged.status_code == 201  # one row was new
    only_updates = rest("POST", "/tasks", token=alice.token, headers={"Prefer": "resolution=merge-duplicates"},
                        json={"id": a, "title": "merged again"})
    assert only_updates.status_code == 200 and only_updates.content == b""
    located = rest("POST", "/tasks", token=alice.token, headers={"Prefer": "return=headers-only"},
                   json={"id": str(uuid.uuid4()), "title": "located"})
    assert located.status_code == 201 and located.headers["location"].startswith("/tasks?id=eq.")
    patch = rest("PATCH", f"/tasks?id=eq.{a}", token=alice.token, json={"title": "patched"})
    assert patch.status_code == 204 and patch.headers["content-range"] == "0-0/*"
    nothing = rest("PATCH", f"/tasks?id=eq.{uuid.uuid4()}", token=alice.token, json={"title": "x"},
                   headers={"Prefer": "return=representation"})
    assert nothing.status_code == 200 and nothing.json() == []
    single = rest("GET", f"/tasks?id=eq.{a}&select=title", token=alice.token,
                  headers={"Accept": "application/vnd.pgrst.object+json"})
    assert single.json() == {"title": "patched"}
    assert single.headers["content-type"].startswith("application/vnd.pgrst.object+json")


def test_get_paging_counts_and_ranges(rest, alice):
    rows = [{"id": str(uuid.uuid4()), "title": f"t{i:02}"} for i in range(12)]
    rest("POST", "/tasks", token=alice.token, json=rows)
    page = rest("GET", "/tasks?select=title&order=title.asc&limit=5&offset=5", token=alice.token,
                headers={"Prefer": "count=exact"})
    assert page.status_code == 206 and page.headers["content-range"] == "5-9/12"
    assert [r["title"] for r in page.json()] == [f"t{i:02}" for i in range(5, 10)]
    whole = rest("GET", "/tasks?select=title", token=alice.token, headers={"Prefer": "count=exact"})
    assert whole.status_code == 200 and whole.headers["content-range"] == "0-11/12"
    empty = rest("GET", "/tasks?title=eq.none", token=alice.token)
    assert empty.status_code == 200 and empty.json() == [] and empty.headers["content-range"] == "*/*"
    beyond = rest("GET", "/tasks?offset=50", token=alice.token, headers={"Prefer": "count=exact"})
    assert beyond.status_code == 416 and _error(beyond)["code"] == "PGRST103"
    plus = rest("GET", "/tasks?select=title&title=eq.t+01", token=alice.token)  # '+' decodes to a space
    assert plus.json() == []
    assert rest("GET", "/tasks?limit=-1", token=alice.token).status_code == 416
    ranged = rest("GET", "/tasks?select=title&order=title", token=alice.token, headers={"Range": "2-4"})
    assert [r["title"] for r in ranged.json()] == ["t02", "t03", "t04"]
    assert ranged.headers["content-range"] == "2-4/*"
    # PostgREST's canonical query: parameters sorted by name, percent-encoded
    assert ranged.headers["content-location"] == "/tasks?order=title&select=title"


def test_the_1000_row_cap(rest, supabase_stack, alice):
    rows = [{"id": str(uuid.uuid4()), "label": f"m{i}"} for i in range(1005)]
    assert rest("POST", "/memory_nodes", token=alice.token, json=rows).status_code == 201
    page = rest("GET", "/memory_nodes?select=id", token=alice.token, headers={"Prefer": "count=exact"})
    assert len(page.json()) == 1000 and page.headers["content-range"] == "0-999/1005" and page.status_code == 206
    assert len(rest("GET", "/memory_nodes?select=id&limit=5000", token=alice.token).json()) == 1000


def test_grammar_errors_and_logic_trees(rest, alice):
    rest("POST", "/tasks", token=alice.token, json=[{"id": str(uuid.uuid4()), "title": t} for t in ("x,y", "a", "b")])
    tree = rest("GET", '/tasks?select=title&or=(title.eq."x,y",and(title.gte.a,title.lt.b))&order=title',
                token=alice.token)
    assert [r["title"] for r in tree.json()] == ["a", "x,y"]
    negated = rest("GET", "/tasks?select=title&not.or=(title.eq.a,title.eq.b)", token=alice.token)
    assert [r["title"] for r in negated.json()] == ["x,y"]
    quoted_in = rest("GET", '/tasks?select=title&title=in.("x,y",b)&order=title', token=alice.token)
    assert [r["title"] for r in quoted_in.json()] == ["b", "x,y"]
    bad = rest("GET", "/tasks?title=gtx.5", token=alice.token)
    assert bad.status_code == 400 and _error(bad)["code"] == "PGRST100"
    bad_tree = rest("GET", "/tasks?or=(title.eq.a", token=alice.token)
    assert bad_tree.status_code == 400 and _error(bad_tree)["code"] == "PGRST100"
    unknown = rest("GET", "/tasks?colour=eq.red", token=alice.token)
    assert unknown.status_code == 400 and _error(unknown)["code"] == "42703"
    schema = rest("GET", "/tasks", token=alice.token, headers={"Accept-Profile": "auth"})
    assert schema.status_code == 406 and _error(schema)["code"] == "PGRST106"
    injection = rest("GET", '/tasks?select=title&title=eq.a\'; drop table tasks; --', token=alice.token)
    assert injection.status_code == 200 and injection.json() == []


def test_delete_body_is_ignored(rest, alice, scratch_table):
    rest("POST", f"/{scratch_table}", token=alice.token, json={"id": 1, "note": "x"})
    response = rest("DELETE", f"/{scratch_table}?id=eq.1", token=alice.token, content=b"{}",
                    headers={"Content-Type": "application/json", "Prefer": "return=representation"})
    assert response.status_code == 200 and [r["id"] for r in response.json()] == [1]
    garbage = rest("DELETE", f"/{scratch_table}?id=eq.2", token=alice.token, content=b"{not json")
    assert garbage.status_code == 204


def test_request_gucs_are_set_like_postgrest(rest, alice, supabase_stack):
    import psycopg

    with psycopg.connect(supabase_stack.db_url, autocommit=True) as conn:
        conn.execute("""
            create or replace function public.whoami() returns jsonb language sql stable as $$
              select jsonb_build_object('role', current_user, 'claims', current_setting('request.jwt.claims', true)::jsonb,
                'method', current_setting('request.method', true), 'path', current_setting('request.path', true),
                'header', current_setting('request.headers', true)::jsonb -> 'x-probe',
                'read_only', current_setting('transaction_read_only'),
                'timeout', current_setting('statement_timeout'))
            $$;
            grant execute on function public.whoami() to anon, authenticated;
        """)
    seen = rest("POST", "/rpc/whoami", token=alice.token, headers={"X-Probe": "yes"}).json()
    assert seen["role"] == "authenticated" and seen["claims"]["sub"] == alice.id
    assert seen["claims"]["role"] == "authenticated" and seen["method"] == "POST"
    assert seen["path"] == "/rpc/whoami" and seen["header"] == "yes" and seen["read_only"] == "off"
    assert seen["timeout"] == "8s"
    anon = rest("POST", "/rpc/whoami").json()
    assert anon["role"] == "anon" and anon["claims"]["role"] == "anon" and anon["timeout"] == "3s"
    assert json.loads(json.dumps(anon["claims"]))["iss"] == "supabase-demo"


def test_rpc_over_get_is_read_only(rest, alice, supabase_stack):
    import psycopg

    with psycopg.connect(supabase_stack.db_url, autocommit=True) as conn:
        conn.execute("""
            create or replace function public.add_and_check(a int, b int default 1) returns jsonb language sql as $$
              select jsonb_build_object('sum', a + b, 'read_only', current_setting('transaction_read_only'))
            $$;
            grant execute on function public.add_and_check(int, int) to authenticated;
        """)
    assert rest("GET", "/rpc/add_and_check?a=2&b=3", token=alice.token).json() == {"sum": 5, "read_only": "on"}
    assert rest("POST", "/rpc/add_and_check", token=alice.token, json={"a": 2}).json() == {"sum": 3, "read_only": "off"}
    missing = rest("POST", "/rpc/add_and_check", token=alice.token, json={"b": 2})
    assert missing.status_code == 404 and _error(missing)["code"] == "PGRST202"
    assert rest("PATCH", "/rpc/add_and_check", token=alice.token, json={}).status_code == 405


def test_http_statuses_follow_postgrests_sqlstate_mapping(rest, alice, bob):
    """PostgREST's SQLSTATE to HTTP mapping through HTTP, not only the code the client sees: 409 for 23505/23503, 403 for 42501 when signed
    in, 400 for P0001/23514/PGRST204, 404 for PGRST205 - one request each."""
    row = {"id": str(uuid.uuid4()), "title": "t"}
    assert rest("POST", "/tasks", token=alice.token, json=row).status_code == 201
    cases = {
        ("23505", 409): rest("POST", "/tasks", token=alice.token, json=row),
        ("23503", 409): rest("POST", "/tasks", token=alice.token,
                             json={"id": str(uuid.uuid4()), "title": "t", "connection_id": str(uuid.uuid4())}),
        ("42501", 403): rest("POST", "/tasks", token=bob.token,
                             json={"id": str(uuid.uuid4()), "title": "t", "user_id": alice.id}),
        ("23514", 400): rest("POST", "/tasks", token=alice.token,
                             json={"id": str(uuid.uuid4()), "title": "t", "status": "bogus"}),
        ("PGRST204", 400): rest("POST", "/tasks", token=alice.token, json={"id": str(uuid.uuid4()), "colour": "red"}),
        ("PGRST205", 404): rest("GET", "/no_such_table", token=alice.token),
    }
    assert rest("PATCH", f"/tasks?id=eq.{row['id']}", token=alice.token, json={"deleted_at": "now"}).status_code == 204
    cases[("P0001", 400)] = rest("PATCH", f"/tasks?id=eq.{row['id']}", token=alice.token, json={"deleted_at": None})
    seen = {(_error(r)["code"], r.status_code) for r in cases.values()}
    assert seen == set(cases)


def test_a_nul_byte_in_a_filter_is_bad_input_not_an_outage(rest, alice):
    """PostgREST hands the value to Postgres, which refuses NUL in text: 400 22021. It is not a lost
    connection: a 503 would make clients retry the same bad request and the stand-in purge its pool.
    (In an in.(…) list PostgREST cuts each element at its first NUL instead: pgBuildArrayLiteral.)"""
    assert rest("GET", "/tasks?title=in.(a,b%00c)", token=alice.token).status_code == 200
    for path in ("/tasks?title=eq.%00", "/tasks?title=like.x%00", "/tasks?or=(title.eq.x%00)"):
        response = rest("GET", path, token=alice.token)
        assert response.status_code == 400, (path, response.text)
        assert _error(response)["code"] == "22021"
        assert "0x00" in _error(response)["message"]
    assert rest("GET", "/tasks?title=eq.fine", token=alice.token).status_code == 200
