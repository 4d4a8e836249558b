"""A table with awkward names and every type the grammar's operators care about, rows for two users,
and the oracle: the equivalent SQL run directly in PostgreSQL as PostgREST's login role, with the same
role and JWT claims, so RLS and grants decide exactly as they do behind the stand-in."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import httpx
import jwt
import psycopg

from standin.impersonate import ApiSession

TABLE_SQL = """
create table public.{t} (
    id int primary key,
    user_id uuid not null default auth.uid() references auth.users(id) on delete cascade,
    name text,
    "two words" text,
    "odd.name" text,
    "a,b" int,
    score numeric,
    flag boolean,
    tags text[],
    data jsonb,
    body text,
    doc tsvector generated always as (to_tsvector('english', coalesce(body, ''))) stored,
    span int4range,
    status text not null default 'fresh',
    updated_at timestamptz not null default '2026-01-01T00:00:00Z'
);
alter table public.{t} enable row level security;
create policy own on public.{t} for all to authenticated
    using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
grant select, insert, update, delete on public.{t} to authenticated;

create function public.{t}_named(pattern text, lim int default 100) returns setof public.{t}
    language sql stable as $$ select * from public.{t} where name like pattern order by id limit lim $$;
create function public.{t}_heads() returns table(owner uuid, head timestamptz, n bigint)
    language sql stable as $$ select user_id, max(updated_at), count(*) from public.{t} group by user_id $$;
create function public.{t}_total(min_score numeric default 0) returns bigint
    language sql stable as $$ select count(*) from public.{t} where score >= min_score $$;
create function public.{t}_ids() returns setof int language sql stable as $$ select id from public.{t} order by id $$;
create function public.{t}_body(jsonb) returns jsonb language sql immutable as $$ select $1 $$;
create function public.{t}_touch(target int) returns void language sql as
    $$ update public.{t} set status = 'touched' where id = target $$;
create function public.{t}_over(a int) returns text language sql immutable as $$ select 'int' $$;
create function public.{t}_over(a text, b text default '') returns text language sql immutable as $$ select 'text' $$;
grant execute on all functions in schema public to authenticated;
"""

# (id, name, "two words", "odd.name", "a,b", score, flag, tags, data, body, span, updated_at)
ROWS = [
    (1, "alpha", "x", "p", 1, 1.5, True, ["red", "green"], {"a": 1, "b": "one", "arr": [10, 20]},
     "The quick brown fox jumps", "[1,5)", "2026-01-01T00:00:00+00:00"),
    (2, "beta", "y", "q", 2, 2.5, False, ["green"], {"a": 2, "b": "two", "arr": [30]},
     "Lazy dogs sleep all day", "[5,10)", "2026-01-02T00:00:00+00:00"),
    (3, "gamma, with comma", None, "r", 3, None, None, [], {"a": 3, "nested": {"k": "v"}},
     "Foxes are quick and brown", "[10,20)", "2026-01-02T00:00:00+00:00"),
    (4, "delta (paren)", "x", None, None, 4.0, True, None, None, None, None, "2026-01-03T00:00:00+00:00"),
    (5, 'quote "q" here', "z", "s", 5, 5.5, False, ["blue"], {"a": 5, "b": None}, "quick fox", "[3,4)",
     "2026-01-02T00:00:00+00:00"),
    (6, "Alpha upper", "x", "t", 6, 0, True, ["red"], {"b": "six"}, "The fox", "empty", "2026-01-04T00:00:00+00:00"),
    (7, None, None, None, 7, 7.25, None, ["red", "blue"], {"a": [1, 2]}, "brown dogs", "[0,1)",
     "2026-01-04T00:00:00+00:00"),
    (8, "back\\slash", "y", "u", 8, 8, False, ["x,y"], {"a": "8"}, "jumps over", "[7,8)", "2026-01-05T00:00:00+00:00"),
]
BOB_ROWS = [(101, "alpha"), (102, "beta"), (103, "bob only")]


@dataclass
class Person:
    id: str
    token: str
    claims: dict


@dataclass
class Grammar:
    url: str
    anon_key: str
    db_url: str
    table: str
    alice: Person
    bob: Person
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    sessions: dict = field(default_factory=dict)  # person id -> ApiSession (one connection each)

    def get(self, query: str | dict, who: Person | None = None, headers: dict | None = None,
            method: str = "GET", path: str | None = None, **kwargs) -> httpx.Response:
        who = who or self.alice
        base = {"apikey": self.anon_key, "Authorization": f"Bearer {who.token}"}
        target = f"{self.url}/rest/v1/{path or self.table}"
        if isinstance(query, str):
            target += "?" + query if query else ""
            query = None
        return self.http.request(method, target, params=query, headers={**base, **(headers or {})}, **kwargs)

    def session(self, who: Person) -> ApiSession:
        if who.id not in self.sessions:
            self.sessions[who.id] = ApiSession(self.db_url, who.id, claims=dict(who.claims))
        return self.sessions[who.id]

    def oracle(self, sql: str, params=None, who: Person | None = None) -> list:
        """The rows of `sql` as json_agg renders them, run as PostgREST's login role with the person's
        role and claims (standin/impersonate.py)."""
        row = self.session(who or self.alice).one(f"select coalesce(json_agg(_o), '[]')::text as j from ({sql}) _o",
                                                  params)
        return json.loads(row["j"])

    def oracle_value(self, sql: str, params=None, who: Person | None = None):
        row = self.session(who or self.alice).one(sql, params)
        return next(iter(row.values())) if row else None


def _person(url: str, anon_key: str, jwt_secret: str) -> Person:
    email = f"gram-{uuid.uuid4().hex[:10]}@example.test"
    session = httpx.post(f"{url}/auth/v1/signup", json={"email": email, "password": "grammar-pw"},
                         headers={"apikey": anon_key}, timeout=30).json()
    claims = jwt.decode(session["access_token"], jwt_secret, algorithms=["HS256"], audience="authenticated")
    return Person(session["user"]["id"], session["access_token"], claims)


def make_grammar(stack) -> Grammar:
    table = f"gram_{uuid.uuid4().hex[:8]}"
    alice = _person(stack.url, stack.anon_key, stack.jwt_secret)
    bob = _person(stack.url, stack.anon_key, stack.jwt_secret)
    with psycopg.connect(stack.db_url, autocommit=True) as conn:
        conn.execute(TABLE_SQL.format(t=table))
        for r in ROWS:
            conn.execute(
                f'insert into public.{table} (id, user_id, name, "two words", "odd.name", "a,b", score, flag, tags, '
                "data, body, span, updated_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [r[0], alice.id, *r[1:8], None if r[8] is None else json.dumps(r[8]), *r[9:]])
        for rid, name in BOB_ROWS:
            conn.execute(f"insert into public.{table} (id, user_id, name) values (%s, %s, %s)", [rid, bob.id, name])
    return Grammar(stack.url, stack.anon_key, stack.db_url, table, alice, bob)


def drop_grammar(stack, grammar: Grammar) -> None:
    grammar.http.close()
    for session in grammar.sessions.values():
        session.close()
    with psycopg.connect(stack.db_url, autocommit=True) as conn:
        conn.execute(f"drop table public.{grammar.table} cascade")
        for (fn,) in conn.execute("select p.oid::regprocedure::text from pg_proc p where proname like %s",
                                  [grammar.table + "%"]).fetchall():
            conn.execute(f"drop function {fn}")
