"""Import tests: a real SQLite mirror per test and the hand-made exports of tests/fixtures/imports."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_schema.database import open_database

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "imports"


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path / "data" / "local.sqlite3")
    yield database
    database.close()
