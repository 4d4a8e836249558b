"""The stand-in tried as an attacker would: SQL through a `select` cast, input that used to end in a
500 (deep nesting, UTF-16 bodies, wrong JSON types, NUL bytes), and GoTrue's audience and ban rules.

Every refusal must be a 4xx in the real service's shape with no SQL or Python text in it, and the
stand-in must go on serving.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import jwt
import psycopg
import pytest

LEAKS = ("Traceback", "psycopg", "LINE 1", "Error(", "select ", "SELECT ", "RecursionError", "stand-in error")


@pytest.fixture
def rest(supabase_stack):
    def call(method: str, path: str, *, token: str | None = None, headers: dict | None = None, **kwargs):
        base = {"apikey": supabase_stack.anon_key, **({"Authorization": f"Bearer {token}"} if token else {})}
        return httpx.request(method, f"{supabase_stack.url}/rest/v1{path}", headers={**base, **(headers or {})},
                             timeout=30, **kwargs)
    return call


@pytest.fixture
def auth(supabase_stack):
    def call(path: str, body=None, *, content: bytes | None = None, headers: dict | None = None, method="POST"):
        base = {"apikey": supabase_stack.anon_key, "X-Supabase-Api-Version": "2024-01-01"}
        return httpx.request(method, f"{supabase_stack.url}/auth/v1{path}", headers={**base, **(headers or {})},
                             json=body if content is None else None, content=content, timeout=30)
    return call


def refused(response, status: int, code: str) -> dict:
    """A 4xx with the expected code and nothing of the stand-in's insides in it."""
    assert response.status_code == status, response.text
    for leak in LEAKS:
        assert leak not in response.text, response.text
    body = response.json()
    assert body.get("code") == code or body.get("error_code") == code, body
    return body


def still_serving(rest, alice) -> None:
    assert rest("GET", "/tasks?select=id&limit=1", token=alice.token).status_code == 200


# -- SQL injection through a cast ---------------------------------------------------------------
@pytest.mark.parametrize(("select", "status"), [
    ("x:rolname::text FROM pg_roles tasks UNION SELECT title", 400),
    ("x:name::text FROM pg_settings tasks UNION SELECT title", 400),
    ("x:proname::text FROM pg_proc tasks UNION SELECT title", 400),
    ("x:rolname::text FROM pg_roles tasks, pg_class a, pg_class b, pg_class c UNION SELECT title", 400),
    ("title::text;select 1", 400),
    ('title::"text"', 400),
    ("title::text) FROM pg_roles --", 200),  # Parsec stops at ")" and ignores the rest, as PostgREST
])
def test_a_cast_is_a_type_name_and_nothing_else(rest, alice, select, status):
    rest("POST", "/tasks", token=alice.token, json={"id": str(uuid.uuid4()), "title": "mine"})
    started = time.monotonic()
    response = rest("GET", "/tasks", token=alice.token, params={"select": select})
    assert time.monotonic() - started < 5  # no cross join running until the statement timeout
    assert response.status_code == status, response.text
    assert "authenticator" not in response.text and "service_role" not in response.text
    if status == 400:
        assert set(response.json()) == {"code", "details", "hint", "message"}
        assert response.json()["code"] in ("PGRST100", "42601", "42704")
    else:
        assert response.json() == [{"title": "mine"}]
    still_serving(rest, alice)


