"""Fixtures that start the real PostgreSQL 15 cluster (and, later, the Supabase stand-in)."""

from __future__ import annotations

import pytest

from tests.supabase_local.cluster import PostgresCluster


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway cluster per test session; databases inside it are created per test as needed."""
    with PostgresCluster() as cluster:
        yield cluster
