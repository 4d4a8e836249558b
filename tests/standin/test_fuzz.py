"""Seeded random requests built from the grammar's own pieces (and broken ones): the stand-in must never
answer 5xx, never show SQL or Python, and keep serving. Cheap enough for every run (~400 requests)."""

from __future__ import annotations

import json
import random

import httpx
import pytest

from tests.standin.grammar_fixture import drop_grammar, make_grammar

LEAKS = ("Traceback", "psycopg", "LINE 1", "Error(", "stand-in error")
COLS = ["id", "name", "score", "tags", "data", "doc", "span", "updated_at", '"two words"', '"odd.name"', "data->a",
        "data->>b", "data->arr->0", "nope", '"a,b"', "x y", "*"]
OPS = ["eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "in", "is", "isdistinct", "cs", "cd",
       "ov", "sl", "sr", "nxr", "nxl", "adj", "fts", "plfts", "phfts", "wfts", "fts(english)", "eq(any)", "like(all)",
       "bogus", ""]
VALUES = ["1", "abc", "", "(1,2)", '("a,b",c)', "{1,2}", "[1,5)", "null", "TRUE", "not_null", "2026-01-01", "\x00",
          "*x*", '"q"', "\\", "'", "(", ")", ",", "1.5e9", "-1", "{}", "x" * 40]
JUNK = list("(),.:\"'!*->{}[]\\ %&=") + ["not.", "or(", "and(", "::", "->>"]
BODIES = [b"", b"{}", b"[]", b"[{}]", b'{"id": 901, "name": "x"}', b'[{"id": 902}, {"id": 903}]', b'{"nope": 1}',
          b"[1,2]", b"5", b"null", b'{"id": "x"}', b'{"data": {"a": [1]}}', "{}".encode("utf-16"), b"\xff\xfe",
          b"[[[[", b'{"a":1', b'{"id": 904, "tags": "notarray"}', b'[{"id":905},{"name":"x"}]', b"[" * 3000]
PREFERS = ["return=representation", "return=minimal", "return=headers-only", "count=exact", "count=planned",
           "count=estimated", "resolution=merge-duplicates", "resolution=ignore-duplicates", "missing=default",
           "handling=strict", "max-affected=1", "timezone=UTC", "timezone=bad", "tx=rollback", "x=y"]


class Requests:
    def __init__(self, seed: int, table: str):
        self.rng, self.table = random.Random(seed), table

    def fragment(self, depth: int = 0) -> str:
        r = self.rng
        k = r.random()
        if k < 0.5 or depth > 3:
            return f"{r.choice(COLS)}.{'not.' if r.random() < .2 else ''}{r.choice(OPS)}.{r.choice(VALUES)}"
        if k < 0.8:
            inner = ",".join(self.fragment(depth + 1) for _ in range(r.randint(0, 3)))
            return f"{r.choice(['and', 'or', 'not.and', 'not.or'])}({inner})"
        return "".join(r.choice(JUNK + COLS) for _ in range(r.randint(1, 6)))

    def param(self) -> tuple[str, str]:
        r = self.rng
        k = r.random()
        if k < 0.35:
            return r.choice(COLS), f"{'not.' if r.random() < .2 else ''}{r.choice(OPS)}.{r.choice(VALUES)}"
        if k < 0.55:
            return (r.choice(["or", "and", "not.or", "x.or"]),
                    "(" + ",".join(self.fragment() for _ in range(r.randint(0, 4))) + ")")
        if k < 0.7:
            items = COLS + ["a:id", "id::text", "score::int", "id::nope", "x:data->a::text", "count()", "r(*)", ""]
            return "select", ",".join(r.choice(items) for _ in range(r.randint(0, 4)))
        if k < 0.8:
            ends = ["", ".asc", ".desc", ".nullsfirst", ".desc.nullslast", ".x"]
            return "order", ",".join(r.choice(COLS) + r.choice(ends) for _ in range(r.randint(1, 3)))
        if k < 0.9:
            return r.choice(["limit", "offset", "columns", "on_conflict"]), r.choice(VALUES + ["id,name", '"id"'])
        return "".join(r.choice(JUNK) for _ in range(3)), "".join(r.choice(JUNK) for _ in range(4))

    def request(self) -> tuple[str, str, list, dict, bytes | None]:
        r = self.rng
        method = r.choice(["GET", "GET", "GET", "HEAD", "POST", "POST", "PATCH", "DELETE", "PUT"])
        path = r.choice([self.table, self.table, f"rpc/{self.table}_named", f"rpc/{self.table}_total",
                         f"rpc/{self.table}_ids", "rpc/nope"])
        headers = {}
        if r.random() < .6:
            headers["Prefer"] = ",".join(r.choice(PREFERS) for _ in range(r.randint(1, 3)))
        if r.random() < .2:
            headers["Accept"] = r.choice(["application/vnd.pgrst.object+json", "text/csv", "*/*", "x",
                                          "application/vnd.pgrst.object+json;nulls=stripped"])
        if r.random() < .2:
            headers["Range"] = r.choice(["0-1", "5-2", "3-", "x", "1-1"])
        if r.random() < .1:
            headers["Content-Type"] = r.choice(["text/csv", "application/x-www-form-urlencoded", "text/plain"])
        body = r.choice(BODIES) if method in ("POST", "PATCH", "PUT") else None
        return method, path, [self.param() for _ in range(r.randint(0, 4))], headers, body


