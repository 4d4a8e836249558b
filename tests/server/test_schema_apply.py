"""The migrations apply cleanly, the scaffolding is re-runnable, and per-test databases are clones."""

from __future__ import annotations

import psycopg
import pytest

from local_schema.models import SYNCED_TABLES  # the server must have exactly the tables the mirror syncs
from standin.schema import (
    SchemaError,
    apply_schema,
    clone_database,
    database_name,
    drop_database,
    migration_files,
)


def _fresh_database(pg_cluster, name: str) -> str:
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    return pg_cluster.dsn(name)


def _schema_summary(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn:
        return {
            "tables": conn.execute("select string_agg(tablename, ',' order by tablename) from pg_tables"
                                   " where schemaname = 'public'").fetchone()[0],
            "triggers": conn.execute("select count(*) from pg_trigger where not tgisinternal").fetchone()[0],
            "policies": conn.execute("select count(*) from pg_policies where schemaname = 'public'").fetchone()[0],
            "functions": conn.execute("select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
                                      " where nspname in ('public', 'mirari_private', 'auth')").fetchone()[0],
        }


def test_migrations_apply_cleanly_into_two_fresh_databases(pg_cluster):
    """Roles are cluster-wide, so the second run also proves the scaffolding tolerates existing roles."""
    first, second = _fresh_database(pg_cluster, "apply_one"), _fresh_database(pg_cluster, "apply_two")
    apply_schema(first)
    apply_schema(second)
    assert _schema_summary(first) == _schema_summary(second)
    assert _schema_summary(first)["tables"] == ",".join(sorted(SYNCED_TABLES))
    with psycopg.connect(second) as conn:
        assert conn.execute("show timezone").fetchone()[0] == "UTC"
    for name in ("apply_one", "apply_two"):
        drop_database(pg_cluster.dsn(), name)


def test_migrations_are_named_in_supabase_cli_layout():
    names = [p.name for p in migration_files()]
    assert names == sorted(names)
    for name in names:
        stamp, _, rest = name.partition("_")
        assert len(stamp) == 14 and stamp.isdigit() and rest.endswith(".sql"), name


def test_a_failing_migration_names_its_file(pg_cluster, tmp_path, monkeypatch):
    from standin import schema

    broken = tmp_path / "20990101000000_broken.sql"
    broken.write_text("create table public.agent_connections (id int);")  # already exists
    monkeypatch.setattr(schema, "migration_files", lambda: [*migration_files(), broken])
    with pytest.raises(SchemaError, match="20990101000000_broken.sql: 42P07"):
        apply_schema(_fresh_database(pg_cluster, "apply_broken"))
    drop_database(pg_cluster.dsn(), "apply_broken")


def test_server_db_is_a_file_copy_of_the_template(pg_cluster, server_template, server_db):
    """CREATE DATABASE ... TEMPLATE copies files, so catalog OIDs are identical: nothing was re-run."""
    oid_query = "select 'public.messages'::regclass::oid, 'mirari_private.stamp_row'::regproc::oid"
    with psycopg.connect(server_db) as conn:
        clone_oids = conn.execute(oid_query).fetchone()
        assert conn.execute("show timezone").fetchone()[0] == "UTC"
    second = clone_database(pg_cluster.dsn(), server_template)
    with psycopg.connect(second) as conn:
        assert conn.execute(oid_query).fetchone() == clone_oids
        assert conn.execute("select count(*) from public.messages").fetchone()[0] == 0
    drop_database(pg_cluster.dsn(), database_name(second))
    assert database_name(server_db) != database_name(second)


def _row_counts(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn:
        tables = [f"{s}.{t}" for s, t in conn.execute(
            "select schemaname, tablename from pg_tables where schemaname in ('public', 'auth', 'mirari_private')")]
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}


def test_recycled_database_is_back_in_the_template_state(pg_cluster, server_template):
    from standin.impersonate import ApiSession, create_auth_user
    from standin.schema import DatabasePool

    pool = DatabasePool(pg_cluster.dsn(), server_template)
    try:
        dsn = pool.acquire()
        pristine = _row_counts(dsn)
        assert set(pristine.values()) == {0}
        user = create_auth_user(dsn)
        with ApiSession(dsn, user) as session:
            connection = session.one("insert into agent_connections (name, provider, base_url, model)"
                                     " values ('c', 'nous', 'u', 'm') returning id")["id"]
            session.one("insert into conversations (agent_connection_id) values (%s) returning id", [connection])
        assert _row_counts(dsn) != pristine
        pool.release(dsn)
        assert pool.acquire() == dsn and _row_counts(dsn) == pristine

        # A test that leaves a transaction holding locks: its database is dropped, not reused.
        leaky = psycopg.connect(dsn)
        leaky.execute("lock table public.tasks in share mode")  # blocks the DELETE of a reset
        pool.release(dsn)  # drops the database WITH (FORCE), which ends the leaky session
        leaky.close()
        fresh = pool.acquire()
        assert fresh != dsn and _row_counts(fresh) == pristine
        with psycopg.connect(pg_cluster.dsn()) as conn:
            assert conn.execute("select count(*) from pg_database where datname = %s",
                                [database_name(dsn)]).fetchone()[0] == 0
    finally:
        pool.close()


def _history(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [v for (v,) in conn.execute("select version from supabase_migrations.schema_migrations order by 1")]


def _extra_migration(tmp_path, monkeypatch):
    from standin import schema

    extra = tmp_path / "20990101000000_extra.sql"
    extra.write_text("create table public.extra_from_a_later_pull (id int primary key);")
    monkeypatch.setattr(schema, "migration_files", lambda: [*migration_files(), extra])


def test_applied_migrations_are_recorded_like_the_supabase_cli(server_db):
    assert _history(server_db) == [p.name.partition("_")[0] for p in migration_files()]


def test_a_kept_stand_in_database_gets_the_migrations_added_since(pg_cluster, server_template, tmp_path,
                                                                 monkeypatch):
    """`python -m standin --data-dir D` reuses D's database: a migration pulled since must be
    applied there too (it used to be skipped, leaving the developer on a stale schema), once."""
    from standin.server import add_auth_tables, prepare_database

    dsn = clone_database(pg_cluster.dsn(), server_template)
    try:
        add_auth_tables(dsn)  # what a stand-in run leaves behind
        _extra_migration(tmp_path, monkeypatch)
        prepare_database(dsn)
        prepare_database(dsn)  # and only once
        assert _history(dsn)[-1] == "20990101000000"
        with psycopg.connect(dsn) as conn:
            assert conn.execute("select to_regclass('public.extra_from_a_later_pull')").fetchone()[0] is not None
    finally:
        drop_database(pg_cluster.dsn(), database_name(dsn))
