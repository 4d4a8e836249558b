"""The stand-in's Storage API through supabase-py's official storage client (storage3): buckets, upload
(multipart, x-upsert), download, list, remove — each decided by the project's own policies on
storage.objects (supabase/migrations/20261207200000_attachments.sql), and the bytes kept on disk."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from storage3.exceptions import StorageApiError

BUCKET = "attachments"


def _attachment(user, data: bytes, name: str = "notes.txt") -> str:
    """A thread, a message and an attachment row (as the app pushes them); the object path."""
    table = user.client.table
    thread = table("conversations").insert({"id": str(uuid.uuid4()), "title": "t"}).execute().data[0]
    message = table("messages").insert({"id": str(uuid.uuid4()), "conversation_id": thread["id"], "role": "user",
                                        "content": "see attached"}).execute().data[0]
    row_id = str(uuid.uuid4())
    path = f"{user.id}/{row_id}"
    table("attachments").insert({"id": row_id, "message_id": message["id"], "name": name, "mime_type": "text/plain",
                                 "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                 "storage_path": path}).execute()
    return path


def _refused(call) -> StorageApiError:
    with pytest.raises(StorageApiError) as caught:
        call()
    return caught.value


def _files(stack) -> set[str]:
    """The object files the stand-in keeps for its database (beside the cluster)."""
    with psycopg.connect(stack.db_url) as conn:
        data_dir, database = conn.execute("select current_setting('data_directory'), current_database()").fetchone()
    root = Path(data_dir).parent / "storage" / database
    return {p.name for p in root.iterdir() if not p.name.startswith(".")} if root.exists() else set()


def test_upload_download_list_and_remove_own_objects(supabase_stack, alice):
    data = "héllo, attachments\n".encode() * 100
    path = _attachment(alice, data)
    bucket = alice.client.storage.from_(BUCKET)
    before = _files(supabase_stack)
    answer = bucket.upload(path, data, {"content-type": "text/plain"})
    assert answer.path == path and answer.full_path == f"{BUCKET}/{path}"
    assert bucket.download(path) == data
    listed = bucket.list(alice.id)
    assert [item["name"] for item in listed] == [path.split("/")[1]]
    assert listed[0]["metadata"]["size"] == len(data) and listed[0]["metadata"]["mimetype"] == "text/plain"
    assert len(_files(supabase_stack) - before) == 1  # the bytes, on disk
    removed = bucket.remove([path])
    assert [item["name"] for item in removed] == [path] and removed[0]["bucket_id"] == BUCKET
    assert _files(supabase_stack) == before
    error = _refused(lambda: bucket.download(path))
    assert (error.status, error.message) == ("404", "Object not found")


def test_a_second_upload_needs_upsert_and_replaces_the_bytes(supabase_stack, alice):
    path = _attachment(alice, b"first")
    bucket = alice.client.storage.from_(BUCKET)
    bucket.upload(path, b"first")
    before = _files(supabase_stack)
    error = _refused(lambda: bucket.upload(path, b"second"))
    assert (error.status, error.code, error.message) == ("409", "Duplicate", "The resource already exists")
    bucket.upload(path, b"second", {"upsert": "true"})
    assert bucket.download(path) == b"second"
    assert len(_files(supabase_stack)) == len(before)  # the first version's file went with it


def test_another_user_is_refused_everything(alice, bob):
    path = _attachment(alice, b"secret")
    alice.client.storage.from_(BUCKET).upload(path, b"secret")
    theirs = bob.client.storage.from_(BUCKET)
    error = _refused(lambda: theirs.download(path))
    assert (error.status, error.message) == ("404", "Object not found")
    error = _refused(lambda: theirs.upload(path, b"overwritten", {"upsert": "true"}))
    assert (error.status, error.code, error.message) == ("403", "Unauthorized",
                                                         "new row violates row-level security policy")
    assert theirs.list(alice.id) == []
    assert theirs.remove([path]) == []
    assert alice.client.storage.from_(BUCKET).download(path) == b"secret"


def test_an_object_needs_its_attachment_row(alice):
    bucket = alice.client.storage.from_(BUCKET)
    error = _refused(lambda: bucket.upload(f"{alice.id}/{uuid.uuid4()}", b"stray"))
    assert error.status == "403"


def test_the_private_bucket_has_no_public_url_and_anon_gets_nothing(supabase_stack, alice):
    path = _attachment(alice, b"private")
    alice.client.storage.from_(BUCKET).upload(path, b"private")
    url = alice.client.storage.from_(BUCKET).get_public_url(path)
    assert "/object/public/" in url
    for headers in ({}, {"apikey": supabase_stack.anon_key}):
        reply = httpx.get(url, headers=headers)
        assert reply.status_code == 400
        assert reply.json() == {"statusCode": "404", "code": "NoSuchBucket", "error": "Bucket not found",
                                "message": "Bucket not found"}
    anon = supabase_stack.client().storage.from_(BUCKET)  # the anon key is a valid JWT: RLS as anon decides
    error = _refused(lambda: anon.download(path))
    assert (error.status, error.message) == ("404", "Object not found")
    error = _refused(lambda: anon.upload(f"{alice.id}/x", b"x"))
    assert error.status == "403"
    reply = httpx.get(f"{supabase_stack.url}/storage/v1/object/authenticated/{BUCKET}/{path}",
                      headers={"apikey": supabase_stack.anon_key, "Authorization": "Bearer not-a-jwt"})
    assert reply.status_code == 400 and reply.json()["statusCode"] == "403"


def test_buckets_as_the_policies_show_them(supabase_stack, alice):
    assert [b.id for b in alice.client.storage.list_buckets()] == [BUCKET]
    bucket = alice.client.storage.get_bucket(BUCKET)
    assert (bucket.id, bucket.public) == (BUCKET, False)
    assert supabase_stack.client().storage.list_buckets() == []  # anon: no policy shows it
    error = _refused(lambda: alice.client.storage.get_bucket("nope"))
    assert (error.status, error.message) == ("404", "Bucket not found")


def test_bad_keys_and_sizes_are_refused(alice):
    bucket = alice.client.storage.from_(BUCKET)
    error = _refused(lambda: bucket.upload(f"{alice.id}/a\u00e9", b"x"))
    assert error.status == "400" and "Invalid key" in error.message
    path = _attachment(alice, b"x")
    error = _refused(lambda: bucket.upload(path, b"x" * (50 * 1024 * 1024 + 1)))
    assert error.status == "413"
