"""The stamping trigger owns updated_at, deleted_at, the owner, skills.version and templates.installs, and
bounds created_at (the client's, kept on insert: tests/server/test_client_times.py): forged values are
overwritten or rejected, tombstones stick, no-ops keep their stamp."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from psycopg import errors

from tests.server.rows import MINIMAL, get, insert, make, patch

FORGED = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
TABLES = list(MINIMAL)


def _server_now(session) -> dt.datetime:
    return session.one("select now() as now")["now"]


@pytest.mark.parametrize("table", TABLES)
def test_forged_stamps_on_insert_are_overwritten_and_created_at_is_the_clients(alice, table):
    before = _server_now(alice)
    row = make(alice, table, created_at=FORGED, updated_at=FORGED, deleted_at=FORGED)
    assert row["updated_at"] == row["deleted_at"]
    assert row["created_at"] == FORGED  # when the user made it (in the past: nothing to clamp)
    assert row["updated_at"] >= before
    owner = "author_id" if table == "templates" else "user_id"
    assert str(row[owner]) == alice.user_id  # defaulted from auth.uid()


@pytest.mark.parametrize("table", TABLES)
def test_forged_timestamps_on_update_are_ignored(alice, table):
    row = make(alice, table)
    after = patch(alice, table, row["id"], created_at=FORGED, updated_at=FORGED)
    assert after == row  # nothing a client owns changed: not even a new stamp


@pytest.mark.parametrize("table", TABLES)
def test_owner_can_never_change(alice, bob, table):
    owner = "author_id" if table == "templates" else "user_id"
    row = make(alice, table)
    with pytest.raises(errors.InsufficientPrivilege):
        patch(alice, table, row["id"], **{owner: bob.user_id})
    assert get(alice, table, row["id"]) == row


@pytest.mark.parametrize("table", TABLES)
def test_tombstone_is_stamped_kept_and_cannot_be_cleared(alice, table):
    row = make(alice, table)
    tombstoned = patch(alice, table, row["id"], deleted_at=FORGED)
    assert tombstoned["deleted_at"] == tombstoned["updated_at"] > row["updated_at"]
    # Sending another value keeps the first tombstone and is a no-op.
    assert patch(alice, table, row["id"], deleted_at="now") == tombstoned
    with pytest.raises(errors.RaiseException, match="tombstone cannot be cleared"):
        patch(alice, table, row["id"], deleted_at=None)
    assert get(alice, table, row["id"]) == tombstoned


def test_no_op_update_keeps_the_stamp_and_real_change_restamps(alice):
    node = make(alice, "memory_nodes", strength=0.5)
    assert patch(alice, "memory_nodes", node["id"], strength=0.5, label=node["label"]) == node
    changed = patch(alice, "memory_nodes", node["id"], strength=0.55)
    assert changed["updated_at"] > node["updated_at"] and changed["created_at"] == node["created_at"]


def test_replayed_upsert_of_an_identical_row_keeps_the_stamp(alice):
    """PostgREST merge-duplicates sets every column = EXCLUDED.col; a replay must not echo."""
    node = make(alice, "memory_nodes")
    upsert = ("insert into public.memory_nodes (id, label, category, strength, created_at, updated_at)"
              " values (%s, %s, %s, %s, %s, %s) on conflict (id) do update set id = excluded.id,"
              " label = excluded.label, category = excluded.category, strength = excluded.strength,"
              " created_at = excluded.created_at, updated_at = excluded.updated_at returning *")
    params = [node["id"], node["label"], node["category"], node["strength"], FORGED, FORGED]
    assert alice.one(upsert, params) == node
    params[1] = "likes green tea"
    assert alice.one(upsert, params)["updated_at"] > node["updated_at"]


def test_skill_version_counts_template_prompt_changes(alice):
    skill = make(alice, "skills")
    assert skill["version"] == 1
    assert patch(alice, "skills", skill["id"], template_prompt="Summarise in one line.")["version"] == 2
    assert patch(alice, "skills", skill["id"], name="Summarise v2")["version"] == 2
    # A client-sent version is ignored; only prompt changes count.
    assert patch(alice, "skills", skill["id"], version=99)["version"] == 2
    assert patch(alice, "skills", skill["id"], template_prompt=None, version=1)["version"] == 3
    # An offline history may arrive with its own version on insert (>= 1).
    assert make(alice, "skills", version=4)["version"] == 4
    assert make(alice, "skills", version=None)["version"] == 1


def test_template_installs_cannot_be_forged(alice):
    template = make(alice, "templates", installs=50)
    assert template["installs"] == 0
    assert patch(alice, "templates", template["id"], installs=7) == template
    assert patch(alice, "templates", template["id"], installs=7, name="Renamed")["installs"] == 0


def test_client_chosen_ids_are_kept(alice):
    row_id = str(uuid.uuid4())
    assert str(insert(alice, "tasks", id=row_id, title="t")["id"]) == row_id


def test_every_synced_table_has_the_sync_shape(server_db):
    import psycopg

    with psycopg.connect(server_db) as conn:
        for table in TABLES:
            owner = "author_id" if table == "templates" else "user_id"
            columns = dict(conn.execute(
                "select column_name, data_type || ':' || is_nullable from information_schema.columns"
                " where table_schema = 'public' and table_name = %s", [table]).fetchall())
            assert columns["id"] == "uuid:NO"
            assert columns[owner] == "uuid:NO"
            assert columns["created_at"] == columns["updated_at"] == "timestamp with time zone:NO"
            assert columns["deleted_at"] == "timestamp with time zone:YES"
            default = conn.execute("select column_default from information_schema.columns where"
                                   " table_schema = 'public' and table_name = %s and column_name = %s",
                                   [table, owner]).fetchone()[0]
            assert default == "auth.uid()"