@pytest.mark.parametrize(("query", "status", "code"), [
    ("select=id&order=id;drop table tasks", 400, "PGRST100"),
    ('select="id""; drop table tasks; --"', 400, "PGRST100"),  # quotes escape with \\, not by doubling
    ('select=title&"title%s"=eq.x', 400, "42703"),
    ("select=title&title=eq.%25s'); drop table tasks; --", 200, None),
    ("select=title,k:title->>'; select 1; x", 200, None),
    ("select=title,k:title->>'; select pg_sleep(10) --", 400, "PGRST100"),
    ("select=title&title=fts(english');select 1;--).x", 400, "PGRST100"),
    ("select=title&or=(title.eq.a'),title.in.(\"'); drop table tasks;--\"))", 200, None),
    ("select=title&title=like(any).{%25s,%25%25}", 200, None),
])
def test_nothing_from_the_request_reaches_sql_unquoted(rest, alice, supabase_stack, query, status, code):
    response = rest("GET", "/tasks?" + query, token=alice.token)
    assert response.status_code == status, response.text
    if code:
        assert response.json()["code"] == code
    with psycopg.connect(supabase_stack.db_url, autocommit=True) as conn:
        assert conn.execute("select to_regclass('public.tasks') is not null").fetchone()[0]
    still_serving(rest, alice)


def test_names_with_quotes_and_percent_signs(rest, alice, supabase_stack):
    with psycopg.connect(supabase_stack.db_url, autocommit=True) as conn:
        conn.execute('''create table public.odd_names (id int primary key, "50% off" text, "say ""hi""" text,
                        user_id uuid not null default auth.uid());
                        alter table public.odd_names enable row level security;
                        create policy own on public.odd_names for all to authenticated
                          using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
                        grant select, insert, update, delete on public.odd_names to authenticated''')
    try:
        created = rest("POST", "/odd_names", token=alice.token, params={"columns": '"id","50% off","say \\"hi\\""'},
                       json={"id": 1, "50% off": "p", 'say "hi"': "q"}, headers={"Prefer": "return=representation"})
        assert created.status_code == 201, created.text
        found = rest("GET", '/odd_names', token=alice.token,
                     params={"select": 'a:"50% off",b:"say \\"hi\\""', '"50% off"': "eq.p",
                             "order": '"say \\"hi\\"".desc'})
        assert found.json() == [{"a": "p", "b": "q"}]
        upsert = rest("POST", "/odd_names", params={"on_conflict": '"id"'}, token=alice.token, json={"id": 1, "50% off": "u"},
                      headers={"Prefer": "resolution=merge-duplicates,return=representation"})
        assert upsert.status_code == 200 and upsert.json()[0]["50% off"] == "u"
    finally:
        with psycopg.connect(supabase_stack.db_url, autocommit=True) as conn:
            conn.execute("drop table public.odd_names")


def test_real_type_names_still_cast(rest, alice):
    rest("POST", "/tasks", token=alice.token, json={"id": str(uuid.uuid4()), "title": "42"})
    response = rest("GET", "/tasks", token=alice.token, params={
        "select": "n:title::int,d:title::double precision,t:title::TEXT,c:title::char,ts:created_at::date"})
    assert response.status_code == 200, response.text
    row = response.json()[0]
    assert row["n"] == 42 and row["d"] == 42.0 and row["t"] == "42" and row["c"] == "4"
    unknown = rest("GET", "/tasks", token=alice.token, params={"select": "title::no_such_type"})
    assert unknown.status_code == 400 and unknown.json()["code"] == "42704"
    assert unknown.json()["message"] == 'type "no_such_type" does not exist'


# -- input that used to be a 500 ----------------------------------------------------------------
DEEP = b"[" * 5000 + b"]" * 5000


def test_deeply_nested_json_is_refused_on_every_endpoint(rest, auth, alice):
    for method, path in (("POST", "/tasks"), ("PATCH", "/tasks?id=eq.1"), ("POST", "/rpc/anything")):
        response = rest(method, path, token=alice.token, content=DEEP, headers={"Content-Type": "application/json"})
        refused(response, 400, "PGRST102")
    nested_value = b'{"id": "' + str(uuid.uuid4()).encode() + b'", "title": ' + DEEP + b"}"
    refused(rest("POST", "/tasks", token=alice.token, content=nested_value), 400, "PGRST102")
    for path in ("/signup", "/token?grant_type=password", "/token?grant_type=refresh_token"):
        body = refused(auth(path, content=DEEP), 400, "bad_json")
        assert body["message"].startswith("Could not parse request body as JSON")
    still_serving(rest, alice)


