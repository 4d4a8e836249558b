"""Apply the Supabase scaffolding and the project's real migrations to a PostgreSQL database.

`apply_schema(dsn)` runs `scaffolding.sql` and then every `supabase/migrations/*.sql` in name order
(the Supabase CLI order), one transaction per file. Building that schema takes a while, so tests build
it once per cluster into a template database and clone it per test (`CREATE DATABASE x TEMPLATE t`),
which is a file copy.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parents[1]
SCAFFOLDING_SQL = Path(__file__).with_name("scaffolding.sql")
STORAGE_SCHEMA_SQL = Path(__file__).with_name("storage_schema.sql")  # Supabase Storage's tables (idempotent)
MIGRATIONS_DIR = REPO_ROOT / "supabase" / "migrations"

# Pre-2026 Supabase projects still auto-grant new public objects to the API roles; the migrations must
# behave the same there (e.g. DELETE stays revoked). apply_schema(..., legacy_default_privileges=True)
# recreates that regime for a test.
LEGACY_DEFAULT_PRIVILEGES = """
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
"""


class SchemaError(RuntimeError):
    """A scaffolding or migration file failed; the message names the file."""


def migration_files() -> list[Path]:
    files = sorted(MIGRATIONS_DIR.glob("*.sql"))
    if not files:
        raise SchemaError(f"no migrations found in {MIGRATIONS_DIR}")
    return files


def _run_file(conn: psycopg.Connection, path: Path) -> None:
    try:
        with conn.transaction():
            conn.execute(path.read_text(encoding="utf-8"))
    except psycopg.Error as exc:
        raise SchemaError(f"{path.name}: {exc.sqlstate}: {exc}") from exc


# Where the Supabase CLI records applied migrations (`supabase db push` skips those listed there).
MIGRATION_HISTORY_SQL = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text not null primary key, statements text[], name text);
"""


def _version_and_name(path: Path) -> tuple[str, str]:
    version, _, name = path.stem.partition("_")
    return version, name


def _run_migration(conn: psycopg.Connection, path: Path) -> None:
    """One migration and its history row, in one transaction."""
    version, name = _version_and_name(path)
    try:
        with conn.transaction():
            conn.execute(path.read_text(encoding="utf-8"))
            conn.execute("insert into supabase_migrations.schema_migrations (version, name) values (%s, %s)",
                         [version, name])
    except psycopg.Error as exc:
        raise SchemaError(f"{path.name}: {exc.sqlstate}: {exc}") from exc


def _pending(conn: psycopg.Connection) -> list[Path]:
    applied = {v for (v,) in conn.execute("select version from supabase_migrations.schema_migrations")}
    return [p for p in migration_files() if _version_and_name(p)[0] not in applied]


def apply_schema(dsn: str, *, legacy_default_privileges: bool = False) -> None:
    """Scaffolding + every migration, in order, as the superuser of `dsn`; one transaction per file,
    each recorded in supabase_migrations.schema_migrations as the Supabase CLI does."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        _run_file(conn, SCAFFOLDING_SQL)
        _run_file(conn, STORAGE_SCHEMA_SQL)
        if legacy_default_privileges:
            conn.execute(LEGACY_DEFAULT_PRIVILEGES)
        conn.execute(MIGRATION_HISTORY_SQL)
        for path in _pending(conn):
            _run_migration(conn, path)


def apply_pending_migrations(dsn: str) -> list[str]:
    """On a database that already has the schema (a kept stand-in --data-dir): apply the migrations added
    since, like `supabase db push`. Returns the file names applied."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('storage.objects') is null").fetchone()[0]:
            _run_file(conn, STORAGE_SCHEMA_SQL)  # a database kept from before the stand-in had Storage
        pending = _pending(conn)
        for path in pending:
            _run_migration(conn, path)
    return [p.name for p in pending]


# -- template databases --------------------------------------------------------------------------

_counter = itertools.count(1)
_lock = threading.Lock()


def _admin(admin_dsn: str) -> psycopg.Connection:
    return psycopg.connect(admin_dsn, autocommit=True)


def _with_dbname(dsn: str, dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(dsn, dbname=dbname)


def build_template(admin_dsn: str, name: str = "mirari_template") -> str:
    """(Re)create database `name` with the full schema and mark it as a template. Returns its name."""
    with _admin(admin_dsn) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    apply_schema(_with_dbname(admin_dsn, name))
    with _admin(admin_dsn) as conn:
        # No one may connect to a template while it is being copied.
        conn.execute(sql.SQL("alter database {} with is_template true allow_connections false")
                     .format(sql.Identifier(name)))
    return name


def clone_database(admin_dsn: str, template: str, name: str | None = None) -> str:
    """Create a new database from `template`; returns a dsn for it (same user and host as admin_dsn).

    Per-database settings are not copied by CREATE DATABASE, so the UTC timezone is set again.
    """
    if name is None:
        with _lock:
            name = f"mirari_test_{next(_counter)}"
    with _admin(admin_dsn) as conn:
        conn.execute(sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(template)))
        conn.execute(sql.SQL("alter database {} set timezone = 'UTC'").format(sql.Identifier(name)))
    return _with_dbname(admin_dsn, name)


def drop_database(admin_dsn: str, name: str) -> None:
    with _admin(admin_dsn) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def database_name(dsn: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]


# Empties every data table. DELETE, not TRUNCATE: on a handful of rows it is several times faster.
# auth.users first (its ON DELETE CASCADE removes users' rows; the SET NULL actions on the way may stamp
# the sync clock again), then whatever is left, the sync clock last.
_EMPTY_TABLES = """
do $$
declare
  t text;
begin
  delete from auth.users;
  for t in select format('%I.%I', schemaname, tablename) from pg_tables
            where schemaname in ('public', 'auth', 'mirari_private', 'realtime')
            order by schemaname = 'mirari_private', tablename
  loop
    execute 'delete from ' || t;
  end loop;
  perform set_config('storage.allow_delete_query', 'true', true);  -- as the Storage API does
  delete from storage.objects;
end
$$
"""


class DatabasePool:
    """Hands out databases cloned from a template and recycles them by emptying their tables.

    Cloning costs a few hundred milliseconds on a busy machine; emptying the tables of a test's few
    rows about ten. A database that cannot be emptied quickly (a test left a transaction open) is
    dropped instead, so every test still starts from the template's exact state.
    """

    def __init__(self, admin_dsn: str, template: str):
        self.admin_dsn, self.template = admin_dsn, template
        self._free: list[str] = []
        self._all: set[str] = set()

    def acquire(self) -> str:
        if self._free:
            return self._free.pop()
        dsn = clone_database(self.admin_dsn, self.template)
        self._all.add(dsn)
        return dsn

    def release(self, dsn: str) -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("set lock_timeout = '3s'")
                conn.execute(_EMPTY_TABLES)
        except psycopg.Error:
            self._all.discard(dsn)
            drop_database(self.admin_dsn, database_name(dsn))
            return
        self._free.append(dsn)

    def close(self) -> None:
        for dsn in self._all:
            drop_database(self.admin_dsn, database_name(dsn))
        self._all.clear()
        self._free.clear()
