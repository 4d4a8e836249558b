"""Fixtures that start the real PostgreSQL 15 cluster and give tests databases with the real schema.

- `pg_cluster` (session): one throwaway cluster.
- `server_template` (session): name of a template database holding scaffolding + all migrations,
  built once per cluster.
- `server_db`: dsn (superuser) of a database in the template's exact state: cloned from the template,
  and recycled between tests by emptying its tables (see DatabasePool).
- `make_user`: factory creating an auth.users row in `server_db`; returns the user id.
- `as_user`: factory `as_user(user_id, role="authenticated")` → `ApiSession` acting as PostgREST would.
"""

from __future__ import annotations

import pytest

from standin.cluster import PostgresCluster
from standin.impersonate import ApiSession, create_auth_user
from standin.schema import DatabasePool, build_template


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway cluster per test session; databases inside it are created per test as needed."""
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def server_template(pg_cluster) -> str:
    return build_template(pg_cluster.dsn())


@pytest.fixture(scope="session")
def server_db_pool(pg_cluster, server_template):
    pool = DatabasePool(pg_cluster.dsn(), server_template)
    yield pool
    pool.close()


@pytest.fixture
def server_db(server_db_pool):
    dsn = server_db_pool.acquire()
    yield dsn
    server_db_pool.release(dsn)


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
