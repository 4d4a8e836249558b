"""Deterministic ids for imported rows, and what this database remembers of each import.

An imported thread's id is uuid5(namespace, "<source>:conversation:<its id in the export>") and each
message's uuid5(the thread's id, "<source>:message:<node id>"), so importing the same file again lands
on the same ids and adds nothing. The namespace is the account's when the database belongs to one
(the same person importing the same file on two devices makes the same rows, which sync recognises as
one), else a random salt kept in this database's `sync_meta` (local only). Either way two people who
import one shared file never make rows with the same primary key on the server.

`sync_meta` also keeps one record per imported conversation (`imported:<source>:<hash of its id>` →
the thread's id and the digest of what was imported), because a thread deleted here is really gone
from this file: the record is what keeps a deleted thread deleted on the next import. A device that
never imported the file has no record; its re-import makes the rows again under the same ids, and the
next sync finds them deleted on the server and deletes them here again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session

IMPORT_NAMESPACE = uuid.UUID("5f0c2d4e-8b1a-4c57-9d3e-6a2b7e1f0c93")  # fixed forever: ids depend on it
SALT_KEY = "import_salt"
RECORD_PREFIX = "imported:"


def namespace(account_id: str | None, salt: str | None) -> uuid.UUID:
    if account_id:
        return uuid.uuid5(IMPORT_NAMESPACE, f"account:{account_id.lower()}")
    if not salt:
        raise ValueError("a signed-out import needs this database's salt")
    return uuid.uuid5(IMPORT_NAMESPACE, f"local:{salt}")


def conversation_uuid(space: uuid.UUID, source: str, source_id: str) -> str:
    return str(uuid.uuid5(space, f"{source}:conversation:{source_id}"))


def message_uuid(conversation_id: str, source: str, node_id: str) -> str:
    return str(uuid.uuid5(uuid.UUID(conversation_id), f"{source}:message:{node_id}"))


def _get(session: Session, key: str) -> str | None:
    return session.execute(text("SELECT value FROM sync_meta WHERE key = :k"), {"k": key}).scalar()


def _put(session: Session, key: str, value: str) -> None:
    session.execute(text("INSERT INTO sync_meta (key, value) VALUES (:k, :v) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value"), {"k": key, "v": value})


def database_salt_in(session: Session, create: bool) -> str | None:
    """This database's import salt; made (inside the caller's write transaction) when `create`."""
    salt = _get(session, SALT_KEY)
    if salt is None and create:
        salt = uuid.uuid4().hex
        _put(session, SALT_KEY, salt)
    return salt


@dataclass
class Record:
    conversation_id: str
    digest: str


def record_key(source: str, source_id: str) -> str:
    return f"{RECORD_PREFIX}{source}:{hashlib.sha256(source_id.encode()).hexdigest()[:32]}"


def read_record_in(session: Session, source: str, source_id: str) -> Record | None:
    raw = _get(session, record_key(source, source_id))
    try:
        value = json.loads(raw) if raw else None
        return Record(str(uuid.UUID(value["id"])), str(value["digest"])) if isinstance(value, dict) else None
    except (ValueError, KeyError, TypeError):
        return None  # a damaged record counts as none: the ids find the thread anyway


def write_record_in(session: Session, source: str, source_id: str, record: Record) -> None:
    _put(session, record_key(source, source_id), json.dumps({"id": record.conversation_id, "digest": record.digest}))
