"""What an importer hands the writer: one thread as a tree of messages, cleaned and bounded.

Everything here comes from a file somebody else wrote, so every text is cleaned (no NUL, no lone
surrogate: the server could never store them, agent.storable) and bounded by the server's limits before
it reaches a row: a message longer than MESSAGE_LIMIT is cut with a marker that says so (cutting keeps
the branch whole; skipping it would break the chain of the messages after it), a title by TITLE_LIMIT,
a model name by MODEL_LIMIT.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agent.chat.threads import TITLE_LIMIT, default_title
from agent.chat.turn import MESSAGE_LIMIT, MODEL_LIMIT
from agent.storable import clean_text

CHATGPT, CLAUDE = "chatgpt", "claude"
SOURCES = (CHATGPT, CLAUDE)
SOURCE_NAMES = {CHATGPT: "ChatGPT", CLAUDE: "Claude"}
UNTITLED = "Imported conversation"
SOURCE_ID_LIMIT = 200  # a conversation or node id longer than this is a broken file, not an id


class ImportFailed(ValueError):
    """The file cannot be imported (from here on): str() is one line naming the file, the conversation
    or the place in the file, and what is wrong. What was stored before it stays stored."""


@dataclass
class ImportedMessage:
    source_id: str  # the node id (ChatGPT) or message uuid (Claude) in the export
    parent_source_id: str | None  # the nearest kept ancestor's source id; None for a first message
    role: str  # user | assistant
    content: str
    created_at: datetime | None  # None until `fill_times` gives a message without a time of its own one
    model: str | None = None
    truncated: bool = False


@dataclass
class ImportedThread:
    source: str  # chatgpt | claude
    source_id: str  # the conversation's id in the export
    title: str
    created_at: datetime
    messages: list[ImportedMessage] = field(default_factory=list)  # every parent before its children
    active_leaf: str | None = None  # source id of the message the export showed last
    skipped: int = 0  # messages of the export not imported (system, hidden, empty, reasoning)

    def digest(self) -> str:
        """What the export holds of this thread, in 32 hex digits: equal digests = nothing new to add."""
        h = hashlib.sha256(f"{self.source}\0{self.source_id}\0{self.active_leaf}".encode())
        for message in self.messages:
            h.update(f"\0{message.source_id}\0{message.parent_source_id}".encode())
        return h.hexdigest()[:32]

    @property
    def truncated(self) -> int:
        return sum(1 for m in self.messages if m.truncated)


# --- bounds -----------------------------------------------------------------------------------------------
def truncation_marker(length: int) -> str:
    return (f"\n\n[… cut by the import: the original has {length:,} characters; a message keeps at most "
            f"{MESSAGE_LIMIT:,}]")


def bounded_content(text: str) -> tuple[str, bool]:
    """`text` cleaned and within MESSAGE_LIMIT (cut with a marker saying how long it was); (text, cut)."""
    text = clean_text(text).strip()
    if len(text) <= MESSAGE_LIMIT:
        return text, False
    marker = truncation_marker(len(text))
    return text[:MESSAGE_LIMIT - len(marker)].rstrip() + marker, True


def bounded_title(title: object, first_user_text: str = "") -> str:
    """The export's title on one line within TITLE_LIMIT; without one, the start of the first question."""
    text = " ".join(clean_text(title).split()) if isinstance(title, str) else ""
    if not text:
        text = default_title(first_user_text) if first_user_text.strip() else UNTITLED
    if len(text) > TITLE_LIMIT:
        text = default_title(text, TITLE_LIMIT - 1)
    return text


def bounded_model(model: object) -> str | None:
    if not isinstance(model, str):
        return None
    model = " ".join(clean_text(model).split())[:MODEL_LIMIT]
    return model or None


def source_id(value: object) -> str | None:
    """An id from the export as text (ids are strings; a number is accepted), or None if unusable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        text = clean_text(str(value)).strip()
        return text if text and len(text) <= SOURCE_ID_LIMIT else None
    return None


def fill_times(messages: list[ImportedMessage], started: datetime) -> None:
    """A message without a time of its own takes the conversation's, but never one before the message
    it follows (parents come first in `messages`)."""
    when: dict[str, datetime] = {}
    for message in messages:
        if message.created_at is None:
            parent = when.get(message.parent_source_id) if message.parent_source_id else None
            message.created_at = max(started, parent) if parent else started
        when[message.source_id] = message.created_at


# --- times ------------------------------------------------------------------------------------------------
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # no chat export predates this; an earlier time is a broken one


def epoch_time(value: object) -> datetime | None:
    """ChatGPT's float epoch seconds as a UTC time, or None when missing or not a plausible time."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        moment = datetime.fromtimestamp(float(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return _plausible(moment)


def iso_time(value: object) -> datetime | None:
    """Claude's ISO-8601 text as a UTC time, or None when missing or unreadable."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # an export without a zone writes UTC
    return _plausible(moment.astimezone(UTC))


def _plausible(moment: datetime) -> datetime | None:
    if moment < _EARLIEST:
        return None
    return min(moment, datetime.now(UTC))  # the server keeps no time in the future either
