"""Templates: publish your skills and memory, list yours, export and import files.

Publishing writes one `templates` row locally; sync pushes it, and a public one then appears in the
catalogue (sync/catalogue.py browses and installs online). Only the whitelisted fields of each skill
and memory node go into the payload (`agent.templates.payload`): never ids, owners, statuses, scores,
sources, connections or keys. `preview()` returns exactly the document that will be shared.

A `.mirari-template.json` file carries one template for sharing without a server. Importing it is an
install from the file: validated first like a publish (shape, sizes and item counts; nothing in it is
executed or interpreted) — when anything is wrong, nothing is written. The `id` an export writes is
for the reader's information only: an import never uses an id taken from the file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, select

from agent.templates.payload import (
    TemplateInvalid,
    build_payload,
    memory_entry,
    skill_entry,
    validate_template,
)
from local_schema.atomic import atomic_write
from local_schema.models import MemoryNode, Skill, Template
from local_schema.timestamps import utc_now

FILE_SUFFIX = ".mirari-template.json"
FILE_FORMAT = "mirari-template"
FILE_VERSION = 1
# The payload is at most 1 MB as the server measures it; a pretty-printed or ASCII-escaped file of it
# can be a few times larger. Anything beyond this is refused before it is even parsed.
FILE_BYTES_LIMIT = 4_000_000


class TemplateError(ValueError):
    """A template operation cannot be done as asked; str() is the user-facing reason."""


@dataclass(frozen=True)
class TemplateInfo:
    id: str
    name: str
    description: str | None
    category: str | None
    is_public: bool
    installs: int
    skill_count: int
    memory_count: int
    created_at: str
    waiting: bool  # published here, not yet on the server (the next sync sends it)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TemplateDocument:
    """A template as read from a file, already validated. It has no id: whatever id a file claims is
    not trusted (a file could claim a catalogue template's id and pass for it), so an import gets a
    source of its own (`agent.templates.install.import_file`)."""

    name: str
    description: str | None
    category: str | None
    payload: dict


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _live_rows(session: Session, model, ids, what: str) -> list:
    rows = []
    for row_id in dict.fromkeys(ids):  # keep the user's order, drop repeats
        row = session.get(model, row_id)
        if row is None or row.deleted_at is not None:
            raise TemplateError(f"There is no {what} {row_id}.")
        rows.append(row)
    return rows


def _document(session: Session, name, description, category, skill_ids, memory_ids, is_public) -> dict:
    from agent.memory.atlas import effective_strength
    from agent.skills.tools import stored_tools

    skills = _live_rows(session, Skill, skill_ids, "skill")
    nodes = _live_rows(session, MemoryNode, memory_ids, "memory node")
    if not skills and not nodes:
        raise TemplateError("Pick at least one skill or memory node to publish.")
    payload = build_payload(
        [skill_entry(s.name, s.description, s.category, s.template_prompt, stored_tools(s)) for s in skills],
        [memory_entry(n.label, n.category, effective_strength(n)) for n in nodes])
    document = {"name": (name or "").strip(), "description": _clean(description), "category": _clean(category),
                "is_public": bool(is_public), "payload": payload}
    validate_template(document["name"], document["description"], document["category"], payload, document["is_public"])
    return document


def preview(db, name: str, description: str | None = None, category: str | None = None,
            skill_ids=(), memory_ids=(), is_public: bool = False) -> dict:
    """Exactly what publishing would share: name, description, category, visibility and the payload.
    Raises TemplateInvalid / TemplateError with the reason when it could not be published."""
    with db.session() as session:
        return _document(session, name, description, category, skill_ids, memory_ids, is_public)


def publish(db, name: str, description: str | None = None, category: str | None = None,
            skill_ids=(), memory_ids=(), is_public: bool = False) -> Template:
    """Create the template row (sync sends it; a public one then joins the catalogue). Returns it."""
    with db.write() as session:
        doc = _document(session, name, description, category, skill_ids, memory_ids, is_public)
        template = Template(name=doc["name"], description=doc["description"], category=doc["category"],
                            payload=doc["payload"], is_public=doc["is_public"])
        session.add(template)
    return template


def _counts(payload) -> tuple[int, int]:
    if not isinstance(payload, dict):
        return 0, 0
    skills, memory = payload.get("skills"), payload.get("seed_memory")
    return (len(skills) if isinstance(skills, list) else 0, len(memory) if isinstance(memory, list) else 0)


def list_templates(db) -> list[TemplateInfo]:
    """Your templates (the local mirror holds only your own), newest first."""
    with db.session() as session:
        rows = session.exec(select(Template).where(Template.deleted_at.is_(None))
                            .order_by(Template.created_at.desc(), Template.id)).all()
        waiting = {r[0] for r in session.execute(text(
            "SELECT row_id FROM sync_outbox WHERE table_name = 'templates' AND kind = 'insert'"))}
    return [TemplateInfo(t.id, t.name, t.description, t.category, bool(t.is_public), t.installs,
                         *_counts(t.payload), t.created_at, t.id in waiting) for t in rows]


def get_template(db, template_id: str) -> Template:
    with db.session() as session:
        template = session.get(Template, template_id)
    if template is None or template.deleted_at is not None:
        raise TemplateError(f"There is no template {template_id} among yours.")
    return template


def set_public(db, template_id: str, is_public: bool) -> Template:
    with db.write() as session:
        template = session.get(Template, template_id)
        if template is None or template.deleted_at is not None:
            raise TemplateError(f"There is no template {template_id} among yours.")
        template.is_public = bool(is_public)
        session.add(template)
    return template


def delete_template(db, template_id: str) -> None:
    """Withdraw one of your templates (sync tombstones it: it leaves the catalogue). What others
    installed from it stays theirs."""
    with db.write() as session:
        template = session.get(Template, template_id)
        if template is None or template.deleted_at is not None:
            raise TemplateError(f"There is no template {template_id} among yours.")
        session.delete(template)


# --- files -------------------------------------------------------------------------------------------------
def export_document(template: Template, exported_at: str | None = None) -> dict:
    return {"format": FILE_FORMAT, "version": FILE_VERSION, "exported_at": exported_at or utc_now(),
            "id": template.id, "name": template.name, "description": template.description,
            "category": template.category, "payload": template.payload}


def export_template(db, template_id: str, path: str | Path) -> Path:
    """Write one of your templates to `path` (".mirari-template.json" is appended when missing)."""
    template = get_template(db, template_id)
    path = Path(path)
    if not path.name.endswith(FILE_SUFFIX):
        path = path.with_name(path.name.removesuffix(".json") + FILE_SUFFIX)
    data = json.dumps(export_document(template), ensure_ascii=False, indent=2) + "\n"
    # 0600 like every file MIRARI writes: the user shares the file by sending it, not by leaving it
    # readable to the other accounts of this computer.
    return atomic_write(path, data.encode("utf-8"), mode=0o600)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def read_template_file(path: str | Path) -> TemplateDocument:
    """Read and validate a template file. TemplateInvalid (every problem) or TemplateError; never
    executes or interprets anything in it."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            raw = f.read(FILE_BYTES_LIMIT + 1)
    except OSError as exc:
        raise TemplateError(f"Cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > FILE_BYTES_LIMIT:
        raise TemplateInvalid([f"{path.name} is larger than {FILE_BYTES_LIMIT:,} bytes; it cannot be a template"])
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise TemplateInvalid([f"{path.name} is not UTF-8 text"]) from None
    except RecursionError:
        raise TemplateInvalid([f"{path.name} is nested too deeply"]) from None
    except ValueError as exc:
        raise TemplateInvalid([f"{path.name} is not valid JSON ({exc})"]) from None
    return parse_document(doc, path.name)


def parse_document(doc, label: str = "the file") -> TemplateDocument:
    if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT:
        raise TemplateInvalid([f"{label} is not a MIRARI template (no \"format\": \"{FILE_FORMAT}\")"])
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TemplateInvalid([f"{label} has no valid format version"])
    if version > FILE_VERSION:
        raise TemplateInvalid([f"{label} was written by a newer MIRARI (format version {version}); update MIRARI"])
    name, description, category, payload = (doc.get("name"), doc.get("description"), doc.get("category"),
                                            doc.get("payload"))
    name = name.strip() if isinstance(name, str) else name
    validate_template(name, description, category, payload)
    return TemplateDocument(name, _clean(description), _clean(category), payload)
