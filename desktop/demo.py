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

    with db.session() as s:
        row = AgentConnection(name=name, provider=provider, base_url=base_url, model=model, status=status,
                              system_prompt=system_prompt)
        s.add(row)
        s.commit()
        return row.id


def add_thread(db, title: str, messages: list[tuple[str, str]], connection_id: str | None = None,
               start: datetime | None = None) -> str:
    """A thread with (role, content) messages, timestamps 7 s apart from `start`."""
    cid = str(uuid.uuid4())
    base = start or datetime.now(UTC) - timedelta(days=1)
    with db.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO conversations (id, agent_connection_id, title, created_at, updated_at) "
                 "VALUES (:id, :c, :t, :at, :at)"),
            {"id": cid, "c": connection_id, "t": title, "at": _stamp(base, 0)},
        )
        conn.execute(
            text("INSERT INTO messages (id, conversation_id, role, content, created_at, updated_at) "
                 "VALUES (:id, :c, :r, :content, :at, :at)"),
            [{"id": str(uuid.uuid4()), "c": cid, "r": role, "content": content, "at": _stamp(base, i + 1)}
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
