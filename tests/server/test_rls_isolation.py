"""Row-level security and grants, exercised as PostgREST would: user A can neither see nor change
user B's rows, the API roles cannot hard-delete, anon gets nothing."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors

from standin.schema import apply_schema, drop_database
from tests.server.rows import MINIMAL, OWNER, get, insert, make, patch

TABLES = list(MINIMAL)


@pytest.mark.parametrize("table", TABLES)
def test_other_users_rows_are_invisible(alice, bob, table):
    row = make(alice, table)
    assert get(bob, table, row["id"]) is None
    assert bob.all(f"select id from public.{table}") == []
    assert get(alice, table, row["id"])["id"] == row["id"]


@pytest.mark.parametrize("table", TABLES)
def test_other_users_rows_cannot_be_updated_or_tombstoned(alice, bob, table):
    row = make(alice, table)
    column = next(c for c in ("content", "label", "title", "name", "summary") if c in MINIMAL[table])
    assert patch(bob, table, row["id"], **{column: "taken over"}) is None
    assert patch(bob, table, row["id"], deleted_at="now") is None
    after = get(alice, table, row["id"])
    assert after[column] == row[column] and after["deleted_at"] is None
    assert after["updated_at"] == row["updated_at"]


@pytest.mark.parametrize("table", TABLES)
def test_insert_owned_by_another_user_is_rejected(alice, bob, table):
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        make(bob, table, **{OWNER.get(table, "user_id"): alice.user_id})
    assert alice.all(f"select id from public.{table}") == []


@pytest.mark.parametrize("table", TABLES)
def test_insert_reusing_another_users_row_id_fails_and_leaves_the_row(alice, bob, table):
    row = make(alice, table)
    with pytest.raises(errors.UniqueViolation):
        make(bob, table, id=row["id"])
    assert get(alice, table, row["id"]) == row


def test_upsert_over_another_users_row_is_rejected(alice, bob):
    row = make(alice, "memory_nodes")
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        bob.all("insert into public.memory_nodes (id, label) values (%s, 'mine now')"
                " on conflict (id) do update set label = excluded.label", [row["id"]])
    assert get(alice, "memory_nodes", row["id"])["label"] == row["label"]


def test_children_cannot_point_at_another_users_parents(alice, bob):
    conversation = make(alice, "conversations")
    connection = make(alice, "agent_connections")
    with pytest.raises(errors.ForeignKeyViolation):
        make(bob, "messages", conversation_id=conversation["id"])
    with pytest.raises(errors.ForeignKeyViolation):
        make(bob, "conversations", agent_connection_id=connection["id"])
    with pytest.raises(errors.ForeignKeyViolation):
        make(bob, "tasks", connection_id=connection["id"])
    with pytest.raises(errors.ForeignKeyViolation):
        make(bob, "mirror_reports", agent_connection_id=connection["id"])


@pytest.mark.parametrize("table", TABLES)
def test_hard_delete_is_refused_for_users(alice, table):
    row = make(alice, table)
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        alice.all(f"delete from public.{table} where id = %s", [row["id"]])
    assert get(alice, table, row["id"]) == row


def test_anon_gets_nothing(alice, as_user):
    make(alice, "templates", is_public=True)
    anon = as_user(None, role="anon")
    for table in TABLES:
        with pytest.raises(errors.InsufficientPrivilege):
            anon.all(f"select * from public.{table}")
    with pytest.raises(errors.InsufficientPrivilege):
        anon.all("select public.install_template(%s)", [str(uuid.uuid4())])


def test_internals_and_auth_users_are_out_of_reach(alice):
    make(alice, "tasks")
    with pytest.raises(errors.InsufficientPrivilege):
        alice.all("select * from mirari_private.sync_clock")
    with pytest.raises(errors.InsufficientPrivilege):
        alice.all("select * from auth.users")


def test_service_role_sees_everyone_and_may_purge(alice, bob, as_user):
    a_row, b_row = make(alice, "tasks"), make(bob, "tasks")
    service = as_user(None, role="service_role")
    assert {r["id"] for r in service.all("select id from public.tasks")} == {a_row["id"], b_row["id"]}
    service.all("delete from public.tasks where id = %s", [a_row["id"]])
    assert get(alice, "tasks", a_row["id"]) is None
    # Acting for a user without their JWT, the owner must be named explicitly.
    with pytest.raises(errors.NotNullViolation, match="user_id"):
        insert(service, "tasks", title="orphan")
    assert insert(service, "tasks", title="for bob", user_id=bob.user_id)["user_id"] == uuid.UUID(bob.user_id)


def test_deleting_a_user_removes_all_their_rows(server_db, alice, bob):
    for table in TABLES:
        make(alice, table)
    make(bob, "tasks")
    connection = make(alice, "agent_connections")
    make(alice, "tasks", connection_id=connection["id"])
    with psycopg.connect(server_db, autocommit=True) as conn:
        conn.execute("delete from auth.users where id = %s", [alice.user_id])
        for table in TABLES:
            owner = OWNER.get(table, "user_id")
            left = conn.execute(f"select count(*) from public.{table} where {owner} = %s", [alice.user_id])
            assert left.fetchone()[0] == 0, table
        assert conn.execute("select count(*) from public.tasks").fetchone()[0] == 1


EXPECTED_PRIVILEGES = {"authenticated": {"SELECT", "INSERT", "UPDATE"}, "anon": set(),
                       "service_role": {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE",
                                        "REFERENCES", "TRIGGER"}}


def _table_privileges(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select grantee, table_name, privilege_type from information_schema.role_table_grants"
            " where table_schema = 'public' and grantee in ('anon', 'authenticated', 'service_role')").fetchall()
    found: dict = {}
    for grantee, table, privilege in rows:
        found.setdefault((grantee, table), set()).add(privilege)
    return found


def _assert_explicit_grants(dsn: str) -> None:
    found = _table_privileges(dsn)
    for table in TABLES:
        for role, expected in EXPECTED_PRIVILEGES.items():
            assert found.get((role, table), set()) == expected, (role, table)
    with psycopg.connect(dsn) as conn:
        for role, allowed in (("authenticated", True), ("service_role", True), ("anon", False)):
            assert conn.execute("select has_function_privilege(%s, 'public.install_template(uuid)', 'execute')",
                                [role]).fetchone()[0] is allowed
            assert conn.execute("select has_schema_privilege(%s, 'mirari_private', 'usage')",
                                [role]).fetchone()[0] is False


def test_grants_are_exactly_the_intended_ones(server_db):
    _assert_explicit_grants(server_db)


def test_grants_are_the_same_on_projects_that_still_auto_grant(pg_cluster):
    """Pre-2026 projects grant ALL on new tables by default; the migrations must still revoke DELETE."""
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("create database legacy_grants")
    try:
        apply_schema(pg_cluster.dsn("legacy_grants"), legacy_default_privileges=True)
        _assert_explicit_grants(pg_cluster.dsn("legacy_grants"))
    finally:
        drop_database(pg_cluster.dsn(), "legacy_grants")
