"""One ChatGPT conversation (an item of conversations.json) as an ImportedThread.

The export (see docs/console.md, "Import"): `mapping` holds every node `{id, parent, children, message}`;
`current_node` is the end of the branch the person last looked at. What is kept:

- every branch (a regenerated answer or an edited question is a sibling node);
- user and assistant messages with something to show; `tool` messages (code interpreter output,
  browsing results, image generations) as assistant messages that start with "[tool: name]", since
  the stored roles are system/user/assistant and their output was part of what the person read;
- not kept (counted as skipped): nodes without a message (the root), system messages, hidden ones
  (custom instructions, memory context: `is_visually_hidden_from_conversation`, `is_user_system_message`,
  `user_editable_context`), reasoning (`thoughts`, `reasoning_recap`), and messages left empty. Their
  children hang under the nearest kept ancestor;
- `current_node` (or its nearest kept ancestor) becomes the active leaf;
- times from `create_time` (epoch seconds); a message without one takes the conversation's time;
- the model slug (`metadata.model_slug`, else the conversation's `default_model_slug`) on replies.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from agent.imports.model import (
    CHATGPT,
    ImportedMessage,
    ImportedThread,
    ImportFailed,
    bounded_content,
    bounded_model,
    bounded_title,
    epoch_time,
    fill_times,
    source_id,
)
from agent.imports.nodes import kept_parents, nearest_kept, parents_first

SKIPPED_TYPES = {"user_editable_context", "model_editable_context", "thoughts", "reasoning_recap"}
_LANGUAGE = re.compile(r"[^A-Za-z0-9_+#.-]")  # a fence's info string: no spaces, no backticks
ASSET_NOTES = {
    "image_asset_pointer": "[image omitted]",
    "audio_asset_pointer": "[audio omitted]",
    "real_time_user_audio_video_asset_pointer": "[audio/video omitted]",
    "video_container_asset_pointer": "[video omitted]",
}


def looks_like(conversation: object) -> bool:
    return isinstance(conversation, dict) and isinstance(conversation.get("mapping"), dict)


def convert(conversation: object, position: int) -> ImportedThread:
    """ImportFailed when `conversation` is not a ChatGPT conversation at all."""
    if not looks_like(conversation):
        raise ImportFailed(f"conversation {position} has no `mapping` of messages: this is not a ChatGPT "
                           "export (a Claude export? use `claude`)")
    ident = source_id(conversation.get("conversation_id")) or source_id(conversation.get("id"))
    if ident is None:
        raise ImportFailed(f"conversation {position} has no id")
    started = epoch_time(conversation.get("create_time")) or epoch_time(conversation.get("update_time"))
    started = started or datetime.now(UTC)
    default_model = conversation.get("default_model_slug")
    mapping: dict = conversation["mapping"]

    parent_of: dict[str, str | None] = {}
    order: list[str] = []
    for key, node in mapping.items():
        node_id = source_id(node.get("id") if isinstance(node, dict) else None) or source_id(key)
        if node_id is None or not isinstance(node, dict):
            continue
        order.append(node_id)
        parent_of[node_id] = source_id(node.get("parent"))
    ordered = parents_first(order, parent_of)
    by_id = {source_id(n.get("id")) or source_id(k): n for k, n in mapping.items() if isinstance(n, dict)}

    kept: dict[str, ImportedMessage] = {}
    skipped = 0
    for node_id in ordered:
        message = by_id[node_id].get("message")
        if not isinstance(message, dict):
            continue  # the root and other empty nodes: structure, not a message
        found = _message(node_id, message, default_model)
        if found is None:
            skipped += 1
        else:
            kept[node_id] = found
    reached = set(ordered)  # nodes in a parent cycle reach no root: left out, counted as skipped
    skipped += sum(1 for n in order if n not in reached and isinstance(by_id[n].get("message"), dict))

    nearest = kept_parents(ordered, parent_of, set(kept))
    messages = []
    for node_id in ordered:
        if node_id in kept:
            message = kept[node_id]
            message.parent_source_id = nearest[node_id]
            messages.append(message)
    fill_times(messages, started)
    first_question = next((m.content for m in messages if m.role == "user"), "")
    leaf = nearest_kept(source_id(conversation.get("current_node")), nearest, set(kept))
    if leaf is None and messages:
        leaf = _newest_leaf(messages)
    return ImportedThread(CHATGPT, ident, bounded_title(conversation.get("title"), first_question), started,
                          messages, leaf, skipped)


def _newest_leaf(messages: list[ImportedMessage]) -> str:
    parents = {m.parent_source_id for m in messages}
    leaves = [(m.created_at, i, m.source_id) for i, m in enumerate(messages) if m.source_id not in parents]
    return max(leaves)[2]


def _message(node_id: str, message: dict, default_model: object) -> ImportedMessage | None:
    author = message.get("author") if isinstance(message.get("author"), dict) else {}
    role = author.get("role")
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    content = message.get("content") if isinstance(message.get("content"), dict) else {}
    kind = content.get("content_type")
    if role not in ("user", "assistant", "tool") or kind in SKIPPED_TYPES:
        return None
    if metadata.get("is_visually_hidden_from_conversation") or metadata.get("is_user_system_message"):
        return None
    text = flatten(content)
    if role == "tool" and text.strip():
        name = author.get("name")
        text = f"[tool: {name}]\n\n{text}" if isinstance(name, str) and name.strip() else f"[tool]\n\n{text}"
    text, cut = bounded_content(text)
    if not text:
        return None
    when = epoch_time(message.get("create_time"))
    model = None
    if role != "user":
        model = bounded_model(metadata.get("model_slug")) or bounded_model(default_model)
    return ImportedMessage(node_id, None, "user" if role == "user" else "assistant", text, when, model, cut)


# --- content by type --------------------------------------------------------------------------------------
def flatten(content: dict) -> str:
    """The text a person saw, from a message's `content`, by `content_type`; never raises."""
    kind = content.get("content_type")
    if kind in ("text", "multimodal_text"):
        return _parts(content.get("parts"))
    if kind == "code":
        return fenced(_text(content.get("text")), _text(content.get("language")))
    if kind == "execution_output":
        return quoted(_text(content.get("text")))
    if kind == "tether_quote":
        head = " · ".join(p for p in (_text(content.get("title")), _text(content.get("url"))) if p)
        return quoted("\n\n".join(p for p in (head, _text(content.get("text"))) if p))
    if kind == "tether_browsing_display":
        return quoted(_text(content.get("result")))
    if kind == "system_error":
        return f"[error: {_text(content.get('name')) or 'unknown'}] {_text(content.get('text'))}".strip()
    name = kind if isinstance(kind, str) and kind.strip() else "unknown"
    text = _text(content.get("text")) or _parts(content.get("parts"))
    note = f"[content of type {name[:60]} omitted]"
    return f"{text}\n\n{note}" if text else note


def _parts(parts: object) -> str:
    if not isinstance(parts, list):
        return ""
    pieces = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, dict):
            pieces.append(_part(part))
        elif part is not None:
            pieces.append(json.dumps(part, ensure_ascii=False)[:1000])
    return "\n\n".join(p for p in pieces if p.strip())


def _part(part: dict) -> str:
    kind = part.get("content_type")
    if kind == "audio_transcription":
        return _text(part.get("text"))
    if kind in ASSET_NOTES:
        return ASSET_NOTES[kind]
    if isinstance(part.get("text"), str):
        return part["text"]
    name = kind if isinstance(kind, str) and kind.strip() else "unknown"
    return f"[{name[:60]} omitted]"


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def fenced(code: str, language: str = "") -> str:
    """A Markdown fenced block that no backtick run inside `code` can close early."""
    if not code.strip():
        return ""
    language = _LANGUAGE.sub("", language)[:40]
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}{'' if language == 'unknown' else language}\n{code.rstrip()}\n{fence}"


def quoted(text: str) -> str:
    text = text.strip("\n")
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n")) if text.strip() else ""