def test_deep_logic_trees_are_not_a_500(rest, alice):
    title = "deep-" + uuid.uuid4().hex[:6]
    rest("POST", "/tasks", token=alice.token, json={"id": str(uuid.uuid4()), "title": title})
    tree = "(" + "or(" * 180 + f"title.eq.{title}" + ")" * 181
    response = rest("GET", "/tasks?select=title&or=" + tree, token=alice.token)
    assert response.status_code == 200 and response.json() == [{"title": title}], response.text
    still_serving(rest, alice)


def test_a_utf16_body_on_rpc_is_invalid_json_and_not_echoed(rest, alice, supabase_stack):
    with psycopg.connect(supabase_stack.db_url, autocommit=True) as conn:
        conn.execute("create or replace function public.echo_arg(a text) returns text language sql as $$ select a $$;"
                     "grant execute on function public.echo_arg(text) to authenticated")
    body = json.dumps({"a": "secret-value"}).encode("utf-16")  # with a BOM
    response = rest("POST", "/rpc/echo_arg", token=alice.token, content=body,
                    headers={"Content-Type": "application/json"})
    refused(response, 400, "PGRST102")
    assert "secret" not in response.content.decode("utf-16", errors="ignore") and b"s\x00e\x00c" not in response.content
    ok = rest("POST", "/rpc/echo_arg", token=alice.token, json={"a": "fine"})
    assert ok.status_code == 200 and ok.json() == "fine"


def test_wrong_json_types_in_auth_bodies_are_gotrues_bad_json(auth):
    for value in (5, True, ["x"], {"t": 1}):
        body = refused(auth("/token?grant_type=refresh_token", {"refresh_token": value}), 400, "bad_json")
        assert "Go struct field RefreshTokenGrantParams.refresh_token of type string" in body["message"]
    body = refused(auth("/signup", {"email": "a@example.test", "password": "long-enough", "data": "x"}), 400,
                   "bad_json")
    assert body["message"] == ("Could not parse request body as JSON: json: cannot unmarshal string into Go struct "
                               "field SignupParams.data of type map[string]interface {}")
    refused(auth("/signup", {"email": "a@example.test", "password": "long-enough", "data": [1]}), 400, "bad_json")
    refused(auth("/token?grant_type=password", {"email": 7, "password": "x"}), 400, "bad_json")
    refused(auth("/signup", ["not", "an", "object"]), 400, "bad_json")
    # `null` decodes into an empty struct, as in Go: the endpoint's own validation answers
    refused(auth("/signup", content=b"null"), 400, "validation_failed")
    refused(auth("/token?grant_type=password", content=b"null"), 400, "validation_failed")
    refused(auth("/token?grant_type=refresh_token", content=b"null"), 400, "validation_failed")
    refused(auth("/signup", content="\ufeff{}".encode("utf-16")), 400, "bad_json")


def test_nul_bytes_in_auth_input(auth, supabase_stack):
    email = f"nul-{uuid.uuid4().hex[:8]}@example.test"
    refused(auth("/signup", {"email": "a\u0000b@example.test", "password": "long-enough"}), 400, "validation_failed")
    refused(auth("/token?grant_type=password", {"email": "a\u0000@example.test", "password": "long-enough"}), 400,
            "invalid_credentials")
    refused(auth("/token?grant_type=refresh_token", {"refresh_token": "abcdefghijklmnop\u0000"}), 400,
            "validation_failed")
    # Go's bcrypt takes any byte: a password with a NUL is a password like any other
    assert auth("/signup", {"email": email, "password": "pass\u0000word\\x"}).status_code == 200
    assert auth("/token?grant_type=password", {"email": email, "password": "pass\u0000word\\x"}).status_code == 200
    refused(auth("/token?grant_type=password", {"email": email, "password": "pass"}), 400, "invalid_credentials")
    refused(auth("/token?grant_type=password", {"email": email, "password": "pass\u0000word\\\\x"}), 400,
            "invalid_credentials")
    bearer = {"Authorization": "Bearer abc\u0000def".encode().decode("latin-1")}
    response = httpx.get(f"{supabase_stack.url}/auth/v1/user", headers={"apikey": supabase_stack.anon_key})
    assert response.status_code == 403  # (a NUL cannot travel in a header: h11/httptools refuse it)
    del bearer


