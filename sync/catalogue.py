"""The public template catalogue, online: browse (search, category, sort, pages) and install.

Templates of other authors never reach the local mirror (the pull asks for `author_id=eq.<me>`), so
browsing is a live PostgREST query under the user's own JWT: RLS shows public, live templates of
anyone plus the user's own. Installing reads the payload through the server's
`install_template(template_id)`, and once the rows are written `record_template_install(template_id)`
counts the install (once per user). Both answer PT404 (HTTP 404) for a template the caller may not
see — private to another author, deleted or unknown alike, so private templates stay undiscoverable.

Everything here blocks on the network: call it from a background op or a command, never a UI thread.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from sync.errors import Kind, RequestFailed, SignInNeeded, SyncError

PAGE_SIZE = 24
MAX_PAGES = 1000  # browse_all stops here whatever the server says (24,000 templates)
SORTS = {
    "installs": "installs.desc,created_at.desc,id.asc",
    "recent": "created_at.desc,id.asc",
}
COLUMNS = "id,author_id,name,description,category,payload,installs,is_public,created_at"
_UUID_TEXT = 36


class CatalogueUnavailable(SyncError):
    """The catalogue cannot be reached now (offline, signed out, not configured); str() says which."""


class TemplateNotFound(SyncError):
    """install_template answered 404: the template is private to its author, deleted, or unknown."""


@dataclass(frozen=True)
class CatalogueEntry:
    id: str
    author_id: str
    name: str
    description: str | None
    category: str | None
    payload: dict
    installs: int
    is_public: bool
    created_at: str
    mine: bool

    @property
    def skill_count(self) -> int:
        skills = self.payload.get("skills") if isinstance(self.payload, dict) else None
        return len(skills) if isinstance(skills, list) else 0

    @property
    def memory_count(self) -> int:
        memory = self.payload.get("seed_memory") if isinstance(self.payload, dict) else None
        return len(memory) if isinstance(memory, list) else 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CataloguePage:
    entries: list[CatalogueEntry]
    total: int | None
    offset: int
    limit: int

    @property
    def has_more(self) -> bool:
        if self.total is not None:
            return self.offset + len(self.entries) < self.total
        return len(self.entries) == self.limit


def _like_term(text: str) -> str:
    """A user's search text as a quoted PostgREST ilike value matching it anywhere, literally."""
    text = " ".join(text.split())
    # LIKE's own wildcards and escape are escaped; PostgREST turns '*' into '%', so '*' is dropped.
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "")
    quoted = escaped.replace("\\", "\\\\").replace('"', '\\"')  # inside a double-quoted tree value
    return f'"*{quoted}*"'


def query_params(search: str | None = None, category: str | None = None, sort: str = "installs",
                 offset: int = 0, limit: int = PAGE_SIZE) -> dict:
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}: use {' or '.join(SORTS)}")
    params = {"select": COLUMNS, "is_public": "eq.true", "deleted_at": "is.null", "order": SORTS[sort],
              "limit": str(limit), "offset": str(offset)}
    if search and search.strip():
        term = _like_term(search)
        params["or"] = f"(name.ilike.{term},description.ilike.{term},category.ilike.{term})"
    if category:
        params["category"] = f"eq.{category}"
    return params


def _entry(row: dict, user_id: str | None) -> CatalogueEntry:
    return CatalogueEntry(
        id=str(row.get("id")), author_id=str(row.get("author_id")), name=str(row.get("name") or ""),
        description=row.get("description"), category=row.get("category"),
        payload=row.get("payload") if isinstance(row.get("payload"), dict) else {},
        installs=int(row.get("installs") or 0), is_public=bool(row.get("is_public")),
        created_at=str(row.get("created_at") or ""), mine=row.get("author_id") == user_id)


def _unavailable(exc: Exception, url: str | None = None, doing: str = "read the catalogue") -> CatalogueUnavailable:
    if isinstance(exc, SignInNeeded):
        return CatalogueUnavailable("Sign in to use the public catalogue (it lives on your Supabase project).")
    if isinstance(exc, RequestFailed) and exc.kind is Kind.TRANSIENT and exc.status is None:
        host = urlsplit(url).hostname if url else None
        return CatalogueUnavailable(f"Offline: the public catalogue needs a connection to {host or 'the server'} "
                                    "(your own templates are still here).")
    return CatalogueUnavailable(f"Could not {doing}: {exc}")


