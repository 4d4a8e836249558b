"""SQLModel tables of the local mirror, column for column with the server's synced tables.

Types map the server faithfully: uuid -> canonical lowercase str, timestamptz -> str as the server renders
it (see `timestamps`), jsonb -> JSON, real -> float. The owner column (`user_id`, `author_id` for
templates) is nullable here: rows made while signed out have no owner until the first sign-in claims them.

The schema itself is created by the versioned migrations in `local_schema.migrations`, not by
`metadata.create_all`; tests/local/test_schema_matches_models.py keeps the two from drifting.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, String, event
from sqlalchemy.orm import Session, object_session
from sqlmodel import Field, SQLModel

from local_schema.timestamps import now_micros, to_micros, utc_now

# None must become SQL NULL (refused by NOT NULL), not the JSON text 'null' that would slip through.
_JSON = JSON(none_as_null=True)


def new_id() -> str:
    """A fresh row id: a random uuid4 in canonical lowercase form, as the server stores it."""
    return str(uuid.uuid4())


class _Synced(SQLModel):
    """Columns every synced table has. `created_at`, `updated_at` and `deleted_at` belong to the server."""

    id: str = Field(default_factory=new_id, primary_key=True)
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)
    # Tombstone: set by the server (or by a client asking for a delete); never cleared.
    deleted_at: str | None = Field(default=None)


class AgentConnection(_Synced, table=True):
    __tablename__ = "agent_connections"

    user_id: str | None = Field(default=None)
    name: str
    provider: str  # hermes | openrouter | nous | custom
    base_url: str
    model: str
    status: str = Field(default="offline")  # online | offline | error
    system_prompt: str | None = Field(default=None)
    # Whether the model takes images (OpenAI image_url content parts); off until the user says so.
    accepts_images: bool = Field(default=False)


class Conversation(_Synced, table=True):
    __tablename__ = "conversations"

    user_id: str | None = Field(default=None)
    agent_connection_id: str | None = Field(
        default=None, foreign_key="agent_connections.id", ondelete="SET NULL"
    )
    title: str | None = Field(default=None)
    # The message at the end of the branch the person reads (agent.chat.tree): an id, never an index; a soft
    # reference, last writer wins. Readers fall back to the newest leaf when it is missing or deleted.
    active_leaf_id: str | None = Field(default=None)
    # The thread's own settings for every turn's request; None = the connection's default (agent.chat.tree).
    temperature: float | None = Field(default=None)  # 0..2
    max_tokens: int | None = Field(default=None)  # 1..1,000,000
    stop_sequences: list[str] | None = Field(default=None, sa_type=_JSON)  # at most 4, each 1..200 characters
    system_addition: str | None = Field(default=None)  # added to the system message, <= 20,000 characters


# A message's parent_id when none was chosen: "follows the thread's newest message" (the nil uuid). It
# never stays stored: the ORM (below) or the SQLite trigger of migration v11 (raw SQL) puts that
# message's id (or NULL in an empty thread) in its place, as the server does for a device that sends none.
FOLLOWS_LAST = "00000000-0000-0000-0000-000000000000"


class Message(_Synced, table=True):
    __tablename__ = "messages"

    user_id: str | None = Field(default=None)
    conversation_id: str = Field(foreign_key="conversations.id", ondelete="CASCADE")
    role: str  # system | user | assistant | tool
    content: str
    # The message's place in its thread, chosen once by the device that writes it and never rewritten
    # (not by push adoption, nor by the server, which keeps it on UPDATE and bounds it on INSERT). A
    # hybrid logical clock in microseconds: max(now, the thread's largest seq + 1), so a reply always
    # follows its question whatever the device clocks say (agent.chat.threads.next_seq).
    # Left None, a local trigger fills it on insert. Threads are ordered by (seq, id).
    seq: int | None = Field(default=None)
    # Who wrote an assistant message: the connection (a soft reference, no foreign key: a deleted
    # connection leaves the id, nothing cascades) and its model name at the time, which keeps the
    # authorship readable once the connection is gone or changed (agent.chat.authorship). None for the user's.
    agent_connection_id: str | None = Field(default=None)
    model: str | None = Field(default=None)
    # The message this one answers or follows (conversations are trees, agent.chat.tree); None = a first
    # message. Left at FOLLOWS_LAST, it follows the thread's newest message before it (by seq, id); an
    # explicit None is a root (sent to SQLite as NULL: `evaluates_none`, or the ORM would leave the column
    # out and the default would apply). Chosen once, like seq: the server keeps the first value.
    parent_id: str | None = Field(default=FOLLOWS_LAST, sa_type=String().evaluates_none())
    # done | error | stopped. A failed generation is kept as a reply with status "error" and the reason
    # in `error`; a reply is "stopped" while it streams and when it was cut off. Error replies are never
    # sent in a prompt (agent.prompt).
    status: str = Field(default="done")
    error: str | None = Field(default=None)
    # Tools (docs/tools.md): an assistant message's calls, in OpenAI's shape [{id, type: "function",
    # function: {name, arguments}}]; a `tool` message's `tool_call_id` names the call whose result it holds.
    tool_calls: list[Any] | None = Field(default=None, sa_type=_JSON)
    tool_call_id: str | None = Field(default=None)


# A seq more than a year after the writing device's clock is not followed by the next message: no device
# writes one (the server stores at most its own clock + 1 day, 20261206100000_client_times.sql), so it
# was forged or stored before that bound, and "largest + 1" after 2^63 - 1 no longer fits an integer. A
# year, not the server's day: a device whose clock is days behind must still follow real messages.
SEQ_SANE_AHEAD_US = 365 * 86_400_000_000


def sane_seq_ceiling(now_us: int) -> int:
    """The largest seq a new message written at `now_us` still follows."""
    return now_us + SEQ_SANE_AHEAD_US


def _fill_order(_mapper, connection, message: Message) -> None:
    """An ORM insert that leaves `seq` unset gets what the SQLite trigger would give it (migrations v6,
    v9): max(created_at in µs, the thread's largest seq + 1) — a seq beyond sane_seq_ceiling(this device's
    clock) not counted — set on the object too so its order is known. A `parent_id` left at FOLLOWS_LAST
    becomes the thread's newest live message before it (migration v11's trigger does the same for raw SQL).
    Messages of one flush are inserted together, after every listener ran: each sees those added before
    it through Session.info."""
    session = object_session(message)
    info = session.info if session is not None else {}
    if message.seq is None:
        try:
            at = to_micros(message.created_at)
        except ValueError:
            at = 0
        assigned = info.setdefault(_SEQ_ASSIGNED, {})
        largest = assigned.get(message.conversation_id)
        if largest is None:
            largest = connection.exec_driver_sql(
                "SELECT max(seq) FROM messages WHERE conversation_id = ? AND seq <= ?",
                (message.conversation_id, sane_seq_ceiling(now_micros()))).scalar() or 0
        message.seq = max(at, largest + 1)
        assigned[message.conversation_id] = message.seq
    added = info.setdefault(_ADDED, {}).setdefault(message.conversation_id, [])
    if message.parent_id == FOLLOWS_LAST:
        key = (message.seq, message.id)
        found = connection.exec_driver_sql(
            "SELECT seq, id FROM messages WHERE conversation_id = ? AND deleted_at IS NULL "
            "AND (seq < ? OR (seq = ? AND id < ?)) ORDER BY seq DESC, id DESC LIMIT 1",
            (message.conversation_id, key[0], key[0], key[1])).first()
        candidates = [tuple(found)] if found else []
        candidates += [k for k in added if k < key]
        message.parent_id = max(candidates)[1] if candidates else None
    if message.deleted_at is None:
        added.append((message.seq, message.id))


_SEQ_ASSIGNED = "mirari_seq_assigned"  # Session.info: seqs given during the current flush, per thread
_ADDED = "mirari_messages_added"  # Session.info: (seq, id) of the live messages of the current flush, per thread


def _forget_flush(session, _ctx) -> None:
    session.info.pop(_SEQ_ASSIGNED, None)
    session.info.pop(_ADDED, None)


event.listen(Message, "before_insert", _fill_order)
event.listen(Session, "after_flush_postexec", _forget_flush)


class Attachment(_Synced, table=True):
    """A file attached to a message (agent.attachments). The bytes are content-addressed files under
    local_schema.paths.attachments_dir(db path) and an object in the Storage bucket `attachments` at
    `storage_path` ('<user id>/<id>', filled once the row has an owner); sync.attachments moves them."""

    __tablename__ = "attachments"

    user_id: str | None = Field(default=None)
    message_id: str = Field(foreign_key="messages.id", ondelete="CASCADE")
    name: str
    mime_type: str
    size: int
    sha256: str
    storage_path: str | None = Field(default=None)


class MemoryNode(_Synced, table=True):
    __tablename__ = "memory_nodes"

    user_id: str | None = Field(default=None)
    label: str
    category: str | None = Field(default=None)
    strength: float = Field(default=0.5)
    source: str | None = Field(default=None)
    last_referenced_at: str | None = Field(default=None)
    paused: bool = Field(default=False)  # kept, but never injected nor served to outside apps


class Skill(_Synced, table=True):
    __tablename__ = "skills"

    user_id: str | None = Field(default=None)
    name: str
    description: str | None = Field(default=None)
    category: str | None = Field(default=None)
    status: str = Field(default="suggested")  # suggested | accepted | testing | promoted | archived
    score: float = Field(default=0.0)
    version: int = Field(default=1)
    template_prompt: str | None = Field(default=None)
    # [{"prompt": str, "expectations": [{"kind": str, "value": str | int}]}], see agent.skills.cases
    test_cases: list[Any] = Field(default_factory=list, sa_type=_JSON)
    last_test: dict[str, Any] | None = Field(default=None, sa_type=_JSON)  # the last "Run tests"
    source: str | None = Field(default=None)  # template:<id> when installed from a template, else None
    # The tools it needs: ["server/tool", …] (≤ 32, each ≤ 128 characters; agent/skills/tools.py). Only names.
    tools: list[Any] = Field(default_factory=list, sa_type=_JSON)


class MirrorReport(_Synced, table=True):
    __tablename__ = "mirror_reports"

    user_id: str | None = Field(default=None)
    agent_connection_id: str | None = Field(
        default=None, foreign_key="agent_connections.id", ondelete="SET NULL"
    )
    title: str | None = Field(default=None)
    strengths: list[Any] = Field(default_factory=list, sa_type=_JSON)
    weaknesses: list[Any] = Field(default_factory=list, sa_type=_JSON)
    recommendations: list[Any] = Field(default_factory=list, sa_type=_JSON)
    suggested_prompt: str | None = Field(default=None)
    # What the review was based on and what it changed (agent/mirror/review.py documents the keys).
    details: dict[str, Any] = Field(default_factory=dict, sa_type=_JSON)
    previous_prompt: str | None = Field(default=None)  # the connection's prompt before Apply (for Undo)
    applied_at: str | None = Field(default=None)  # when the suggested prompt was applied; None = not applied


class Task(_Synced, table=True):
    __tablename__ = "tasks"

    user_id: str | None = Field(default=None)
    connection_id: str | None = Field(default=None, foreign_key="agent_connections.id", ondelete="SET NULL")
    title: str
    description: str | None = Field(default=None)
    status: str = Field(default="pending")  # pending | in_progress | done


class Template(_Synced, table=True):
    __tablename__ = "templates"

    author_id: str | None = Field(default=None)
    name: str
    description: str | None = Field(default=None)
    category: str | None = Field(default=None)
    payload: dict[str, Any] = Field(sa_type=_JSON)  # {"skills": [...], "seed_memory": [...]}
    installs: int = Field(default=0)
    is_public: bool = Field(default=False)


class DreamReport(_Synced, table=True):
    """What one dream found and proposed (rite VII); the user's decisions live in `proposals[].state`."""

    __tablename__ = "dream_reports"

    user_id: str | None = Field(default=None)
    agent_connection_id: str | None = Field(
        default=None, foreign_key="agent_connections.id", ondelete="SET NULL"
    )
    kind: str  # consolidate | replay | stress
    status: str = Field(default="running")  # running | done | partial | cancelled | failed | interrupted
    started_at: str = Field(default_factory=utc_now)
    finished_at: str | None = Field(default=None)
    summary: str | None = Field(default=None)
    budget: dict[str, Any] = Field(default_factory=dict, sa_type=_JSON)
    findings: list[Any] = Field(default_factory=list, sa_type=_JSON)
    proposals: list[Any] = Field(default_factory=list, sa_type=_JSON)


