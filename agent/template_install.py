"""Installing a template: its skills arrive as `suggested`, its memory through the Atlas's no-duplicates
rule, both marked `template:<id>` — from the catalogue (one install counted by the server) or a file.

The payload is untrusted (another author wrote it, or a file did): it is validated with the server's own
rules before anything is written, and everything lands in one write transaction, or nothing does. The
rows are the installer's own; the template's author never sees them.

Which skills a template already brought (same template, same name, still there) are not added twice,
so installing again is harmless; memory is never duplicated because `agent.memory.add_node_in`
reinforces an existing equal node instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

# The `source` of what a template brought, skills and memory nodes alike, is `template:<id>`, written and
# read by the Atlas's one module for sources.
from agent.memory_sources import parse_source, template_source
from agent.template_payload import TemplateInvalid, validate_payload
from agent.templates import TemplateDocument, read_template_file
from local_schema.models import InstalledTemplate, MemoryNode, Skill
from local_schema.timestamps import utc_now


def template_of(source: str | None) -> str | None:
    """The template id a `source` names, or None."""
    parsed = parse_source(source)
    return parsed.id if parsed.kind == "template" else None


@dataclass
class InstallResult:
    template_id: str
    name: str
    skills_added: list[str] = field(default_factory=list)  # skill ids
    skills_present: list[str] = field(default_factory=list)  # brought by an earlier install, kept
    nodes_added: list[str] = field(default_factory=list)
    nodes_reinforced: list[str] = field(default_factory=list)  # duplicates of existing nodes
    messages: list[str] = field(default_factory=list)  # the Atlas's sentence for each node

    def summary(self) -> str:
        parts = [f"{len(self.skills_added)} skill(s) added as suggested"]
        if self.skills_present:
            parts.append(f"{len(self.skills_present)} already installed")
        parts.append(f"{len(self.nodes_added)} memory node(s) added")
        if self.nodes_reinforced:
            parts.append(f"{len(self.nodes_reinforced)} already known (reinforced)")
        return f"Installed “{self.name}”: " + ", ".join(parts) + "."


def _add_skill(session: Session, entry: dict, source: str) -> Skill:
    """Through the Skill Forge's own rules (agent.skills): a draft validated like any suggestion, stored
    as `suggested`. Test cases a template carries come along when they pass the Forge's checks."""
    from agent.skills import create_suggested_in, validate_draft

    return create_suggested_in(session, validate_draft(entry), source=source)


def _brought_before(session: Session, source: str, name: str) -> Skill | None:
    return session.exec(select(Skill).where(Skill.source == source, Skill.name == name,
                                            Skill.deleted_at.is_(None))).first()


def install_payload(db, template_id: str, name: str, payload, *, author_id: str | None = None,
                    origin: str = "catalogue") -> InstallResult:
    """Copy a template's payload into the user's own rows (one transaction). TemplateInvalid when the
    payload breaks a rule; nothing is written then."""
    from agent.memory import NEW_NODE_STRENGTH, add_node_in

    validate_payload(payload)
    source = template_source(template_id)
    result = InstallResult(template_id, name)
    with db.write(tables=("installed_templates",)) as session:
        for entry in payload["skills"]:
            present = _brought_before(session, source, entry["name"])
            if present is not None:
                result.skills_present.append(present.id)
                continue
            skill = _add_skill(session, entry, source)
            session.flush()  # a repeated name later in the same payload finds this one
            result.skills_added.append(skill.id)
        for entry in payload["seed_memory"]:
            strength = entry.get("strength")
            added = add_node_in(session, entry["label"], entry.get("category"),
                                NEW_NODE_STRENGTH if strength is None else float(strength), source)
            session.flush()  # the next item's duplicate check sees this one
            (result.nodes_reinforced if added.reinforced else result.nodes_added).append(added.node.id)
            result.messages.append(added.message)
        record = session.get(InstalledTemplate, template_id) or InstalledTemplate(template_id=template_id, name=name)
        record.name, record.author_id, record.origin, record.installed_at = name, author_id, origin, utc_now()
        session.add(record)
    return result


def install_document(db, document: TemplateDocument, origin: str = "file") -> InstallResult:
    return install_payload(db, document.id, document.name, document.payload, origin=origin)


def import_file(db, path) -> InstallResult:
    """Install a `.mirari-template.json` file: read and validated first, then one transaction."""
    return install_document(db, read_template_file(path), origin="file")


def install_from_catalogue(db, catalogue, template_id: str) -> InstallResult:
    """Install through the server's install_template (one install counted). `catalogue` is
    sync.catalogue.Catalogue; TemplateNotFound (the server's 404) for a template you cannot see.

    The visible row is read first so a payload that breaks the rules is refused before the server
    counts an install; the payload the server returns is validated again before it is written."""
    entry = catalogue.get(template_id)
    if entry is not None:
        validate_payload(entry.payload)
    payload = catalogue.install(template_id)  # 404 → TemplateNotFound, whatever get() said
    try:
        validate_payload(payload)
    except TemplateInvalid as exc:
        raise TemplateInvalid([f"the server sent a template that breaks the rules: {p}" for p in exc.problems]) from None
    name = entry.name if entry is not None else f"template {template_id[:8]}"
    return install_payload(db, template_id, name, payload, author_id=entry.author_id if entry else None,
                           origin="catalogue")


@dataclass(frozen=True)
class InstalledItem:
    id: str
    kind: str  # skill | memory
    text: str  # skill name or memory label
    status: str | None  # skill status


@dataclass
class InstalledTemplateView:
    template_id: str
    name: str
    origin: str | None  # catalogue | file | None (installed on another device)
    installed_at: str | None
    items: list[InstalledItem] = field(default_factory=list)


def installed(db) -> list[InstalledTemplateView]:
    """Every template something of yours came from, with what it brought ("installed from")."""
    views: dict[str, InstalledTemplateView] = {}
    with db.session() as session:
        for record in session.exec(select(InstalledTemplate)).all():
            views[record.template_id] = InstalledTemplateView(record.template_id, record.name, record.origin,
                                                              record.installed_at)
        skills = session.exec(select(Skill).where(Skill.deleted_at.is_(None), Skill.source.startswith("template:"))
                              .order_by(Skill.created_at, Skill.id)).all()
        nodes = session.exec(select(MemoryNode).where(MemoryNode.deleted_at.is_(None),
                                                      MemoryNode.source.startswith("template:"))
                             .order_by(MemoryNode.created_at, MemoryNode.id)).all()
    for row, kind in [*((s, "skill") for s in skills), *((n, "memory") for n in nodes)]:
        template_id = template_of(row.source)
        if template_id is None:
            continue
        view = views.setdefault(template_id, InstalledTemplateView(template_id, f"template {template_id[:8]}",
                                                                  None, None))
        view.items.append(InstalledItem(row.id, kind, row.name if kind == "skill" else row.label,
                                        row.status if kind == "skill" else None))
    return sorted(views.values(), key=lambda v: (v.installed_at or "", v.name), reverse=True)


def installed_from(db, source: str | None) -> str | None:
    """"Installed from <template name>" for a skill's or node's source, or None."""
    template_id = template_of(source)
    if template_id is None:
        return None
    with db.session() as session:
        record = session.get(InstalledTemplate, template_id)
    return f"Installed from {record.name if record else 'template ' + template_id[:8]}"
