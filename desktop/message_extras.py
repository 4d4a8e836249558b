"""What the transcript shows beside a message's text (no Qt; read inside background ops): its attachments
(name, type, size, whether the bytes are on this device) and, for a reply, its citations of knowledge
files (agent.knowledge.citations: only indexed files inside their set's folder)."""

from __future__ import annotations

from dataclasses import dataclass

from agent.knowledge.citations import IndexedFiles, citations, may_cite
from sync import attachments as blobs


@dataclass(frozen=True)
class AttachmentChip:
    id: str
    name: str
    mime_type: str
    size: int
    sha256: str
    local: bool  # the bytes are on this device (else the first open downloads them)

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


def decorate(db, rows: list) -> list:
    """Give each row (desktop.models.transcript_model.MessageRow) its attachments and citations."""
    users = [r.id for r in rows if r.role == "user"]
    found: dict[str, list[AttachmentChip]] = {}
    if users:
        root = blobs.store_root(db)
        with db.engine.connect() as conn:
            for i in range(0, len(users), 500):
                chunk = users[i:i + 500]
                for r in conn.exec_driver_sql(
                        "SELECT id, message_id, name, mime_type, size, sha256 FROM attachments WHERE deleted_at IS NULL"
                        f" AND message_id IN ({','.join('?' * len(chunk))}) ORDER BY created_at, id", tuple(chunk)):
                    local = blobs.local_copy(root, r[5], r[4]) is not None
                    found.setdefault(r[1], []).append(AttachmentChip(r[0], r[2], r[3], r[4], r[5], local))
    known = None  # the indexed files, read once, only when a reply looks like it cites something
    for row in rows:
        row.attachments = tuple(found.get(row.id, ()))
        if row.role == "assistant" and may_cite(row.content):
            known = IndexedFiles(db) if known is None else known
            row.citations = tuple(citations(db, row.content, known))
    return rows