# -- GoTrue parity ------------------------------------------------------------------------------
def test_user_endpoint_refuses_a_foreign_audience(auth, alice, supabase_stack):
    claims = jwt.decode(alice.token, supabase_stack.jwt_secret, algorithms=["HS256"], audience="authenticated")
    for aud in ("other", ["other"], None):
        forged = dict(claims)
        forged.pop("aud")
        if aud is not None:
            forged["aud"] = aud
        token = jwt.encode(forged, supabase_stack.jwt_secret, algorithm="HS256")
        response = auth("/user", method="GET", headers={"Authorization": f"Bearer {token}"})
        assert refused(response, 400, "validation_failed")["message"] == "Token audience doesn't match request audience"
    assert auth("/user", method="GET", headers={"Authorization": f"Bearer {alice.token}"}).status_code == 200


def test_a_banned_user_gets_user_banned(auth, supabase_stack):
    email, password, user_id = supabase_stack.new_user()
    session = auth("/token?grant_type=password", {"email": email, "password": password}).json()

    def ban(until: str) -> None:
        with psycopg.connect(supabase_stack.db_url, autocommit=True) as conn:
            conn.execute(f"update auth.users set banned_until = now() + interval '{until}' where id = %s", [user_id])

    ban("1 hour")
    body = refused(auth("/token?grant_type=password", {"email": email, "password": password}), 400, "user_banned")
    assert body["message"] == "User is banned"
    body = refused(auth("/token?grant_type=refresh_token", {"refresh_token": session["refresh_token"]}), 400,
                   "user_banned")
    assert body["message"] == "Invalid Refresh Token: User Banned"
    user = auth("/user", method="GET", headers={"Authorization": f"Bearer {session['access_token']}"})
    refused(user, 403, "user_banned")
    ban("-1 hour")  # a ban that ended
    again = auth("/token?grant_type=refresh_token", {"refresh_token": session["refresh_token"]})
    assert again.status_code == 200 and again.json()["user"]["banned_until"]


# -- times, order and authorship a client chooses (20261206100000_client_times, …100100_message_authorship) --
def _thread(rest, user) -> str:
    conversation = str(uuid.uuid4())
    assert rest("POST", "/conversations", token=user.token, json={"id": conversation}).status_code == 201
    return conversation


def _message(rest, user, conversation, **values):
    return rest("POST", "/messages", token=user.token, headers={"Prefer": "return=representation"},
                json={"id": str(uuid.uuid4()), "conversation_id": conversation, "role": "assistant", "content": "x",
                      **values})


