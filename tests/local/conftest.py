"""Fixtures for the local mirror tests: real SQLite files in a temporary directory."""

from __future__ import annotations

import pytest

from local_schema.database import open_database


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "data" / "local.sqlite3"


@pytest.fixture
def db(db_path):
    database = open_database(db_path)
    yield database
    database.close()
