"""pytest fixtures for the Supabase stand-in.

- `supabase_stack_session` (session): one running stand-in (HTTP server on a background thread of the
  test process) in front of a database cloned from the real-schema template of `pg_cluster`.
- `supabase_stack` (per test): the same stack; after each test the fault rules, token lifetime, reuse
  interval and clock skew are reset. Tests isolate themselves by creating their own users (`new_user`).

The object has url, anon_key, service_role_key, jwt_secret, db_url (superuser DSN), and:
  new_user(email=None, password=DEFAULT_PASSWORD) -> (email, password, user_id)  via the real /signup
  client(key=None, **ClientOptions) -> official supabase.Client (anon key; auto_refresh_token off
      unless passed)
  service_client(**ClientOptions) -> the same with the service_role key
  set_access_token_ttl(seconds)          GoTrue's jwt_expiry for tokens issued from now on
  set_refresh_token_reuse_interval(s)    GoTrue's refresh_token_reuse_interval (default 10 s)
  set_jwt_clock_skew(seconds)            PostgREST's tolerance past `exp` (default 30 s)
  revoke_refresh_tokens(user_id)         admin sign-out: the user's sessions and refresh tokens are gone
  faults (standin.faults.Faults), rules match method ("*" = any) + full-path prefix:
      drop_response_after_commit(method, path_prefix, times=1)  work done and committed, then the TCP
          connection is aborted with no response (client: "Server disconnected")
      fail_next(method, path_prefix, status, body=None, times=1)  answer before touching the database
      delay(method, path_prefix, seconds, times=None)  sleep before handling (until cleared by default)
      clear(); hits(kind=None) -> how many requests the rules fired on ("drop" | "fail" | "delay")
  Realtime (standin/realtime.py):
      realtime_url                            ws://…/realtime/v1/websocket
      drop_realtime_sockets() -> n            every socket's TCP connection cut (a network drop)
      mute_heartbeats(on=True)                heartbeats go unanswered (a hung server)
      stats() -> {"http_requests", "realtime": {…}}   the stand-in's counters
  restart(down_for=0.0)                       stop serving and serve again on the same port and keys
"""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from standin import tokens
from standin.faults import Faults
from standin.schema import clone_database, database_name, drop_database
from standin.server import StandIn, add_auth_tables

DEFAULT_PASSWORD = "correct-horse-battery"


class SupabaseStack:
    def __init__(self, standin: StandIn):
        self._standin = standin
        info = standin.info
        self.url, self.anon_key, self.service_role_key = info.url, info.anon_key, info.service_role_key
        self.jwt_secret, self.db_url = info.jwt_secret, info.db_url
        self.faults: Faults = standin.faults

    def new_user(self, email: str | None = None, password: str = DEFAULT_PASSWORD) -> tuple[str, str, str]:
        email = email or f"user-{uuid.uuid4().hex[:12]}@example.test"
        response = httpx.post(f"{self.url}/auth/v1/signup", json={"email": email, "password": password},
                              headers={"apikey": self.anon_key}, timeout=30)
        response.raise_for_status()
        return email, password, response.json()["user"]["id"]

    def client(self, key: str | None = None, **options):
        """The official client, as an app would create it (in-memory session storage)."""
        from supabase import ClientOptions, create_client

        options.setdefault("auto_refresh_token", False)  # no timer threads left behind by tests
        return create_client(self.url, key or self.anon_key, options=ClientOptions(**options))

    def service_client(self, **options):
        return self.client(self.service_role_key, **options)

    def set_access_token_ttl(self, seconds: int) -> None:
        self._standin.set_access_token_ttl(seconds)

    def set_refresh_token_reuse_interval(self, seconds: float) -> None:
        self._standin.auth.reuse_interval = seconds

    def set_jwt_clock_skew(self, seconds: float) -> None:
        """PostgREST accepts tokens up to 30 s past `exp`; tests of expiry may want 0."""
        self._standin.gateway.clock_skew = seconds

    def revoke_refresh_tokens(self, user_id: str) -> None:
        self._standin.revoke_refresh_tokens(user_id)

    @property
    def realtime_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/realtime/v1/websocket"

    def drop_realtime_sockets(self) -> int:
        async def drop():
            return self._standin.realtime.drop_sockets()
        return self._standin.call(drop())

    def mute_heartbeats(self, on: bool = True) -> None:
        self._standin.realtime.mute_heartbeats = on

    def stats(self) -> dict:
        response = httpx.get(f"{self.url}/standin/v1/stats", headers={"apikey": self.service_role_key}, timeout=30)
        response.raise_for_status()
        return response.json()

    def restart(self, down_for: float = 0.0) -> None:
        self._standin.restart(down_for)

    def reset(self) -> None:
        if self._standin.realtime is not None:
            self._standin.realtime.mute_heartbeats = False
        self.faults.clear()
        self._standin.set_access_token_ttl(3600)
        self._standin.auth.reuse_interval = 10.0
        self._standin.gateway.clock_skew = tokens.CLOCK_SKEW


@pytest.fixture(scope="session")
def supabase_stack_session(pg_cluster, server_template):
    admin = pg_cluster.dsn()
    dsn = clone_database(admin, server_template, f"supabase_standin_{uuid.uuid4().hex[:8]}")
    add_auth_tables(dsn)
    # PostgREST's login role, over the Unix socket where there is one (see PostgresCluster.fast_host)
    rest_dsn = psycopg.conninfo.make_conninfo(dsn, user="authenticator", host=pg_cluster.fast_host)
    standin = StandIn(admin_dsn=dsn, rest_dsn=rest_dsn).start_in_thread()
    try:
        yield SupabaseStack(standin)
    finally:
        standin.stop()
        drop_database(admin, database_name(dsn))


@pytest.fixture
def supabase_stack(supabase_stack_session):
    yield supabase_stack_session
    supabase_stack_session.reset()
