"""Attachments on PostgreSQL with the real migrations: the row's checks and RLS, the tombstone cascade from
messages, and the Storage bucket's policies on storage.objects (as the Storage API runs them: the caller's
role and claims, `storage.allow_delete_query` set for deletes)."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors

from tests.server.rows import MINIMAL, get, insert, make, patch


def _object(session, name: str, bucket: str = "attachments") -> dict | None:
    """What the Storage API's upload does as the caller: insert the object's row (RLS decides)."""
    return session.one("insert into storage.objects (bucket_id, name, owner, owner_id, metadata)"
                       " values (%s, %s, %s, %s, '{}') returning id, name", [bucket, name, session.user_id,
                                                                            session.user_id])


def _remove(session, name: str) -> list[dict]:
    """The Storage API's remove: a DELETE as the caller with its delete switch on."""
    with session.tx() as cur:
        cur.execute("select set_config('storage.allow_delete_query', 'true', true)")
        cur.execute("delete from storage.objects where bucket_id = 'attachments' and name = %s returning name",
                    [name])
        return cur.fetchall()


def test_the_bucket_exists_and_is_private(server_db):
    with psycopg.connect(server_db) as conn:
        row = conn.execute("select public, file_size_limit from storage.buckets where id = 'attachments'").fetchone()
    assert row == (False, 52428800)


def test_an_attachment_is_its_owners_alone(alice, bob):
    row = make(alice, "attachments")
    assert row["storage_path"] == f"{alice.user_id}/{row['id']}"
    assert get(bob, "attachments", row["id"]) is None
    assert patch(bob, "attachments", row["id"], name="stolen.txt") is None
    assert get(alice, "attachments", row["id"])["name"] == "notes.txt"


def test_another_users_message_cannot_carry_my_attachment(alice, bob):
    message = make(alice, "messages")
    # Bob's row naming Alice's message: the composite key finds no (message, bob) pair.
    with pytest.raises(errors.ForeignKeyViolation):
        make(bob, "attachments", message_id=message["id"])
    # Bob's row in Alice's name: refused before anything is stamped.
    with pytest.raises(errors.InsufficientPrivilege):
        make(bob, "attachments", user_id=alice.user_id)


@pytest.mark.parametrize("column, value", [
    ("sha256", "ABC"), ("sha256", "0" * 63), ("size", -1), ("size", 52428801), ("mime_type", "text"),
    ("mime_type", "Text/Plain"), ("mime_type", "text/plain; charset=utf-8"), ("name", ""), ("name", "x" * 256),
])
def test_checks_refuse_malformed_rows(alice, column, value):
    with pytest.raises(errors.CheckViolation):
        make(alice, "attachments", **{column: value})


def test_the_storage_path_must_be_the_owners_folder_and_the_rows_id(alice, bob):
    message = make(alice, "messages")
    row = dict(MINIMAL["attachments"], message_id=message["id"])
    for path in (f"{bob.user_id}/{uuid.uuid4()}", f"{alice.user_id}/{uuid.uuid4()}", f"{alice.user_id}/../x"):
        with pytest.raises(errors.CheckViolation):
            insert(alice, "attachments", storage_path=path, **row)


def test_a_row_sent_without_its_path_gets_the_owners_folder(alice):
    message = make(alice, "messages")
    row = insert(alice, "attachments", message_id=message["id"], **MINIMAL["attachments"])
    assert row["storage_path"] == f"{alice.user_id}/{row['id']}"


def test_a_message_tombstone_reaches_its_attachments_and_a_threads_through_them(alice):
    first = make(alice, "attachments")
    second = make(alice, "attachments", message_id=first["message_id"])
    other = make(alice, "attachments")
    patch(alice, "messages", first["message_id"], deleted_at="now")
    for row in (first, second):
        after = get(alice, "attachments", row["id"])
        assert after["deleted_at"] is not None and after["updated_at"] > row["updated_at"]
    assert get(alice, "attachments", other["id"])["deleted_at"] is None
    thread = get(alice, "messages", other["message_id"])["conversation_id"]
    patch(alice, "conversations", thread, deleted_at="now")
    assert get(alice, "attachments", other["id"])["deleted_at"] is not None


def test_a_late_attachment_for_a_deleted_message_is_refused(alice):
    message = make(alice, "messages")
    patch(alice, "messages", message["id"], deleted_at="now")
    with pytest.raises(errors.ForeignKeyViolation, match="is deleted"):
        make(alice, "attachments", message_id=message["id"])


def test_connections_do_not_take_images_until_told(alice):
    row = make(alice, "agent_connections")
    assert row["accepts_images"] is False
    assert patch(alice, "agent_connections", row["id"], accepts_images=True)["accepts_images"] is True


# -- the bucket's policies on storage.objects --------------------------------------------------------

def test_an_object_needs_a_live_attachment_row_at_its_path(alice):
    row = make(alice, "attachments")
    assert _object(alice, row["storage_path"])["name"] == row["storage_path"]
    with pytest.raises(errors.InsufficientPrivilege):  # a path no row names
        _object(alice, f"{alice.user_id}/{uuid.uuid4()}")
    tombstoned = make(alice, "attachments")
    patch(alice, "attachments", tombstoned["id"], deleted_at="now")
    with pytest.raises(errors.InsufficientPrivilege):  # a deleted row's path
        _object(alice, tombstoned["storage_path"])


def test_another_user_can_neither_write_read_nor_remove_my_objects(alice, bob):
    row = make(alice, "attachments")
    _object(alice, row["storage_path"])
    with pytest.raises(errors.InsufficientPrivilege):
        _object(bob, row["storage_path"])
    assert bob.all("select name from storage.objects where bucket_id = 'attachments'") == []
    assert _remove(bob, row["storage_path"]) == []
    assert alice.all("select name from storage.objects where bucket_id = 'attachments'") == [
        {"name": row["storage_path"]}]
    with pytest.raises(errors.InsufficientPrivilege):  # nor in another bucket: no policy grants it
        _object(alice, row["storage_path"], bucket="attachments-public")


def test_the_owner_removes_through_the_api_only(alice):
    row = make(alice, "attachments")
    _object(alice, row["storage_path"])
    with pytest.raises(errors.InsufficientPrivilege, match="Use the Storage API"):
        alice.all("delete from storage.objects where name = %s", [row["storage_path"]])
    assert _remove(alice, row["storage_path"]) == [{"name": row["storage_path"]}]


def test_anonymous_callers_get_nothing(alice, as_user):
    row = make(alice, "attachments")
    _object(alice, row["storage_path"])
    anon = as_user(None, role="anon")
    assert anon.all("select name from storage.objects") == []
    assert anon.all("select id from storage.buckets") == []
    with pytest.raises(errors.InsufficientPrivilege):
        anon.all("select id from public.attachments")
