"""Opt-in pytest plugin for the Windows and macOS jobs of .github/workflows/build.yml ONLY:

    python -m pytest -p tests.ci_portable

Those runners have no PostgreSQL 15 server binaries, so every test that needs the throwaway cluster
(directly or through a fixture built on it: the server schema, the Supabase stand-in, sync) is
skipped with a reason saying so, as is the Linux-bundle build. Our own CI (.ci/run) and the Ubuntu
job never load this plugin: there every test runs and a missing PostgreSQL is an error, not a skip.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

POSTGRES_FIXTURES = {"pg_cluster"}  # every server/stand-in/sync fixture is built on this one


def _postgres_available() -> bool:
    pg_bin = Path(os.environ.get("MIRARI_PG_BIN", "/usr/lib/postgresql/15/bin"))
    return any((pg_bin / name).exists() for name in ("initdb", "initdb.exe"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_postgres = None if _postgres_available() else pytest.mark.skip(
        reason="PostgreSQL server binaries are not installed on this runner (MIRARI_PG_BIN)")
    not_linux = None if sys.platform.startswith("linux") else pytest.mark.skip(
        reason="builds the Linux bundle; this OS's installer is built and self-tested by the workflow")
    for item in items:
        if no_postgres and POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(no_postgres)
        if not_linux and Path(str(item.path)).parent.name == "packaging" and "linux" in item.path.name:
            item.add_marker(not_linux)
