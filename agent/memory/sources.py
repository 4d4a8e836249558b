"""Where a memory node came from: the `source` column, read and written in one place.

Forms (docs/memory.md, "Sources"; plus the message a promotion came from):

    manual                                       typed in the Atlas or with `mirari memory add`
    conversation:<conversation id>               promoted from a Console thread (the original's form)
    conversation:<conversation id>#<message id>  ... from that message of the thread (what we write)
    mirror:<mirror report id>                    a Mirror report's recommendation or citation
    template:<template id>                       installed from a template's seed memory
    mcp:<app name>                               added by an outside app through `mirari mcp serve`

Anything else (rows written by other clients) is read as kind "other" and shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, select

from local_schema.models import Conversation, InstalledTemplate, MirrorReport, Template

MANUAL = "manual"
SOURCE_LIMIT = 500  # the server's memory_nodes_source_length check
KINDS = ("conversation", "mirror", "template")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_FORM = re.compile(rf"^(conversation|mirror|template):({_UUID})(?:#({_UUID}))?$")
APP_NAME_LIMIT = 100


@dataclass(frozen=True)
class Source:
    kind: str  # manual | conversation | mirror | template | mcp | other
    id: str | None = None  # the conversation, report or template
    message_id: str | None = None  # conversation sources only, when known
    raw: str = MANUAL

    @property
    def linkable(self) -> bool:
        return self.kind in KINDS


def parse_source(text: str | None) -> Source:
    """Read a stored `source` (never raises: unknown forms are kind "other")."""
    raw = (text or "").strip()
    if not raw or raw == MANUAL:
        return Source(MANUAL, raw=raw or MANUAL)
    if raw.startswith("mcp:") and 0 < len(raw[4:].strip()) <= APP_NAME_LIMIT and "\n" not in raw:
        return Source("mcp", raw[4:].strip(), raw=raw)
    match = _FORM.match(raw)
    if match is None:
        return Source("other", raw=raw)
    kind, ident, message = match.groups()
    if message and kind != "conversation":
        return Source("other", raw=raw)
    return Source(kind, ident.lower(), message.lower() if message else None, raw)


def conversation_source(conversation_id: str, message_id: str | None = None) -> str:
    return f"conversation:{conversation_id}" + (f"#{message_id}" if message_id else "")


def mirror_source(report_id: str) -> str:
    return f"mirror:{report_id}"


def template_source(template_id: str) -> str:
    return f"template:{template_id}"


def app_source(app_name: str) -> str:
    """`mcp:<app>` for a fact an outside app added; the name on one line, bounded."""
    name = " ".join((app_name or "").split())[:APP_NAME_LIMIT] or "unknown app"
    return f"mcp:{name}"


def check_source(text: str | None) -> str:
    """The value to store for a new node's source; ValueError for anything not in the forms above."""
    raw = (text or MANUAL).strip()
    if parse_source(raw).kind == "other":
        raise ValueError(f"Unknown memory source {raw[:80]!r}: use manual, conversation:<id>[#<message id>], "
                         "mirror:<id>, template:<id> or mcp:<app name>.")
    return raw


def describe_sources_in(session: Session, sources: Iterable[str | None]) -> dict[str, str]:
    """A short human text for each distinct stored source: 'manual', 'Console · <thread title>',
    'Mirror · <report title>', 'Template · <name>', or '… (deleted)' when the row is gone."""
    parsed = {raw or MANUAL: parse_source(raw) for raw in sources}
    wanted: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for source in parsed.values():
        if source.linkable:
            wanted[source.kind].add(source.id)
    titles: dict[tuple[str, str], str] = {}
    for kind, model, column in (("conversation", Conversation, Conversation.title),
                                ("mirror", MirrorReport, MirrorReport.title),
                                ("template", Template, Template.name)):
        if wanted[kind]:
            rows = session.exec(select(model.id, column).where(model.id.in_(wanted[kind]),
                                                               model.deleted_at.is_(None))).all()
            titles.update({(kind, ident): (title or "untitled") for ident, title in rows})
    # Another author's template is never in the local `templates` table: its name was recorded when it
    # was installed on this device (agent.templates.install).
    unnamed = {ident for ident in wanted["template"] if ("template", ident) not in titles}
    if unnamed:
        rows = session.exec(select(InstalledTemplate.template_id, InstalledTemplate.name)
                            .where(InstalledTemplate.template_id.in_(unnamed))).all()
        titles.update({("template", ident): name for ident, name in rows})
    label = {"conversation": "Console", "mirror": "Mirror", "template": "Template"}
    out: dict[str, str] = {}
    for raw, source in parsed.items():
        if source.kind == "mcp":
            out[raw] = f"App · {source.id}"
        elif not source.linkable:
            out[raw] = source.raw
        else:
            title = titles.get((source.kind, source.id))
            out[raw] = f"{label[source.kind]} · {title}" if title is not None else f"{label[source.kind]} (deleted)"
    return out
