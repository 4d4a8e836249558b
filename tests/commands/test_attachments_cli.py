"""`mirari attachments list [--json]` and `mirari attachments get ID --to PATH` on a real data dir."""

from __future__ import annotations

import hashlib
import json

from agent.attachments.reading import prepare_bytes
from agent.attachments.store import attach
from local_schema.database import open_database
from local_schema.models import Conversation, Message
from local_schema.paths import database_path
from sync import attachments as blobs


def _attached(data_dir, *files):
    data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(database_path(data_dir))
    try:
        with db.write() as session:
            thread = Conversation(title="t")
            session.add(thread)
            session.flush()
            message = Message(conversation_id=thread.id, role="user", content="files")
            session.add(message)
        return attach(db, message.id, [prepare_bytes(n, d) for n, d in files]), db.path
    finally:
        db.close()


def test_list_and_get(mirari, tmp_path):
    (row,), _ = _attached(mirari.data_dir, ("notes.md", b"# notes\n"))
    run = mirari("attachments", "list", "--json")
    assert run.code == 0
    (item,) = json.loads(run.out)
    assert item == {"id": row.id, "name": "notes.md", "mime_type": "text/markdown", "size": 8,
                    "sha256": hashlib.sha256(b"# notes\n").hexdigest(), "message_id": row.message_id,
                    "created_at": row.created_at, "local": True, "upload_waiting": True, "upload_error": None}
    text = mirari("attachments", "list")
    assert text.code == 0 and "notes.md  text/markdown  8 B" in text.out and "upload waiting" in text.out
    target = tmp_path / "out.md"
    got = mirari("attachments", "get", row.id[:8], "--to", str(target))
    assert got.code == 0 and got.out.strip() == str(target) and target.read_bytes() == b"# notes\n"
    again = mirari("attachments", "get", row.id, "--to", str(target))
    assert again.code == 1 and again.err.strip() == f"mirari: error: {target} exists; choose another path"
    missing = mirari("attachments", "get", "ffffffff", "--to", str(tmp_path / "x"))
    assert missing.code == 1 and missing.err.strip() == "mirari: error: no attachment ffffffff"


def test_bytes_missing_while_signed_out_is_one_line(mirari, tmp_path):
    (row,), db_path = _attached(mirari.data_dir, ("photo.txt", b"pixels"))
    blobs.blob_path(blobs.store_root(type("Db", (), {"path": db_path})), row.sha256).unlink()
    run = mirari("attachments", "get", row.id, "--to", str(tmp_path / "photo.txt"))
    assert run.code == 1
    assert run.err.strip() == ("mirari: error: photo.txt is not on this device, and you are signed out: "
                               "sign in to download it")
    assert not (tmp_path / "photo.txt").exists()
    assert json.loads(mirari("attachments", "list", "--json").out)[0]["local"] is False


def test_a_connection_says_whether_its_model_takes_images(mirari):
    for extra in ((), ("--accepts-images",)):
        assert mirari("connections", "add", "--name", f"c{len(extra)}", "--base-url", "http://127.0.0.1:9/v1",
                      "--model", "m", *extra).code == 0
    listed = json.loads(mirari("connections", "list", "--json").out)
    assert {c["name"]: c["accepts_images"] for c in listed} == {"c0": False, "c1": True}
