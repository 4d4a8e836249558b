"""Fixtures that start the real PostgreSQL 15 cluster and give tests databases with the real schema.

- `pg_cluster` (session): one throwaway cluster.
- `server_template` (session): name of a template database holding scaffolding + all migrations,
  built once per cluster.
- `server_db`: dsn (superuser) of a fresh database cloned from that template, dropped afterwards.
- `make_user`: factory creating an auth.users row in `server_db`; returns the user id.
- `as_user`: factory `as_user(user_id, role="authenticated")` → `ApiSession` acting as PostgREST would.
"""

from __future__ import annotations

import pytest

from tests.supabase_local.cluster import PostgresCluster
from tests.supabase_local.impersonate import ApiSession, create_auth_user
from tests.supabase_local.schema import build_template, clone_database, database_name, drop_database


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway cluster per test session; databases inside it are created per test as needed."""
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def server_template(pg_cluster) -> str:
    return build_template(pg_cluster.dsn())


@pytest.fixture
def server_db(pg_cluster, server_template):
    dsn = clone_database(pg_cluster.dsn(), server_template)
    yield dsn
    drop_database(pg_cluster.dsn(), database_name(dsn))


@pytest.fixture
def make_user(server_db):
    def make(email: str | None = None) -> str:
        return create_auth_user(server_db, email)
    return make


@pytest.fixture
def as_user(server_db):
    sessions: list[ApiSession] = []

    def open_session(user_id: str | None, role: str = "authenticated") -> ApiSession:
        session = ApiSession(server_db, user_id, role)
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        session.close()