@pytest.fixture(scope="module")
def g(supabase_stack_session):
    grammar = make_grammar(supabase_stack_session)
    yield grammar
    drop_grammar(supabase_stack_session, grammar)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_requests_never_fail_the_server(g, seed):
    requests = Requests(seed, g.table)
    statuses: dict[int, int] = {}
    for _ in range(200):
        method, path, params, headers, body = requests.request()
        try:
            response = g.get(params, method=method, path=path, headers=headers, content=body)
        except httpx.InvalidURL:
            continue
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (method, path, params, headers, body, response.text)
        for leak in LEAKS:
            assert leak not in response.text, (method, path, params, response.text)
        if response.status_code >= 400 and response.content:
            assert set(json.loads(response.content)) == {"code", "details", "hint", "message"}
    assert sum(n for s, n in statuses.items() if s < 300) >= 10, statuses  # not only refusals
    assert g.get("select=id&id=eq.1").json() == [{"id": 1}]


# -- the real schema's client-chosen values: times, order, authorship, proposal states, expectation kinds --
ODD = [None, True, False, 0, -1, 1.5, 1e30, 2**63 - 1, 2**63, "", "x", "\u00e9", "\x00", "null", "infinity",
       "-infinity", "now", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+00:00", "2026-02-30T00:00:00Z",
       "2026-11-02T18:21:07.123457+00:00", "2026-11-02 18:21:07+05:30", [], ["open"], {}, {"a": 1},
       "open", "accepted", "contains", "is_json", "m" * 501, "m" * 500, "00000000-0000-4000-8000-000000000000"]


# Plausible values per column, some at or past the server's bounds (far future, endless seq, 501 chars).
LIKELY = {
    "created_at": ["2026-11-02T18:21:07.123457+00:00", "2026-11-02 18:21:07+05:30", "2999-01-01T00:00:00Z",
                   "infinity", "-infinity", "1969-12-31T23:59:59Z", "0001-01-01T00:00:00+00:00", None],
    "seq": [1, 1_700_000_000_000_000, 2**62, 2**63 - 1, None],
    "model": ["hermes3", "m" * 500, "m" * 501, "é" * 300, None],
    "agent_connection_id": ["00000000-0000-4000-8000-000000000000", None],
    "state": ["open", "accepted", "rejected"],
    "kind": ["contains", "not_contains", "regex", "is_json", "max_chars"],
    "value": ["x", 5, 0, None],
}


def _pick(rng: random.Random, column: str):
    return rng.choice(LIKELY[column]) if rng.random() < .8 else rng.choice(ODD)


def _fuzzed_row(rng: random.Random, table: str, conversation: str) -> dict:
    row: dict = {"id": str(__import__("uuid").uuid4()), "created_at": _pick(rng, "created_at")}
    if table == "messages":
        row.update(conversation_id=conversation, role=rng.choice(["user", "assistant"]), content="fuzz")
        for col in ("seq", "model", "agent_connection_id"):
            if rng.random() < .8:
                row[col] = _pick(rng, col)
    elif table == "dream_reports":
        row.update(kind="consolidate", started_at="2026-11-30T12:00:00+00:00",
                   proposals=[{"id": "p", "state": _pick(rng, "state")} for _ in range(rng.randint(0, 2))])
    else:  # skills
        row.update(name="fuzz", test_cases=[{"prompt": "p", "expectations": [
            {"kind": _pick(rng, "kind"), "value": _pick(rng, "value")} for _ in range(rng.randint(1, 2))]}])
    return row


def _holds(table: str, row: dict) -> None:
    """What every stored row obeys, whatever was sent."""
    from datetime import datetime, timedelta

    from local_schema.timestamps import to_micros

    created, stamp = datetime.fromisoformat(row["created_at"]), datetime.fromisoformat(row["updated_at"])
    assert datetime.fromisoformat("1970-01-01T00:00:00+00:00") <= created <= stamp + timedelta(minutes=5), row
    if table == "messages":
        assert 0 < row["seq"] <= to_micros(row["updated_at"]) + 86_400_000_000, row
        assert row["model"] is None or (isinstance(row["model"], str) and len(row["model"]) <= 500), row
    elif table == "dream_reports":
        assert all(p["state"] in ("open", "accepted", "rejected") for p in row["proposals"]), row
    else:
        kinds = [e["kind"] for c in row["test_cases"] for e in c["expectations"]]
        assert all(k in ("contains", "not_contains", "regex", "max_chars", "is_json") for k in kinds), row


