"""A chat request's user messages with their attachments: the same `content` every time a message is sent
— as the new question, and again as history when the thread is reopened, retried or regenerated.

The stored attachment is read again (its local copy, else downloaded through Storage) and built into the
message exactly as it was the first time (agent.attachments.content.build_user_content). A file that
cannot be had or read any more is an AttachmentUnavailable naming it: the turn fails with that sentence
before the request leaves, it never sends a conversation that silently lost a file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlmodel import select

from agent.attachments.content import build_user_content
from agent.attachments.reading import AttachmentRefused, prepare_bytes
from agent.attachments.settings import AttachmentSettings
from local_schema.models import Attachment, Message
from sync import attachments as blobs


class AttachmentUnavailable(AttachmentRefused):
    """A stored attachment whose bytes cannot be had (not on this device and not downloadable)."""


def attachments_in(session, message_ids: Sequence[str]) -> dict[str, list[Attachment]]:
    """The live attachments of each message, in the order they were attached."""
    if not message_ids:
        return {}
    rows = session.exec(select(Attachment).where(Attachment.message_id.in_(list(message_ids)),
                                                 Attachment.deleted_at.is_(None))
                        .order_by(Attachment.created_at, Attachment.id)).all()
    found: dict[str, list[Attachment]] = {}
    for row in rows:
        found.setdefault(row.message_id, []).append(row)
    return found


class RequestContent:
    """`content_of(session, messages)` for agent.prompt.assemble_prompt_in: {message id: content} for the
    user messages that have attachments (the others are sent as their text).

    `storage` returns a Storage client (or None when signed out); it is only called when a file is not
    on this device."""

    def __init__(self, db, *, accepts_images: bool, settings: AttachmentSettings | None = None,
                 storage: Callable[[], object] | None = None) -> None:
        self.db = db
        self.accepts_images = accepts_images
        self.settings = settings or AttachmentSettings()
        self._storage = storage
        self._client: object | None = None

    def __call__(self, session, messages: Sequence[Message]) -> dict[str, str | list[dict]]:
        wanted = attachments_in(session, [m.id for m in messages if m.role == "user"])
        out: dict[str, str | list[dict]] = {}
        for message in messages:
            rows = wanted.get(message.id)
            if rows:
                files = [prepare_bytes(row.name, self._bytes(row), self.settings) for row in rows]
                out[message.id] = build_user_content(message.content, files, accepts_images=self.accepts_images,
                                                     settings=self.settings)
        return out

    def _bytes(self, row: Attachment) -> bytes:
        local = blobs.local_copy(blobs.store_root(self.db), row.sha256, row.size)
        try:
            if local is None and self._client is None and self._storage is not None:
                self._client = self._storage()
            return blobs.fetch(self.db, self._client, row.id).read_bytes()
        except (blobs.AttachmentError, OSError) as exc:
            raise AttachmentUnavailable(f"the attachment {row.name} cannot be sent: {exc}") from None