class ConnectionCheck(SQLModel, table=True):
    """Local-only: the last reachability check of a connection. Not synced, not captured."""

    __tablename__ = "connection_checks"

    connection_id: str = Field(primary_key=True, foreign_key="agent_connections.id", ondelete="CASCADE")
    checked_at: str = Field(default_factory=utc_now)
    status: str  # online | offline | error
    error: str | None = Field(default=None)


class InstalledTemplate(SQLModel, table=True):
    """Local-only: the name of each template installed on this device (for "installed from"). Not synced."""

    __tablename__ = "installed_templates"

    template_id: str = Field(primary_key=True)
    name: str
    author_id: str | None = Field(default=None)
    origin: str = Field(default="catalogue")  # catalogue | file
    installed_at: str = Field(default_factory=utc_now)


class McpServer(SQLModel, table=True):
    """Local-only: an MCP server this device runs or reaches (agent.tools.config). Never synced: it names
    programs and paths of this machine. Header values are secrets, kept in the key store: only their
    names are here."""

    __tablename__ = "mcp_servers"

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str = Field(unique=True)
    transport: str  # stdio | http
    command: str | None = Field(default=None)
    args: list[Any] = Field(default_factory=list, sa_type=_JSON)
    env: dict[str, Any] = Field(default_factory=dict, sa_type=_JSON)
    url: str | None = Field(default=None)
    headers: list[Any] = Field(default_factory=list, sa_type=_JSON)  # header names
    enabled: bool = Field(default=True)
    created_at: str = Field(default_factory=utc_now)