@pytest.mark.parametrize("seed", [1, 2])
def test_random_client_values_are_stored_within_bounds_or_refused_cleanly(supabase_stack, seed):
    """~80 inserts of odd values into the columns a client chooses, through the stand-in as a signed-in
    user: never a 5xx or a leak, and every stored row keeps the server's bounds."""
    email, password, _ = supabase_stack.new_user()
    client = supabase_stack.client()
    token = client.auth.sign_in_with_password({"email": email, "password": password}).session.access_token
    headers = {"apikey": supabase_stack.anon_key, "Authorization": f"Bearer {token}",
               "Prefer": "return=representation"}
    rest = f"{supabase_stack.url}/rest/v1"
    conversation = str(__import__("uuid").uuid4())
    assert httpx.post(f"{rest}/conversations", headers=headers, json={"id": conversation}).status_code == 201
    rng = random.Random(seed)
    statuses: dict[int, int] = {}
    for _ in range(40):
        table = rng.choice(["messages", "messages", "dream_reports", "skills"])
        response = httpx.post(f"{rest}/{table}", headers=headers, json=_fuzzed_row(rng, table, conversation),
                              timeout=30)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code in (201, 400), (table, response.status_code, response.text)
        for leak in LEAKS:
            assert leak not in response.text, response.text
        if response.status_code == 201:
            _holds(table, response.json()[0])
        else:
            assert set(response.json()) == {"code", "details", "hint", "message"}
    assert statuses.get(201, 0) >= 5 and statuses.get(400, 0) >= 5, statuses  # both paths were tried
# -- the template RPCs: random bodies and headers from several users ---------------------------------
TEMPLATE_BODIES = [b"", b"{}", b"[]", b"null", b"5", b'"x"', b'{"template_id": null}', b'{"template_id": 5}',
                   b'{"template_id": "nope"}', b'{"template_id": []}', b'{"template_id": {}}', b"[" * 3000,
                   "{}".encode("utf-16"), b"\xff\xfe", b'{"template_id": "\\u0000"}', b'{"template_id": "%s", "x": 1}',
                   b'{"template_id": "%s"}', b'{"template_id": "%s"}', b'{"template_id": "%s"}', b'[{"template_id": "%s"}]',
                   b'{"template_id": "%s ' + b"x" * 200 + b'"}', b'{"template_id": "%s"']


@pytest.mark.parametrize("seed", [3])
def test_random_template_rpc_calls_never_fail_the_server_or_inflate_installs(supabase_stack, seed):
    import uuid

    from tests.standin.conftest import User

    rng = random.Random(seed)
    author, *users = [User(supabase_stack) for _ in range(4)]
    base = f"{supabase_stack.url}/rest/v1"

    def headers(user, extra=None):
        return {"apikey": supabase_stack.anon_key, **({"Authorization": f"Bearer {user.token}"} if user else {}),
                **(extra or {})}

    targets = []
    for public in (True, True, False):
        template_id = str(uuid.uuid4())
        made = httpx.post(f"{base}/templates", headers=headers(author), json={
            "id": template_id, "name": "T", "is_public": public, "payload": {"skills": [], "seed_memory": []}})
        assert made.status_code == 201, made.text
        targets.append(template_id)
    counted: dict[str, list[str]] = {t: [] for t in targets}
    for _ in range(100):
        user = rng.choice([*users, author, None])
        function = rng.choice(["install_template", "record_template_install"])
        target = rng.choice(targets + [str(uuid.uuid4())])
        body = rng.choice(TEMPLATE_BODIES)
        body = body.replace(b"%s", target.encode()) if b"%s" in body else body
        extra = {"Content-Type": rng.choice(["application/json", "application/json", "text/plain",
                                             "application/x-www-form-urlencoded"])}
        if rng.random() < .2:
            extra["Prefer"] = rng.choice(PREFERS)
        method = rng.choice(["POST", "POST", "POST", "GET", "PATCH"])
        response = httpx.request(method, f"{base}/rpc/{function}", headers=headers(user, extra),
                                 params={"template_id": target} if method == "GET" else None,
                                 content=body if method != "GET" else None, timeout=30)
        assert response.status_code < 500, (method, function, body, response.text)
        for leak in LEAKS:
            assert leak not in response.text, response.text
        if response.status_code >= 400 and response.content:
            assert set(json.loads(response.content)) == {"code", "details", "hint", "message"}
        elif function == "record_template_install" and response.json() is True:
            counted[target].append(user.id)
    for user in [*users, author]:  # and plainly, after the noise: each user counts once at most
        response = httpx.post(f"{base}/rpc/record_template_install", headers=headers(user),
                              json={"template_id": targets[0]})
        assert response.json() is (user.id not in counted[targets[0]])
        if response.json() is True:
            counted[targets[0]].append(user.id)
    for template_id in targets:
        rows = httpx.get(f"{base}/templates?id=eq.{template_id}&select=installs", headers=headers(author)).json()
        assert len(counted[template_id]) == len(set(counted[template_id]))  # nobody counted twice
        assert rows[0]["installs"] == len(counted[template_id])
    assert len(counted[targets[0]]) == 4
