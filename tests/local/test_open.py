"""Opening a database: file modes, pragmas on every pooled connection, schema version."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from sqlalchemy import text

from local_schema.database import open_database
from local_schema.migrations import LATEST_VERSION
from tests.portable import mode_of, shown_mode


def test_new_database_is_private_and_wal(db, db_path):
    assert mode_of(db_path) == shown_mode(0o600)
    for suffix in ("-wal", "-shm"):
        sidecar = f"{db_path}{suffix}"
        assert os.path.exists(sidecar), suffix
        assert mode_of(sidecar) == shown_mode(0o600), suffix


def test_a_new_database_gets_big_pages_and_an_existing_one_keeps_its_own(tmp_path):
    from local_schema.prepare import PAGE_SIZE

    fresh = open_database(tmp_path / "new.sqlite3")
    with fresh.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == PAGE_SIZE == 16384
    fresh.close()
    old_path = tmp_path / "old.sqlite3"  # made by an earlier MIRARI, with SQLite's default pages
    with sqlite3.connect(old_path) as raw:
        raw.execute("PRAGMA page_size = 4096")
        raw.execute("CREATE TABLE kept (x)")
        raw.execute("INSERT INTO kept VALUES ('still here')")
    raw.close()
    old = open_database(old_path)
    with old.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 4096
        assert conn.exec_driver_sql("SELECT x FROM kept").scalar() == "still here"
        assert conn.exec_driver_sql("PRAGMA user_version").scalar() == LATEST_VERSION
    old.close()


def test_private_mode_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        path = tmp_path / "loose.sqlite3"
        open_database(path).close()
    finally:
        os.umask(old)
    assert mode_of(path) == shown_mode(0o600)


def test_existing_world_readable_file_is_tightened(tmp_path):
    path = tmp_path / "old.sqlite3"
    sqlite3.connect(path).close()
    os.chmod(path, 0o644)
    open_database(path).close()
    assert mode_of(path) == shown_mode(0o600)


def test_pragmas_on_every_pooled_connection(db):
    # Hold several connections at once so the pool must create distinct ones.
    connections = [db.engine.connect() for _ in range(3)]
    try:
        for conn in connections:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA recursive_triggers").scalar() == 1
        assert len({id(c.connection.dbapi_connection) for c in connections}) == 3
    finally:
        for conn in connections:
            conn.close()


def test_schema_at_latest_version_and_reopen_is_idempotent(db_path):
    open_database(db_path).close()
    open_database(db_path).close()
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    finally:
        conn.close()
    # A fresh database has nothing worth backing up.
    assert not list(db_path.parent.glob("*.bak"))


def test_select_runs_inside_a_real_transaction(db):
    # The begin hook must emit BEGIN even for a first SELECT (pysqlite alone would not).
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1").close()
        assert conn.connection.dbapi_connection.in_transaction


def test_autocommit_connections_run_outside_a_transaction_and_do_not_leak(db):
    with db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO tasks (title) VALUES ('x')")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").close()
        assert not conn.connection.dbapi_connection.in_transaction
    db.vacuum()  # VACUUM refuses to run inside a transaction
    # The pooled connection is back under our BEGIN control afterwards.
    with db.engine.connect() as conn:
        assert conn.connection.dbapi_connection.isolation_level is None
        conn.exec_driver_sql("SELECT 1").close()
        assert conn.connection.dbapi_connection.in_transaction


def test_a_second_writer_waits_for_the_first_instead_of_failing(db):
    first_has_lock = threading.Event()
    errors: list[BaseException] = []

    def slow_writer():
        try:
            with db.session(immediate=True) as session:
                session.execute(text("INSERT INTO tasks (title) VALUES ('slow')"))
                first_has_lock.set()
                time.sleep(0.5)
                session.commit()
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
            first_has_lock.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert first_has_lock.wait(5)
    # Read-then-write with BEGIN IMMEDIATE: waits on the busy timeout, then sees the committed row.
    with db.session(immediate=True) as session:
        count = session.execute(text("SELECT count(*) FROM tasks")).scalar()
        session.execute(text("INSERT INTO tasks (title) VALUES ('fast')"))
        session.commit()
    thread.join()
    assert errors == []
    assert count == 1


def test_a_data_dir_with_url_syntax_in_its_name_opens_that_very_file(tmp_path):
    """'?', '#' and '%xx' are legal in folder names; the engine must not read them as URL syntax and
    write to some other file than the one that was integrity-checked and migrated."""
    from local_schema.models import Conversation

    folder = tmp_path / "why? C# 100%20"
    path = folder / "local.sqlite3"
    with open_database(path).session() as session:
        session.add(Conversation(title="kept here"))
        session.commit()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("SELECT title FROM conversations").fetchall() == [("kept here",)]
    finally:
        raw.close()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("local.sqlite3")) == []