class Catalogue:
    """The online catalogue of one signed-in user. `rest` is sync.rest.RestClient (or the same API)."""

    def __init__(self, rest, user_id: str | None, url: str | None = None):
        self.rest, self.user_id, self.url = rest, user_id, url

    @classmethod
    def for_engine(cls, engine) -> Catalogue:
        """The catalogue of the user signed in on `engine` (sync.engine.SyncEngine)."""
        from sync import accounts

        try:
            state = accounts.load_state(engine.data_dir)
            session = engine.sessions.current() if state.signed_in else None
            if session is None or session.user_id != state.active_account:
                raise SignInNeeded("signed out")
            return cls(engine.rest(), session.user_id, engine.config.url)
        except SignInNeeded as exc:
            raise _unavailable(exc) from None
        except SyncError as exc:  # not configured, unreadable account state
            raise CatalogueUnavailable(f"Sign in to use the public catalogue ({exc}).") from None

    def page(self, search: str | None = None, category: str | None = None, sort: str = "installs",
             offset: int = 0, limit: int = PAGE_SIZE) -> CataloguePage:
        params = query_params(search, category, sort, offset, limit)
        try:
            rows, total = self.rest.select_page("templates", params)
        except (RequestFailed, SignInNeeded) as exc:
            raise _unavailable(exc, self.url) from exc
        return CataloguePage([_entry(r, self.user_id) for r in rows], total, offset, limit)

    def all(self, search: str | None = None, category: str | None = None, sort: str = "installs",
            page_size: int = PAGE_SIZE * 4) -> list[CatalogueEntry]:
        """Every match, page after page (a template published meanwhile may shift one page: ids dedupe)."""
        seen: dict[str, CatalogueEntry] = {}
        offset = 0
        for _ in range(MAX_PAGES):
            page = self.page(search, category, sort, offset, page_size)
            for entry in page.entries:
                seen.setdefault(entry.id, entry)
            if not page.entries or not page.has_more:
                break
            offset += len(page.entries)
        return list(seen.values())

    def get(self, template_id: str) -> CatalogueEntry | None:
        """One template the user may see (own or public), or None."""
        if not _is_uuid(template_id):
            return None
        try:
            rows = self.rest.select("templates", {"select": COLUMNS, "id": f"eq.{template_id}",
                                                  "deleted_at": "is.null"})
        except (RequestFailed, SignInNeeded) as exc:
            raise _unavailable(exc, self.url) from exc
        return _entry(rows[0], self.user_id) if rows else None

    def resolve(self, text: str) -> str:
        """The id of the template the user may see whose id is `text` or starts with it (4+ characters,
        as the lists show 8), like every other id of the command line. TemplateNotFound otherwise."""
        wanted = (text or "").strip().lower()
        if _is_uuid(wanted):
            return wanted
        bounds = _prefix_bounds(wanted)
        if bounds is None:
            raise TemplateNotFound(f"There is no template {text!r}: give its id or the start of it "
                                   f"(at least {PREFIX_MIN} characters).")
        params = {"select": "id,name", "and": f"(id.gte.{bounds[0]},id.lte.{bounds[1]})", "deleted_at": "is.null",
                  "order": "id.asc", "limit": "2"}
        try:
            rows = self.rest.select("templates", params)
        except (RequestFailed, SignInNeeded) as exc:
            raise _unavailable(exc, self.url) from exc
        if not rows:
            raise TemplateNotFound(f"There is no template {text!r} that you can install.")
        if len(rows) > 1:
            names = " and ".join(f"{str(r.get('id'))[:8]}… “{r.get('name')}”" for r in rows)
            raise TemplateNotFound(f"{text!r} matches more than one template ({names}): give more of the id.")
        return str(rows[0].get("id"))

    def install(self, template_id: str):
        """The payload of a template the user may see (untrusted: the caller validates it). Counts
        nothing: call `record_install` once the rows are written."""
        return self._rpc("install_template", template_id)

    def record_install(self, template_id: str) -> bool:
        """Count the user's install of this template: True when counted now, False when this user's
        install was counted before (the server counts each user once)."""
        return self._rpc("record_template_install", template_id) is True

    def _rpc(self, function: str, template_id: str):
        if not _is_uuid(template_id):
            raise TemplateNotFound(f"There is no template {template_id!r} (a template id is a uuid).")
        try:
            return self.rest.rpc(function, {"template_id": template_id})
        except RequestFailed as exc:
            if exc.status == 404 or exc.code == "PT404":
                raise TemplateNotFound(
                    f"Template {template_id} cannot be installed: it does not exist, was deleted, or is "
                    "private to its author.") from None
            raise _unavailable(exc, self.url, "install the template") from exc
        except SignInNeeded as exc:
            raise _unavailable(exc, self.url, "install the template") from exc


PREFIX_MIN = 4
_UUID_SHAPE = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"


def _prefix_bounds(prefix: str) -> tuple[str, str] | None:
    """The lowest and highest uuid starting with `prefix` (hex digits and dashes where a uuid has
    them), or None when no uuid can start with it. uuids sort as their hex text does."""
    if not PREFIX_MIN <= len(prefix) <= len(_UUID_SHAPE):
        return None
    for ch, shape in zip(prefix, _UUID_SHAPE, strict=False):
        if (shape == "-") != (ch == "-") or (ch != "-" and ch not in "0123456789abcdef"):
            return None
    rest = _UUID_SHAPE[len(prefix):]
    return prefix + rest.replace("x", "0"), prefix + rest.replace("x", "f")


def _is_uuid(text: str) -> bool:
    try:
        return len(text) == _UUID_TEXT and str(uuid.UUID(text)) == text.lower()
    except (ValueError, AttributeError, TypeError):
        return False
