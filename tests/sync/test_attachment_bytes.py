"""Attachment bytes between two devices on the stand-in: the row is pushed, then the bytes uploaded; the
other device downloads them on demand and checks their SHA-256; another user and the public URL are
refused; deleting the message removes the object and the local copies; interrupted uploads and downloads
restart cleanly and never leave a half file."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

import httpx
import psycopg
import pytest
from PIL import Image

from agent.attachments.reading import prepare_bytes
from agent.attachments.store import attach, copy_to, list_attachments
from local_schema import paths
from local_schema.models import Conversation, Message
from sync import attachments as blobs
from sync.storage import StorageFailed

TEXT = ("# Notes\n" + "a line of notes, with ünïcødé\n" * 400).encode()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 90)).save(out, "PNG")
    return out.getvalue()


def _message(device, content: str = "see attached") -> str:
    with device.db.write() as session:
        thread = Conversation(title="files")
        session.add(thread)
        session.flush()
        message = Message(conversation_id=thread.id, role="user", content=content)
        session.add(message)
    return message.id


def _attach(device, *files: tuple[str, bytes]) -> list:
    message_id = _message(device)
    return attach(device.db, message_id, [prepare_bytes(name, data) for name, data in files])


def _objects(stack, user_id: str) -> dict[str, int]:
    with psycopg.connect(stack.db_url) as conn:
        return dict(conn.execute("select name, (metadata->>'size')::int from storage.objects"
                                 " where bucket_id = 'attachments' and owner_id = %s", [user_id]).fetchall())


def _no_part_files(device) -> None:
    root = blobs.store_root(device.db)
    assert not list(root.glob(f"**/*{blobs.PART}")) if root.exists() else True


def _uploads_waiting(device) -> int:
    return device.scalar("SELECT count(*) FROM attachment_uploads")


def test_bytes_reach_the_other_device_equal_and_checked(devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    png = _png()
    text_row, image_row = _attach(a, ("notes.md", TEXT), ("photo.png", png))
    root = blobs.store_root(a.db)
    assert root == paths.attachments_dir(a.db.path)
    blob = blobs.blob_path(root, hashlib.sha256(TEXT).hexdigest())
    assert blob.read_bytes() == TEXT
    if os.name == "posix":
        assert stat.S_IMODE(blob.stat().st_mode) == 0o600 and stat.S_IMODE(blob.parent.stat().st_mode) == 0o700
    a.sync()
    assert _uploads_waiting(a) == 0
    objects = _objects(supabase_stack, user[2])
    assert objects == {f"{user[2]}/{text_row.id}": len(TEXT), f"{user[2]}/{image_row.id}": len(png)}

    b.sync()
    listed = {item.name: item for item in list_attachments(b.db)}
    assert set(listed) == {"notes.md", "photo.png"} and not any(item.local for item in listed.values())
    assert listed["notes.md"].mime_type == "text/markdown" and listed["photo.png"].size == len(png)
    for row, data in ((text_row, TEXT), (image_row, png)):
        path = blobs.fetch(b.db, b.engine.storage(), row.id)
        assert path.read_bytes() == data and path.name == hashlib.sha256(data).hexdigest()
    assert all(item.local for item in list_attachments(b.db))
    out = copy_to(b.db, image_row.id, b.data_dir)  # a folder: the attachment's name
    assert out.name == "photo.png" and out.read_bytes() == png
    with pytest.raises(ValueError, match="exists"):
        copy_to(b.db, image_row.id, out)
    _no_part_files(b)


def test_another_user_and_the_public_url_are_refused(devices, supabase_stack, user, tmp_path):
    from tests.sync.helpers import Device

    a = devices("a")
    (row,) = _attach(a, ("notes.md", TEXT))
    a.sync()
    path = f"{user[2]}/{row.id}"
    email, password, _ = supabase_stack.new_user()
    other = Device(supabase_stack, tmp_path / "other")
    try:
        other.engine.sign_in(email, password)
        with pytest.raises(StorageFailed) as refused:
            other.engine.storage().download_to("attachments", path, io.BytesIO(), len(TEXT))
        assert refused.value.not_found  # RLS hides it: Storage's "Object not found"
        with pytest.raises(StorageFailed) as refused:
            other.engine.storage().upload("attachments", path, io.BytesIO(b"mine now"), 8, "text/plain")
        assert refused.value.status == 403
        assert other.engine.storage().remove("attachments", [path]) == []
    finally:
        other.close()
    public = httpx.get(f"{supabase_stack.url}/storage/v1/object/public/attachments/{path}")
    assert public.status_code == 400 and public.json()["message"] == "Bucket not found"
    assert _objects(supabase_stack, user[2]) == {path: len(TEXT)}


def test_deleting_the_message_removes_objects_and_local_copies(devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    kept, gone = _attach(a, ("keep.md", b"kept\n")), _attach(a, ("gone.md", TEXT), ("same.md", TEXT))
    a.sync()
    b.sync()
    for row in gone:
        blobs.fetch(b.db, b.engine.storage(), row.id)
    sha = gone[0].sha256
    assert gone[0].sha256 == gone[1].sha256  # one local file for both
    a.execute("DELETE FROM messages WHERE id = ?", gone[0].message_id)
    assert a.scalar("SELECT count(*) FROM attachment_removals WHERE storage_path IS NOT NULL") == 2
    a.sync()
    assert set(_objects(supabase_stack, user[2])) == {f"{user[2]}/{kept[0].id}"}
    assert a.scalar("SELECT count(*) FROM attachment_removals") == 0
    assert blobs.local_copy(blobs.store_root(a.db), sha) is None
    with psycopg.connect(supabase_stack.db_url) as conn:
        tombstoned = conn.execute("select count(*) from public.attachments where message_id = %s"
                                  " and deleted_at is not null", [gone[0].message_id]).fetchone()[0]
    assert tombstoned == 2
    b.sync()  # the pulled tombstones: rows gone, the local copy goes, no server call needed
    assert {item.name for item in list_attachments(b.db)} == {"keep.md"}
    assert blobs.local_copy(blobs.store_root(b.db), sha) is None
    assert b.scalar("SELECT count(*) FROM attachment_removals") == 0


def test_an_interrupted_upload_is_sent_again_whole(devices, supabase_stack, user):
    a = devices("a")
    (row,) = _attach(a, ("notes.md", TEXT))
    supabase_stack.faults.drop_response_after_commit("POST", "/storage/v1/object/attachments")
    a.sync()  # the object was stored, the reply lost: the upload waits for its retry
    assert supabase_stack.faults.hits("drop") == 1
    assert a.scalar("SELECT attempts FROM attachment_uploads") == 1
    assert a.scalar("SELECT last_error FROM attachment_uploads").startswith("upload ")
    supabase_stack.faults.fail_next("POST", "/storage/v1/object/attachments", 503,
                                    {"statusCode": "503", "error": "SlowDown", "message": "try later"})
    a.execute("UPDATE attachment_uploads SET next_attempt_at = NULL")
    a.sync()
    assert a.scalar("SELECT attempts FROM attachment_uploads") == 2
    assert "try later" in a.scalar("SELECT last_error FROM attachment_uploads")
    a.execute("UPDATE attachment_uploads SET next_attempt_at = NULL")
    a.sync()  # the same bytes again, x-upsert: no "already exists"
    assert _uploads_waiting(a) == 0
    assert _objects(supabase_stack, user[2]) == {f"{user[2]}/{row.id}": len(TEXT)}
    buffer = io.BytesIO()
    a.engine.storage().download_to("attachments", f"{user[2]}/{row.id}", buffer, len(TEXT))
    assert buffer.getvalue() == TEXT


def test_an_interrupted_download_restarts_and_leaves_no_half_file(devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    (row,) = _attach(a, ("notes.md", TEXT))
    a.sync()
    b.sync()
    path = f"/storage/v1/object/authenticated/attachments/{user[2]}/{row.id}"
    supabase_stack.faults.drop_response_after_commit("GET", path)
    supabase_stack.faults.fail_next("GET", path, 503, {"statusCode": "503", "error": "x", "message": "busy"})
    waits: list[float] = []
    got = blobs.fetch(b.db, b.engine.storage(), row.id, sleep=waits.append)
    assert got.read_bytes() == TEXT and len(waits) == 2  # two failures, backed off, then whole
    _no_part_files(b)
    got.unlink()
    supabase_stack.faults.fail_next("GET", path, 503, {"statusCode": "503", "error": "x", "message": "busy"},
                                    times=10)
    with pytest.raises(blobs.AttachmentError, match="could not be downloaded: .*busy"):
        blobs.fetch(b.db, b.engine.storage(), row.id, sleep=lambda _s: None)
    assert blobs.local_copy(blobs.store_root(b.db), row.sha256) is None
    _no_part_files(b)


def test_bytes_that_do_not_match_the_row_are_refused(devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    (row,) = _attach(a, ("notes.md", TEXT))  # made before its owner is known here: the push gives the path
    assert row.storage_path is None
    a.sync()
    b.sync()
    # The object replaced behind the app's back: same size, other bytes.
    forged = TEXT.replace(b"notes", b"NOTES")
    a.engine.storage().upload("attachments", f"{user[2]}/{row.id}", io.BytesIO(forged), len(forged),
                              "text/markdown")
    with pytest.raises(blobs.AttachmentError, match="hash to"):
        blobs.fetch(b.db, b.engine.storage(), row.id, sleep=lambda _s: None)
    assert blobs.local_copy(blobs.store_root(b.db), row.sha256) is None
    _no_part_files(b)


def test_a_row_without_bytes_yet_says_so(devices):
    a, b = devices("a"), devices("b")
    (row,) = _attach(a, ("notes.md", TEXT))
    a.execute("UPDATE attachment_uploads SET next_attempt_at = '9999-01-01T00:00:00.000000+00:00'")
    a.sync()  # the row goes, the upload waits
    b.sync()
    with pytest.raises(blobs.AttachmentError, match="not on the server yet"):
        blobs.fetch(b.db, b.engine.storage(), row.id, sleep=lambda _s: None)


def test_signed_out_attachments_move_with_their_database_and_upload_after_sign_in(devices, supabase_stack, user):
    a = devices("a", sign_in=False)
    (row,) = _attach(a, ("notes.md", TEXT))
    signed_out_files = paths.attachments_dir(a.db.path)
    assert row.storage_path is None and (signed_out_files / row.sha256[:2] / row.sha256).exists()
    a.engine.close_database()
    a.engine.sign_in(user[0], user[1])
    assert not signed_out_files.exists()
    a.sync()
    assert a.rows("attachments")[row.id]["storage_path"] == f"{user[2]}/{row.id}"
    assert _objects(supabase_stack, user[2]) == {f"{user[2]}/{row.id}": len(TEXT)}
    assert Path(blobs.fetch(a.db, None, row.id)).read_bytes() == TEXT
