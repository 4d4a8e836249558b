"""Demo and benchmark data: a believable database with a few threads and one very long one.

Used by the screenshot script, the benchmarks and the long-thread tests. Rows go in through plain
SQL in one transaction per thread (fast), so triggers (FTS index, sync outbox) still see every row.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from local_schema.timestamps import format_timestamp

CODE_REPLY = """Here is a small helper that retries with exponential back-off:

```python
import time

def retry(fn, attempts=5, base=0.2):
    for i in range(attempts):
        try:
            return fn()
        except ConnectionError:
            time.sleep(base * 2 ** i)
    raise RuntimeError("gave up after %d attempts" % attempts)
```

Call it as `retry(lambda: client.get(url))`. The delay doubles each time, so five attempts wait
at most **6.2 s** in total."""

FILLER = [
    "Could you summarise the trade-offs between SQLite WAL mode and the default rollback journal?",
    "WAL lets readers proceed while one writer appends to the log, so UI reads never wait on a save. "
    "Checkpoints fold the log back into the database file.",
    "What would you change in my morning routine to fit in an hour of deep work?",
    "Move email to after the deep-work block, keep the phone in another room, and start with the task "
    "you are most likely to avoid.",
]


def _stamp(base: datetime, i: int) -> str:
    return format_timestamp(base + timedelta(seconds=i * 7))


def add_connection(db, name: str, base_url: str, model: str, provider: str = "custom",
                   status: str = "offline", system_prompt: str | None = None) -> str:
    from local_schema.models import AgentConnection

    with db.write() as s:
        row = AgentConnection(name=name, provider=provider, base_url=base_url, model=model, status=status,
                              system_prompt=system_prompt)
        s.add(row)
    return row.id


def add_thread(db, title: str, messages: list[tuple[str, str]], connection_id: str | None = None,
               start: datetime | None = None) -> str:
    """A thread with (role, content) messages, timestamps 7 s apart from `start`."""
    cid = str(uuid.uuid4())
    base = start or datetime.now(UTC) - timedelta(days=1)
    with db.write() as session:
        session.execute(
            text("INSERT INTO conversations (id, agent_connection_id, title, created_at, updated_at) "
                 "VALUES (:id, :c, :t, :at, :at)"),
            {"id": cid, "c": connection_id, "t": title, "at": _stamp(base, 0)},
        )
        model = session.execute(text("SELECT model FROM agent_connections WHERE id = :c"),
                                {"c": connection_id}).scalar() if connection_id else None
        session.execute(  # a reply is signed by the connection that wrote it, as agent.chat.turn does
            text("INSERT INTO messages (id, conversation_id, role, content, created_at, updated_at, "
                 "agent_connection_id, model) VALUES (:id, :c, :r, :content, :at, :at, :by, :model)"),
            [{"id": str(uuid.uuid4()), "c": cid, "r": role, "content": content, "at": _stamp(base, i + 1),
              "by": connection_id if role == "assistant" else None, "model": model if role == "assistant" else None}
             for i, (role, content) in enumerate(messages)],
        )
    return cid


def long_messages(n: int, marker_at: int | None = None, marker: str = "") -> list[tuple[str, str]]:
    """`n` alternating user/assistant messages; message `marker_at` contains `marker` (for search)."""
    out = []
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        body = FILLER[i % len(FILLER)]
        if i % 50 == 7 and role == "assistant":
            body = CODE_REPLY
        content = f"[{i}] {body}"
        if i == marker_at:
            content += f" {marker}"
        out.append((role, content))
    return out


DEMO_THREADS = [
    ("Retry helper in Python", [
        ("user", "I keep getting flaky `ConnectionError`s from an internal API. Can you write me a small "
                 "retry helper?"),
        ("assistant", CODE_REPLY),
        ("user", "Nice. Should I add jitter?"),
        ("assistant", "Yes — when many clients retry at once, jitter spreads them out:\n\n"
                      "- **Full jitter**: sleep `random.uniform(0, base * 2 ** i)`\n"
                      "- **Equal jitter**: half fixed, half random\n\n"
                      "Full jitter is usually the better default."),
    ]),
    ("Planning the week", [
        ("user", "Help me plan three focused mornings this week."),
        ("assistant", "Here is a simple plan:\n\n1. **Monday** — draft the design doc\n2. **Wednesday** — "
                      "review and cut scope\n3. **Friday** — ship the first slice\n\nKeep mornings "
                      "meeting-free until 11:00."),
    ]),
    ("Notes on SQLite WAL", [
        ("user", FILLER[0]),
        ("assistant", FILLER[1]),
    ]),
]


def build_demo(db, base_url: str) -> dict[str, str]:
    """A small, believable database: three connections and a few threads. Returns their ids by name."""
    ids = {
        "hermes": add_connection(db, "Hermes · Local", base_url, "hermes3", provider="hermes",
                                 system_prompt="You are Hermes, a concise and friendly assistant."),
        "openrouter": add_connection(db, "OpenRouter", "https://openrouter.ai/api/v1",
                                     "nousresearch/hermes-3-llama-3.1-70b", provider="openrouter"),
        "nous": add_connection(db, "Nous", "https://inference-api.nousresearch.com/v1", "Hermes-3-Llama-3.1-70B",
                               provider="nous"),
    }
    start = datetime.now(UTC) - timedelta(hours=len(DEMO_THREADS) * 5)
    for i, (title, messages) in enumerate(reversed(DEMO_THREADS)):
        ids[title] = add_thread(db, title, messages, ids["hermes"], start=start + timedelta(hours=5 * i))
    return ids


DEMO_MEMORY = [  # (label, category, strength, days since last referenced, from the thread titled)
    ("Prefers Python for scripts and data work", "preference", 0.92, 1, "Retry helper in Python"),
    ("Wants answers short, with code first", "style", 0.86, 3, None),
    ("Keeps mornings meeting-free until 11:00", "goal", 0.8, 2, "Planning the week"),
    ("Works on an internal API that drops connections", "fact", 0.78, 5, "Retry helper in Python"),
    ("Uses SQLite in WAL mode for the desktop app", "fact", 0.81, 20, "Notes on SQLite WAL"),
    ("Learning Portuguese, about B1", "goal", 0.6, 8, None),
    ("Prefers full jitter for retries", "preference", 0.55, 30, "Retry helper in Python"),
    ("Drinks green tea, not coffee", "preference", 0.5, 40, None),
    ("Name is Ana", "fact", 0.45, 60, None),
    ("Used to write Perl", "fact", 0.3, 90, None),
]


def add_demo_memory(db, thread_ids: dict[str, str]) -> list[str]:
    """The Atlas of the demo: nodes across the three glyphs, some promoted from the demo threads
    (their source links to the message), some typed by hand. Returns the node ids."""
    from sqlmodel import select

    from agent.memory.atlas import add_node
    from agent.memory.sources import conversation_source
    from local_schema.models import Message

    now = datetime.now(UTC)
    ids = []
    for label, category, strength, days, title in DEMO_MEMORY:
        source = "manual"
        if title and title in thread_ids:
            with db.session() as s:
                first = s.exec(select(Message).where(Message.conversation_id == thread_ids[title],
                                                     Message.role == "assistant").order_by(Message.created_at)).first()
            source = conversation_source(thread_ids[title], first.id if first else None)
        node = add_node(db, label, category, strength, source, now=now - timedelta(days=days)).node
        with db.write() as s:  # referenced `days` ago: the decay shown is real
            row = s.get(type(node), node.id)
            row.last_referenced_at = format_timestamp(now - timedelta(days=days))
        ids.append(node.id)
    return ids