class McpTool(SQLModel, table=True):
    """Local-only: a tool a server listed last, with this device's choices about it."""

    __tablename__ = "mcp_tools"

    server_id: str = Field(primary_key=True, foreign_key="mcp_servers.id", ondelete="CASCADE")
    name: str = Field(primary_key=True)
    description: str | None = Field(default=None)
    input_schema: dict[str, Any] = Field(default_factory=dict, sa_type=_JSON)
    enabled: bool = Field(default=True)
    always_allow: bool = Field(default=False)  # "Always for this tool": calls run without asking
    seen_at: str = Field(default_factory=utc_now)


class McpAccess(SQLModel, table=True):
    """Local-only: one read or write of this memory by an outside app (`mirari mcp serve`)."""

    __tablename__ = "mcp_access"

    id: int | None = Field(default=None, primary_key=True)
    at: str = Field(default_factory=utc_now)
    app: str  # the client's name, as it introduced itself
    action: str  # read | write
    tool: str
    detail: str | None = Field(default=None)  # the query, or what was added


class McpAccessNode(SQLModel, table=True):
    """Local-only: which facts one access read or wrote."""

    __tablename__ = "mcp_access_nodes"

    access_id: int = Field(primary_key=True, foreign_key="mcp_access.id", ondelete="CASCADE")
    node_id: str = Field(primary_key=True)


