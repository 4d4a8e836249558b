"""The local mirror (local_schema.models) has exactly the server's tables and columns, so a pulled row
maps onto a local row column for column, and nothing local is pushed that the server does not know."""

from __future__ import annotations

import psycopg

from local_schema.models import SYNCED_MODELS


def test_local_models_have_exactly_the_server_columns(server_db):
    with psycopg.connect(server_db) as conn:
        rows = conn.execute("select table_name, column_name from information_schema.columns"
                            " where table_schema = 'public'").fetchall()
    server: dict[str, set[str]] = {}
    for table, column in rows:
        server.setdefault(table, set()).add(column)
    local = {model.__tablename__: set(model.__table__.columns.keys()) for model in SYNCED_MODELS}
    assert local == server


def test_synced_models_are_in_foreign_key_order(server_db):
    """Pushing in SYNCED_MODELS order never sends a child before its parent's table."""
    with psycopg.connect(server_db) as conn:
        edges = conn.execute(
            "select c.conrelid::regclass::text, c.confrelid::regclass::text from pg_constraint c"
            " where c.contype = 'f' and c.connamespace = 'public'::regnamespace"
            " and c.confrelid <> 'auth.users'::regclass").fetchall()
    order = [model.__tablename__ for model in SYNCED_MODELS]
    assert edges
    for child, parent in edges:
        assert order.index(parent) < order.index(child), (child, parent)
