"""One Claude conversation (an item of conversations.json) as an ImportedThread.

The export: `{uuid, name, created_at, chat_messages: [{uuid, sender, text, content, attachments, files,
created_at, parent_message_uuid?}], current_leaf_message_uuid?}`. What is kept:

- `sender` human → user, assistant → assistant; any other sender is skipped;
- order: by `parent_message_uuid` when the messages carry it (branches kept; a parent that is not in
  the conversation, such as the all-zero root id, makes a first message), else the list order as one
  branch;
- the text: the `content` parts' text (tool use and tool results noted, thinking left out), or `text`
  when there are no text parts;
- attachments: their `extracted_content` (the text Claude itself was given) is included under the
  message as a fenced block headed by the file name, within the message limit; files without
  extracted text (images) are noted as "[file omitted: name]";
- the active leaf: `current_leaf_message_uuid` (or its nearest kept ancestor), else the last message.
"""

from __future__ import annotations

from datetime import UTC, datetime

from agent.imports.chatgpt import fenced
from agent.imports.model import (
    CLAUDE,
    ImportedMessage,
    ImportedThread,
    ImportFailed,
    bounded_content,
    bounded_title,
    fill_times,
    iso_time,
    source_id,
)
from agent.imports.nodes import kept_parents, nearest_kept, parents_first

ROLES = {"human": "user", "assistant": "assistant"}
NAME_LIMIT = 200  # of a file name shown in a note


def looks_like(conversation: object) -> bool:
    return isinstance(conversation, dict) and isinstance(conversation.get("chat_messages"), list)


def convert(conversation: object, position: int) -> ImportedThread:
    """ImportFailed when `conversation` is not a Claude conversation at all."""
    if not looks_like(conversation):
        raise ImportFailed(f"conversation {position} has no `chat_messages`: this is not a Claude export "
                           "(a ChatGPT export? use `chatgpt`)")
    ident = source_id(conversation.get("uuid")) or source_id(conversation.get("id"))
    if ident is None:
        raise ImportFailed(f"conversation {position} has no uuid")
    started = (iso_time(conversation.get("created_at")) or iso_time(conversation.get("updated_at"))
               or datetime.now(UTC))
    raw = [m for m in conversation["chat_messages"] if isinstance(m, dict)]

    order: list[str] = []
    parent_of: dict[str, str | None] = {}
    by_id: dict[str, dict] = {}
    linked = any(source_id(m.get("parent_message_uuid")) for m in raw)
    previous = None
    for index, message in enumerate(raw):
        ident_m = source_id(message.get("uuid")) or f"#{index}"  # an export without uuids still imports
        if ident_m in by_id:
            continue
        by_id[ident_m] = message
        order.append(ident_m)
        parent_of[ident_m] = source_id(message.get("parent_message_uuid")) if linked else previous
        previous = ident_m
    ordered = parents_first(order, parent_of)

    kept: dict[str, ImportedMessage] = {}
    for ident_m in ordered:
        found = _message(ident_m, by_id[ident_m])
        if found is not None:
            kept[ident_m] = found
    skipped = len(order) - len(kept)
    nearest = kept_parents(ordered, parent_of, set(kept))
    messages = []
    for ident_m in ordered:
        if ident_m in kept:
            kept[ident_m].parent_source_id = nearest[ident_m]
            messages.append(kept[ident_m])
    fill_times(messages, started)
    leaf = nearest_kept(source_id(conversation.get("current_leaf_message_uuid")), nearest, set(kept))
    if leaf is None:
        leaf = next((m for m in reversed(order) if m in kept), None)
    first_question = next((m.content for m in messages if m.role == "user"), "")
    return ImportedThread(CLAUDE, ident, bounded_title(conversation.get("name"), first_question), started,
                          messages, leaf, skipped)


def _message(ident: str, message: dict) -> ImportedMessage | None:
    role = ROLES.get(message.get("sender"))
    if role is None:
        return None
    text = message_text(message)
    text, cut = bounded_content(text)
    if not text:
        return None
    when = iso_time(message.get("created_at"))
    return ImportedMessage(ident, None, role, text, when, None, cut)


def message_text(message: dict) -> str:
    """The message's words plus notes for what is not text and its attachments' text; never raises."""
    words, notes = _content(message.get("content"))
    if not words.strip() and isinstance(message.get("text"), str):
        words = message["text"]
    for attachment in _dicts(message.get("attachments")):
        name = _name(attachment.get("file_name"))
        extracted = attachment.get("extracted_content")
        if isinstance(extracted, str) and extracted.strip():
            notes.append(f"[attachment: {name}]\n{fenced(extracted)}")
        else:
            notes.append(f"[file omitted: {name}]")
    for file in _dicts(message.get("files")) + _dicts(message.get("files_v2")):
        notes.append(f"[file omitted: {_name(file.get('file_name'))}]")
    return "\n\n".join(p for p in [words.strip(), *dict.fromkeys(notes)] if p)


def _content(content: object) -> tuple[str, list[str]]:
    """(the text parts joined, notes for the other parts)."""
    words, notes = [], []
    for part in _dicts(content):
        kind = part.get("type")
        if kind == "text":
            if isinstance(part.get("text"), str) and part["text"].strip():
                words.append(part["text"])
        elif kind == "tool_use":
            notes.append(f"[tool use: {_name(part.get('name'))}]")
        elif kind == "tool_result":
            notes.append(f"[tool result: {_name(part.get('name'))}]")
        elif kind in ("thinking", "redacted_thinking"):
            continue  # the model's reasoning was never part of the answer shown
        else:
            notes.append(f"[content of type {_name(kind)} omitted]")
    return "\n\n".join(words), notes


def _dicts(value: object) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _name(value: object) -> str:
    return " ".join(value.split())[:NAME_LIMIT] if isinstance(value, str) and value.strip() else "unnamed"
