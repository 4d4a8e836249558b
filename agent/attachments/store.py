"""Attachments of messages: storing them (bytes first, then the row and its upload in one write), listing
them, and having their bytes again (the local copy, else downloaded: sync.attachments.fetch)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlmodel import select

from agent.attachments.reading import PreparedFile, prepare_bytes
from agent.attachments.settings import AttachmentSettings
from local_schema.models import Attachment, Message
from sync import attachments as blobs


def attach(db, message_id: str, files: Sequence[PreparedFile]) -> list[Attachment]:
    """Keep `files` as attachments of the message: their bytes in the local store, then their rows (and
    their uploads, for the next sync) in one write. Bytes stored without a row (the write failed) are
    harmless: the same bytes attached again reuse them."""
    root = blobs.store_root(db)
    stored = [(f, blobs.put_bytes(root, f.data)) for f in files]
    made: list[Attachment] = []
    with db.write() as session:
        message = session.get(Message, message_id)
        if message is None or message.deleted_at is not None:
            raise ValueError(f"no message {message_id}")
        for file, sha256 in stored:
            row = Attachment(user_id=message.user_id, message_id=message.id, name=file.name,
                             mime_type=file.mime_type, size=file.size, sha256=sha256)
            if message.user_id:
                row.storage_path = f"{message.user_id}/{row.id}"
            session.add(row)
            made.append(row)
        session.flush()
        for row in made:
            session.connection().exec_driver_sql("INSERT INTO attachment_uploads (attachment_id) VALUES (?)",
                                                 (row.id,))
    for file, sha256 in stored:  # a clean-up that ran between the bytes and the row took no live file
        if blobs.local_copy(root, sha256, file.size) is None:
            blobs.put_bytes(root, file.data)
    return made


@dataclass(frozen=True)
class AttachmentInfo:
    id: str
    name: str
    mime_type: str
    size: int
    sha256: str
    message_id: str
    created_at: str
    local: bool  # its bytes are on this device
    upload_waiting: bool  # this device still has to upload them
    upload_error: str | None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def list_attachments(db, message_id: str | None = None) -> list[AttachmentInfo]:
    """Live attachments, newest first (of one message when given)."""
    root = blobs.store_root(db)
    query = ("SELECT a.id, a.name, a.mime_type, a.size, a.sha256, a.message_id, a.created_at,"
             " u.attachment_id IS NOT NULL, u.last_error FROM attachments a"
             " LEFT JOIN attachment_uploads u ON u.attachment_id = a.id WHERE a.deleted_at IS NULL")
    params: dict = {}
    if message_id is not None:
        query += " AND a.message_id = :message"
        params["message"] = message_id
    with db.session() as session:
        rows = session.execute(text(query + " ORDER BY a.created_at DESC, a.id"), params).all()
    return [AttachmentInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                           blobs.local_copy(root, r[4], r[3]) is not None, bool(r[7]), r[8]) for r in rows]


def of_message(db, message_id: str) -> list[Attachment]:
    with db.session() as session:
        return list(session.exec(select(Attachment).where(Attachment.message_id == message_id,
                                                          Attachment.deleted_at.is_(None))
                                 .order_by(Attachment.created_at, Attachment.id)).all())


def bytes_path(db, attachment_id: str, client=None) -> Path:
    """A path to the attachment's checked bytes on this device (downloading them if needed)."""
    return blobs.fetch(db, client, attachment_id)


def prepared(db, attachment: Attachment, client=None, settings: AttachmentSettings | None = None) -> PreparedFile:
    """A stored attachment read again for a request (a retry, a regenerate)."""
    data = bytes_path(db, attachment.id, client).read_bytes()
    return prepare_bytes(attachment.name, data, settings)


def copy_to(db, attachment_id: str, destination: str | Path, client=None) -> Path:
    """Write the attachment's bytes to `destination` (a folder takes the attachment's name); an existing
    file is never overwritten. The copy appears whole or not at all."""
    source = bytes_path(db, attachment_id, client)
    destination = Path(destination).expanduser()
    if destination.is_dir():
        with db.session() as session:
            destination = destination / Path(session.get(Attachment, attachment_id).name).name
    if destination.exists():
        raise ValueError(f"{destination} exists; choose another path")
    fd, temp = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temp, destination)  # fails if someone created it meanwhile: never overwrite
        except FileExistsError:
            raise ValueError(f"{destination} exists; choose another path") from None
    finally:
        os.unlink(temp)
    return destination