LOCAL_ONLY_MODELS: tuple[type[SQLModel], ...] = (McpServer, McpTool, McpAccess, McpAccessNode)


# Parent before child: push inserts in this order, apply remote deletes in reverse.
SYNCED_MODELS: tuple[type[SQLModel], ...] = (
    AgentConnection,
    Conversation,
    Message,
    Attachment,
    MemoryNode,
    Skill,
    MirrorReport,
    Task,
    Template,
    DreamReport,
)

MODELS_BY_TABLE: dict[str, type[SQLModel]] = {model.__tablename__: model for model in SYNCED_MODELS}
SYNCED_TABLES: tuple[str, ...] = tuple(MODELS_BY_TABLE)


def owner_column(model_or_table: type[SQLModel] | str) -> str:
    """The owner column of a synced table: 'author_id' for templates, 'user_id' elsewhere."""
    table = model_or_table if isinstance(model_or_table, str) else model_or_table.__tablename__
    return "author_id" if table == "templates" else "user_id"


def all_columns(model_or_table: type[SQLModel] | str) -> tuple[str, ...]:
    """Every column of a synced table, in table order."""
    model = MODELS_BY_TABLE[model_or_table] if isinstance(model_or_table, str) else model_or_table
    return tuple(column.name for column in model.__table__.columns)


def server_managed_columns(model_or_table: type[SQLModel] | str) -> tuple[str, ...]:
    """Columns whose values the server owns: created_at, updated_at, the owner, deleted_at.

    A client may still *ask* for a tombstone by sending a non-null deleted_at; the server stamps it.
    """
    return ("created_at", "updated_at", owner_column(model_or_table), "deleted_at")


def client_columns(model_or_table: type[SQLModel] | str) -> tuple[str, ...]:
    """Columns a client may push: the id and the content columns (everything not server-managed)."""
    managed = set(server_managed_columns(model_or_table))
    return tuple(name for name in all_columns(model_or_table) if name not in managed)


# Client columns written once, at insert: the server keeps the first value on UPDATE, so an update of
# them is never captured (the insert sends the current row, these columns included).
INSERT_ONLY_COLUMNS: dict[str, tuple[str, ...]] = {"messages": ("seq", "parent_id")}

# References to a row of a synced table that have no foreign key here (the server checks them, and pulls
# may bring a child before its parent): push sends, orders and holds back such a child exactly as it does
# for a foreign key (sync.push), so a parent is always on the server before its children are sent.
SOFT_PARENTS: dict[str, tuple[tuple[str, str], ...]] = {"messages": (("parent_id", "messages"),)}


def captured_columns(model_or_table: type[SQLModel] | str) -> tuple[str, ...]:
    """Columns whose change an update records in the outbox: client columns except id and the insert-only
    ones, plus deleted_at."""
    table = model_or_table if isinstance(model_or_table, str) else model_or_table.__tablename__
    skip = {"id", *INSERT_ONLY_COLUMNS.get(table, ())}
    return tuple(name for name in client_columns(model_or_table) if name not in skip) + ("deleted_at",)


CLIENT_COLUMNS: dict[str, tuple[str, ...]] = {table: client_columns(table) for table in SYNCED_TABLES}
SERVER_MANAGED_COLUMNS: dict[str, tuple[str, ...]] = {
    table: server_managed_columns(table) for table in SYNCED_TABLES
}
CAPTURED_COLUMNS: dict[str, tuple[str, ...]] = {table: captured_columns(table) for table in SYNCED_TABLES}
