"""Installing a template: its skills arrive as `suggested`, its memory as new facts of the Atlas, both
marked `template:<id>` — from the catalogue (counted once per user, after it is written) or a file.

The payload is untrusted (another author wrote it, or a file did): it is validated with the server's own
rules (shape, sizes, at most 200 skills and 2,000 memories) before anything is written. Then:

- What is already here is skipped and reported, never duplicated (`agent.templates.match`: by content —
  a skill of the same name and prompt, a fact the Atlas already holds or a Dream consolidation removed).
  An install never reinforces: installing a template again must not push its facts up.
- New memory starts at the Atlas's strength for a new fact (0.50, below the 0.75 the prompt injects),
  whatever strength the template carries: a stranger's fact is not in every prompt at once; it earns
  its way in when replies use it.
- Rows are written in chunks of `CHUNK_ITEMS`, each its own short write transaction, so a big install
  never locks out chat saves and sync for long. A chunk is all or nothing; an install stopped between
  chunks keeps the chunks written, and installing again adds only the rest (matching by content).
- A file import gets a source of its own, a fresh id, never one taken from the file.

The rows are the installer's own; the template's author never sees them.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass, field

from sqlmodel import Session, select

# The `source` of what a template brought, skills and memory nodes alike, is `template:<id>`, written and
# read by the Atlas's one module for sources.
from agent.memory.sources import parse_source, template_source
from agent.templates.match import REPEATED, SkillsHere, memory_reason_in, retired_memory_keys_in, skill_key
from agent.templates.payload import TemplateInvalid, validate_payload
from agent.templates.publish import read_template_file
from local_schema.models import InstalledTemplate, MemoryNode, Skill
from local_schema.timestamps import utc_now

log = logging.getLogger(__name__)

CHUNK_ITEMS = 100  # items per write transaction: 0.1-0.2 s here, far inside the 5 s busy timeout


def template_of(source: str | None) -> str | None:
    """The template id a `source` names, or None."""
    parsed = parse_source(source)
    return parsed.id if parsed.kind == "template" else None


@dataclass(frozen=True)
class Skipped:
    kind: str  # skill | memory
    text: str  # the skill's name or the memory's label
    reason: str  # why it was not added, e.g. "already in your Atlas"

    def line(self) -> str:
        return f"{'Skill' if self.kind == 'skill' else 'Memory'} “{self.text}”: {self.reason}"


@dataclass
class InstallResult:
    template_id: str
    name: str
    skills_added: list[str] = field(default_factory=list)  # skill ids
    nodes_added: list[str] = field(default_factory=list)  # memory node ids
    skipped: list[Skipped] = field(default_factory=list)  # in the template's order, skills first
    counted: bool | None = None  # catalogue: True counted now, False counted before; None: not counted
    note: str = ""  # e.g. why the server did not count it

    @property
    def skills_skipped(self) -> list[Skipped]:
        return [s for s in self.skipped if s.kind == "skill"]

    @property
    def nodes_skipped(self) -> list[Skipped]:
        return [s for s in self.skipped if s.kind == "memory"]

    def summary(self) -> str:
        """One sentence: what was added, and how much was skipped (the report lists which)."""
        parts = [f"{_count(len(self.skills_added), 'skill')} added as suggested",
                 f"{_count(len(self.nodes_added), 'memory', 'memories')} added"]
        text = f"Installed “{self.name}”: " + ", ".join(parts)
        if self.skipped:
            text += f"; {len(self.skipped)} skipped (already here)"
        return text + "."

    def report(self) -> str:
        """The summary, then each skipped item on its own line with the reason (plain text)."""
        lines = [self.summary()]
        if self.skipped:
            lines.append(f"Skipped {_count(len(self.skipped), 'item')}:")
            lines += ["  • " + s.line() for s in self.skipped]
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return asdict(self)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _add_skill(session: Session, entry: dict, source: str) -> Skill:
    """Through the Skill Forge's own rules (agent.skills.forge): a draft validated like any suggestion, stored
    as `suggested`. Test cases a template carries come along when they pass the Forge's checks."""
    from agent.skills.forge import create_suggested_in, validate_draft

    return create_suggested_in(session, validate_draft(entry), source=source)