def _at(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_a_forged_future_and_an_endless_seq_are_bounded_not_stored(rest, alice):
    from datetime import timedelta

    from local_schema.timestamps import to_micros

    thread = _thread(rest, alice)
    for forged in ("9999-12-31T23:59:59.999999+00:00", "infinity", "2999-01-01T00:00:00Z"):
        response = _message(rest, alice, thread, created_at=forged, seq=9223372036854775807)
        assert response.status_code == 201, response.text
        (row,) = response.json()
        assert _at(row["created_at"]) == _at(row["updated_at"]) + timedelta(minutes=5)
        assert row["seq"] == to_micros(row["updated_at"]) + 86_400_000_000
    # The thread still takes a message after them, and an UPDATE cannot move a row's time or place.
    after = _message(rest, alice, thread, created_at="2026-01-02T03:04:05.000006+00:00")
    (row,) = after.json()
    assert row["created_at"] == "2026-01-02T03:04:05.000006+00:00"
    patched = rest("PATCH", f"/messages?id=eq.{row['id']}", token=alice.token, headers={"Prefer": "return=representation"},
                   json={"created_at": "2001-01-01T00:00:00+00:00", "seq": 1, "content": "edited"})
    assert patched.status_code == 200, patched.text
    (edited,) = patched.json()
    assert (edited["created_at"], edited["seq"], edited["content"]) == (row["created_at"], row["seq"], "edited")


@pytest.mark.parametrize(("values", "code"), [
    ({"created_at": 5}, "22007"),
    ({"created_at": True}, "22007"),
    ({"created_at": "yesterday-ish"}, "22007"),
    ({"created_at": "2026-13-45T00:00:00Z"}, "22008"),
    ({"created_at": {"a": 1}}, "22007"),
    ({"seq": "abc"}, "22P02"),
    ({"seq": 9223372036854775808}, "22003"),
    ({"seq": 0}, "23514"),
    ({"seq": -5}, "23514"),
    ({"model": "m" * 501}, "23514"),
    ({"agent_connection_id": "not-a-uuid"}, "22P02"),
    ({"agent_connection_id": 7}, "22P02"),
])
def test_wrong_times_places_and_authors_are_a_clean_400(rest, alice, values, code):
    response = _message(rest, alice, _thread(rest, alice), **values)
    body = refused(response, 400, code)
    assert set(body) == {"code", "details", "hint", "message"}
    still_serving(rest, alice)


def test_naming_another_users_connection_reveals_nothing(rest, alice, bob):
    secret = str(uuid.uuid4())
    created = rest("POST", "/agent_connections", token=bob.token, json={
        "id": secret, "name": "bob's box", "provider": "custom", "base_url": "http://10.0.0.9/v1",
        "model": "bob-secret-model"})
    assert created.status_code == 201, created.text
    response = _message(rest, alice, _thread(rest, alice), agent_connection_id=secret, model="claimed")
    assert response.status_code == 201 and "bob" not in response.text
    (row,) = response.json()
    assert (row["agent_connection_id"], row["model"]) == (secret, "claimed")
    assert rest("GET", f"/agent_connections?id=eq.{secret}", token=alice.token).json() == []
    mine = rest("GET", f"/agent_connections?id=eq.{secret}&select=name,model", token=bob.token).json()
    assert mine == [{"name": "bob's box", "model": "bob-secret-model"}]


@pytest.mark.parametrize("state", [1, True, ["open"], None, {"v": "open"}])
def test_a_dream_proposal_state_that_is_not_a_string_is_refused(rest, alice, state):
    response = rest("POST", "/dream_reports", token=alice.token, json={
        "id": str(uuid.uuid4()), "kind": "consolidate", "started_at": "2026-11-30T12:00:00+00:00",
        "proposals": [{"id": "p1", "kind": "delete", "state": state}]})
    refused(response, 400, "23514")


@pytest.mark.parametrize("kind", [5, True, ["contains"], None])
def test_a_skill_expectation_kind_that_is_not_a_string_is_refused(rest, alice, kind):
    response = rest("POST", "/skills", token=alice.token, json={
        "id": str(uuid.uuid4()), "name": "s",
        "test_cases": [{"prompt": "p", "expectations": [{"kind": kind, "value": "x"}]}]})
    refused(response, 400, "23514")
# -- the template RPCs (server migration 20261206200000) ----------------------------------------
def _public_template(rest, author) -> str:
    template_id = str(uuid.uuid4())
    made = rest("POST", "/templates", token=author.token, json={
        "id": template_id, "name": "Target", "is_public": True,
        "payload": {"skills": [], "seed_memory": [{"label": "likes tea"}]}})
    assert made.status_code == 201, made.text
    return template_id


def _installs(rest, author, template_id) -> int:
    rows = rest("GET", f"/templates?id=eq.{template_id}&select=installs", token=author.token).json()
    return rows[0]["installs"]


@pytest.mark.parametrize("function", ["install_template", "record_template_install"])
def test_the_template_rpcs_refuse_hostile_input_plainly(rest, alice, bob, function):
    template_id = _public_template(rest, alice)
    private = str(uuid.uuid4())
    rest("POST", "/templates", token=alice.token, json={"id": private, "name": "Private",
                                                        "payload": {"skills": [], "seed_memory": []}})
    path = f"/rpc/{function}"
    for body, status, code in [
        ({}, 404, "PGRST202"),  # no such signature
        ({"template_id": template_id, "author_id": bob.id}, 404, "PGRST202"),  # no extra arguments to smuggle
        ([{"template_id": template_id}], 404, "PGRST202"),
        ({"template_id": "'; drop table public.templates; --"}, 400, "22P02"),
        ({"template_id": 5}, 400, "22P02"),
        ({"template_id": [template_id]}, 400, "22P02"),
        ({"template_id": {"id": template_id}}, 400, "22P02"),
        ({"template_id": template_id + "\u0000"}, 400, "22P05"),
        ({"template_id": None}, 404, "PT404"),
        ({"template_id": private}, 404, "PT404"),  # another author's private template: as if unknown
        ({"template_id": str(uuid.uuid4())}, 404, "PT404"),
    ]:
        refused(rest("POST", path, token=bob.token, json=body), status, code)
    refused(rest("POST", path, json={"template_id": template_id}), 401, "42501")  # the anon key alone
    refused(rest("POST", path, token=bob.token, content=DEEP, headers={"Content-Type": "application/json"}),
            400, "PGRST102")
    refused(rest("POST", path, token=bob.token, json={"template_id": template_id},
                 headers={"Content-Profile": "mirari_private"}), 406, "PGRST106")
    assert _installs(rest, alice, template_id) == 0
    still_serving(rest, alice)


def test_a_user_cannot_inflate_a_templates_installs(rest, alice, bob, supabase_stack):
    """Counted once per user, whatever the route: repeated calls, form bodies, tx=rollback, GET (refused
    as a write in a read-only transaction), and the private table is out of the API's reach."""
    template_id = _public_template(rest, alice)
    path = "/rpc/record_template_install"
    assert rest("POST", path, token=bob.token, json={"template_id": template_id}).json() is True
    for _ in range(5):
        assert rest("POST", path, token=bob.token, json={"template_id": template_id}).json() is False
    assert rest("POST", path, token=bob.token, headers={"Prefer": "tx=rollback"},
                json={"template_id": template_id}).json() is False
    assert rest("POST", path, token=bob.token, headers={"Content-Type": "application/x-www-form-urlencoded"},
                content=f"template_id={template_id}").json() is False
    as_get = rest("GET", f"{path}?template_id={template_id}", token=bob.token)  # PostgreSQL's own words, as PostgREST
    assert (as_get.status_code, as_get.json()["code"]) == (405, "25006")
    assert as_get.json()["message"] == "cannot execute SELECT FOR UPDATE in a read-only transaction"
    refused(rest("GET", "/template_installs", token=bob.token), 404, "PGRST205")
    refused(rest("GET", "/template_installs", token=bob.token, headers={"Accept-Profile": "mirari_private"}),
            406, "PGRST106")
    # the author cannot write the count either: the stamping trigger keeps it
    patched = rest("PATCH", f"/templates?id=eq.{template_id}", token=alice.token, json={"installs": 10_000},
                   headers={"Prefer": "return=representation"})
    assert patched.status_code == 200 and patched.json()[0]["installs"] == 1
    # an install read (install_template) counts nothing at all
    for _ in range(3):
        assert rest("POST", "/rpc/install_template", token=bob.token, json={"template_id": template_id}).status_code == 200
    assert _installs(rest, alice, template_id) == 1
    still_serving(rest, alice)
