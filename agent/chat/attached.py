"""What a chat turn does with attachments and knowledge, beside the turn itself (agent.chat.turn): check
files against the connection, stage their bytes, keep an edited question's files, find the knowledge
passages for a question and read a reply's citations."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agent.attachments.content import ImagesNotAccepted, image_refusal
from agent.attachments.reading import PreparedFile, prepare_bytes
from agent.attachments.request import AttachmentUnavailable
from agent.attachments.settings import AttachmentSettings
from agent.attachments.store import attach_in, of_message, restage_if_cleaned, stage
from agent.knowledge.citations import Citation, citations
from agent.knowledge.search import Passage, knowledge_block, passages_for_turn
from local_schema.models import AgentConnection
from sync import attachments as blobs

__all__ = ["attach_in", "check_images", "citations_in_reply", "kept", "knowledge_for", "restage_if_cleaned",
           "stage"]


def check_images(connection: AgentConnection | None, files: Sequence[PreparedFile]) -> None:
    """ImagesNotAccepted when `files` has an image and the connection's model does not take images."""
    images = [f for f in files if f.is_image]
    if images and not (connection is not None and connection.accepts_images):
        raise ImagesNotAccepted(image_refusal(images))


def kept(db, message_id: str, keep: Sequence[str] | None, storage: Callable[[], object] | None,
         settings: AttachmentSettings) -> list[PreparedFile]:
    """The attachments of `message_id` an edit keeps (None: all; else the ids in `keep`), read again."""
    rows = [a for a in of_message(db, message_id) if keep is None or a.id in keep]
    unknown = set(keep or ()) - {a.id for a in rows}
    if unknown:
        raise ValueError(f"the message has no attachment {sorted(unknown)[0]}")
    files = []
    client = None
    for row in rows:
        try:
            if client is None and storage is not None and \
                    blobs.local_copy(blobs.store_root(db), row.sha256, row.size) is None:
                client = storage()
            files.append(prepare_bytes(row.name, blobs.fetch(db, client, row.id).read_bytes(), settings))
        except (blobs.AttachmentError, OSError) as exc:
            raise AttachmentUnavailable(f"the attachment {row.name} cannot be kept: {exc}") from None
    return files


def knowledge_for(db, names: Sequence[str], question: str) -> tuple[list[Passage], str]:
    """(the passages for the question, the block the request carries); ([], "") without a set."""
    if not names:
        return [], ""
    passages = passages_for_turn(db, names, question)
    return passages, knowledge_block(passages)


def citations_in_reply(db, text: str) -> list[Citation]:
    return citations(db, text)