def _check_skills(payload: dict) -> None:
    """Every skill through the Forge's draft rules before the first chunk: a skill the Forge would refuse
    (e.g. a test case it cannot run) stops the install before anything is written."""
    from agent.llm.structured import Invalid
    from agent.skills.forge import validate_draft

    problems = []
    for i, entry in enumerate(payload["skills"]):
        try:
            validate_draft(entry)
        except Invalid as exc:
            problems.append(f"skills[{i}] ({entry.get('name')!r}): {exc}")
    if problems:
        raise TemplateInvalid(problems)


def install_payload(db, template_id: str, name: str, payload, *, author_id: str | None = None,
                    origin: str = "catalogue", chunk_items: int = CHUNK_ITEMS) -> InstallResult:
    """Copy a template's payload into the user's own rows, in chunks (see the module's docstring).
    TemplateInvalid when the payload breaks a rule; nothing is written then."""
    from agent.memory.atlas import NEW_NODE_STRENGTH, add_node_in
    from agent.memory.text import dedup_key

    validate_payload(payload)
    _check_skills(payload)
    source = template_source(template_id)
    result = InstallResult(template_id, name)
    items = [("skill", e) for e in payload["skills"]] + [("memory", e) for e in payload["seed_memory"]]
    seen: set = set()  # items of this payload already handled: a repeat comes once
    with db.session() as session:
        retired = retired_memory_keys_in(session)
    for start in range(0, len(items), max(1, chunk_items)):
        with db.write() as session:
            skills_here = SkillsHere.read(session)
            added = 0
            for kind, entry in items[start:start + chunk_items]:
                if kind == "skill":
                    key = ("skill", skill_key(entry["name"], None)[0])  # one skill of a name per template
                    reason = REPEATED if key in seen else skills_here.reason(entry, source)
                    text = entry["name"]
                else:
                    key = ("memory", dedup_key(entry["label"]))
                    reason = REPEATED if key in seen else memory_reason_in(session, entry["label"], retired)
                    text = entry["label"]
                seen.add(key)
                if reason is not None:
                    result.skipped.append(Skipped(kind, text, reason))
                    continue
                if kind == "skill":
                    skill = _add_skill(session, entry, source)
                    skills_here.add(skill.name, skill.template_prompt, source)
                    session.flush()
                    result.skills_added.append(skill.id)
                else:
                    node = add_node_in(session, entry["label"], entry.get("category"), NEW_NODE_STRENGTH,
                                       source).node
                    session.flush()  # the next item's duplicate check sees this one
                    result.nodes_added.append(node.id)
                added += 1
            if added:  # "installed from" names the template from the first row it brought
                _record(session, template_id, name, author_id, origin)
    return result


def _record(session: Session, template_id: str, name: str, author_id: str | None, origin: str) -> None:
    record = session.get(InstalledTemplate, template_id) or InstalledTemplate(template_id=template_id, name=name)
    record.name, record.author_id, record.origin, record.installed_at = name, author_id, origin, utc_now()
    session.add(record)


def import_file(db, path) -> InstallResult:
    """Install a `.mirari-template.json` file: read and validated first, then written in chunks, under a
    fresh id of its own (whatever id the file claims: a file must not pass for a catalogue template)."""
    document = read_template_file(path)
    return install_payload(db, str(uuid.uuid4()), document.name, document.payload, origin="file")


def install_from_catalogue(db, catalogue, template_id: str) -> InstallResult:
    """Install a template of the catalogue: `template_id` is its id or a unique prefix of it (4+
    characters). `catalogue` is sync.catalogue.Catalogue; TemplateNotFound for a template you cannot see.

    The visible row is read first so a payload that breaks the rules is refused before anything else;
    the payload install_template returns is validated again before it is written. Only once every
    chunk is written does the server count the install (once per user); a count that fails then (offline)
    is reported, not an error — the rows are yours either way."""
    from sync.errors import SyncError

    template_id = catalogue.resolve(template_id)
    entry = catalogue.get(template_id)
    if entry is not None:
        validate_payload(entry.payload)
    payload = catalogue.install(template_id)  # 404 → TemplateNotFound, whatever get() said
    try:
        validate_payload(payload)
    except TemplateInvalid as exc:
        raise TemplateInvalid([f"the server sent a template that breaks the rules: {p}" for p in exc.problems]) from None
    name = entry.name if entry is not None else f"template {template_id[:8]}"
    result = install_payload(db, template_id, name, payload, author_id=entry.author_id if entry else None,
                             origin="catalogue")
    try:
        result.counted = catalogue.record_install(template_id)
    except SyncError as exc:
        log.warning("install of template %s not counted: %s", template_id, exc)
        result.note = f"(The server did not count this install: {exc})"
    return result


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
