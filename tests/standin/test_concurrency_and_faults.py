"""Many requests in flight, clients that vanish mid-request, and the injected faults sync tests rely on."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

IN_FLIGHT = 16


@pytest.fixture
def db(supabase_stack):
    with psycopg.connect(supabase_stack.db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def helpers(db, scratch_table):
    """rpc functions: a barrier that only returns once `n` callers are inside it at the same time, and a
    slow write (insert into the scratch table, then sleep) to disconnect from."""
    db.execute(f"""
        create sequence public.barrier_released;  -- nextval() is seen by everyone at once
        create or replace function public.barrier(n int) returns int language plpgsql security definer
        set search_path = '' as $$
        declare started timestamptz := clock_timestamp(); seen int;
        begin
          loop
            perform pg_catalog.pg_stat_clear_snapshot();  -- activity is otherwise frozen per transaction
            select count(*) into seen from pg_catalog.pg_stat_activity
             where state = 'active' and query like '%%barrier%%' and backend_type = 'client backend'
               and usename = 'authenticator';
            if seen >= n then
              perform pg_catalog.nextval('public.barrier_released');
              return seen;
            end if;
            if (select is_called from public.barrier_released) then
              return n;  -- someone saw all n callers inside at once
            end if;
            if clock_timestamp() - started > interval '7 seconds' then
              raise exception 'only % of % callers arrived', seen, n;
            end if;
            perform pg_catalog.pg_sleep(0.02);
          end loop;
        end $$;
        grant execute on function public.barrier(int) to authenticated;
        create or replace function public.slow_write(row_id int, seconds float8) returns int language sql as $$
          insert into public.{scratch_table} (id, note) values (row_id, 'slow');
          select pg_catalog.pg_sleep(seconds);
          select row_id;
        $$;
        grant execute on function public.slow_write(int, float8) to authenticated;
    """)
    yield
    db.execute("drop function public.barrier(int); drop function public.slow_write(int, float8); "
               "drop sequence public.barrier_released")


def _post(stack, user, path, body, timeout=30.0):
    return httpx.post(f"{stack.url}/rest/v1{path}", json=body, timeout=timeout,
                      headers={"apikey": stack.anon_key, "Authorization": f"Bearer {user.token}"})


def test_sixteen_requests_are_in_flight_at_once(supabase_stack, alice, helpers):
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    headers = {"apikey": supabase_stack.anon_key, "Authorization": f"Bearer {alice.token}"}
    with httpx.Client(base_url=f"{supabase_stack.url}/rest/v1", headers=headers, limits=limits, timeout=30) as http, \
            ThreadPoolExecutor(IN_FLIGHT) as pool:
        responses = list(pool.map(lambda _: http.post("/rpc/barrier", json={"n": IN_FLIGHT}), range(IN_FLIGHT)))
    assert [r.status_code for r in responses] == [200] * IN_FLIGHT, responses[0].text
    assert all(r.json() >= IN_FLIGHT for r in responses)


def _transactions_of_api_role(db) -> list[tuple]:
    return db.execute("select state, query from pg_stat_activity where usename = 'authenticator' "
                      "and (state like 'idle in transaction%%' or query like '%%slow_write%%' and state = 'active')"
                      ).fetchall()


def test_a_client_that_disconnects_leaves_no_open_transaction(supabase_stack, alice, helpers, db, scratch_table):
    with pytest.raises(httpx.ReadTimeout):
        _post(supabase_stack, alice, "/rpc/slow_write", {"row_id": 7, "seconds": 5}, timeout=0.5)
    deadline = time.monotonic() + 5
    while _transactions_of_api_role(db) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _transactions_of_api_role(db) == []  # cancelled and rolled back, long before the sleep ends
    assert db.execute(f"select count(*) from public.{scratch_table}").fetchone()[0] == 0
    # the server is healthy afterwards
    assert _post(supabase_stack, alice, "/rpc/slow_write", {"row_id": 8, "seconds": 0}).json() == 8


def test_drop_response_after_commit(supabase_stack, alice, db):
    supabase_stack.faults.drop_response_after_commit("POST", "/rest/v1/tasks")
    row_id = str(uuid.uuid4())
    with pytest.raises(httpx.RemoteProtocolError):
        _post(supabase_stack, alice, "/tasks", {"id": row_id, "title": "committed"})
    assert db.execute("select title from public.tasks where id = %s", [row_id]).fetchone() == ("committed",)
    assert supabase_stack.faults.hits("drop") == 1
    # times=1: the retry gets its answer (a duplicate, as a sync client must expect)
    retry = _post(supabase_stack, alice, "/tasks", {"id": row_id, "title": "committed"})
    assert retry.status_code == 409


def test_drop_response_through_the_official_client(supabase_stack, alice):
    supabase_stack.faults.drop_response_after_commit("POST", "/auth/v1/token")
    with pytest.raises(Exception) as err:
        alice.client.auth.refresh_session()
    assert "disconnect" in str(err.value).lower() or "connection" in str(err.value).lower()
    # the lost refresh rotated the token; presenting the old one again returns the active one
    supabase_stack.set_refresh_token_reuse_interval(0)
    again = alice.client.auth.refresh_session(alice.session.refresh_token).session
    assert again.access_token


def test_fail_next_answers_before_touching_the_database(supabase_stack, alice, db):
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 503, {"message": "try later"}, times=2)
    row = {"id": str(uuid.uuid4()), "title": "t"}
    for _ in range(2):
        failed = _post(supabase_stack, alice, "/tasks", row)
        assert failed.status_code == 503 and failed.json() == {"message": "try later"}
    assert db.execute("select count(*) from public.tasks where id = %s", [row["id"]]).fetchone()[0] == 0
    assert _post(supabase_stack, alice, "/tasks", row).status_code == 201


def test_delay_and_clear(supabase_stack, alice):
    supabase_stack.faults.delay("GET", "/rest/v1/tasks", 5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{supabase_stack.url}/rest/v1/tasks", timeout=0.3,
                  headers={"apikey": supabase_stack.anon_key, "Authorization": f"Bearer {alice.token}"})
    supabase_stack.faults.clear()
    fast = httpx.get(f"{supabase_stack.url}/rest/v1/tasks", timeout=3,
                     headers={"apikey": supabase_stack.anon_key, "Authorization": f"Bearer {alice.token}"})
    assert fast.status_code == 200


def test_lost_database_connections_answer_503_then_recover(supabase_stack, alice, db):
    headers = {"apikey": supabase_stack.anon_key, "Authorization": f"Bearer {alice.token}"}
    with httpx.Client(base_url=f"{supabase_stack.url}/rest/v1", headers=headers, timeout=10) as http:
        assert http.get("/tasks").status_code == 200
        killed = db.execute("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                            "where usename = 'authenticator'").fetchone()[0]
        assert killed >= 1
        statuses = [http.get("/tasks") for _ in range(3)]
    failures = [r for r in statuses if r.status_code != 200]
    # PostgREST's answer while reconnecting (clients retry GETs on 503); the dead connections are purged
    assert all(r.status_code == 503 and r.json()["code"] == "PGRST001" for r in failures)
    assert statuses[-1].status_code == 200


def test_failed_writes_mixed_with_reads_never_break_later_statements(supabase_stack, alice):
    # Regression: statements were prepared inside a pipeline; after errors there psycopg's record of
    # prepared statements drifted from the server's and later requests failed with 26000.
    headers = {"apikey": supabase_stack.anon_key, "Authorization": f"Bearer {alice.token}"}
    ids = [str(uuid.uuid4()) for _ in range(8)]
    with httpx.Client(base_url=f"{supabase_stack.url}/rest/v1", headers=headers, timeout=30) as http, \
            ThreadPoolExecutor(4) as pool:
        def one(i: int) -> httpx.Response:
            if i % 3 == 0:  # breaks the status check constraint: 400 23514
                return http.post("/tasks", json={"title": "bad", "status": "nope"})
            return http.get("/tasks", params={"select": "id", "id": f"in.({','.join(ids[: 1 + i % 8])})"})

        responses = list(pool.map(one, range(240)))
    codes = {(r.status_code, r.json().get("code") if r.status_code >= 400 else None) for r in responses}
    assert codes == {(400, "23514"), (200, None)}, [r.text for r in responses if r.status_code not in (200, 400)]
