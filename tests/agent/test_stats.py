"""The Observatory's numbers: each tile equals a direct SQL count, tombstones are not counted, days are
the user's local days (DST included), connections carry their last check."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agent.observatory import stats
from local_schema.models import AgentConnection, ConnectionCheck, Conversation, Message, Skill, Task, Template
from local_schema.timestamps import format_timestamp

EMPTY = {"skills": [], "seed_memory": []}


def _fill(db, rng: random.Random, now: datetime) -> None:
    with db.write() as s:
        connections = [AgentConnection(name=f"c{i}", provider="custom", base_url="http://x/v1", model="m",
                                       status=rng.choice(["online", "offline", "error"]),
                                       deleted_at=format_timestamp(now) if i == 0 else None) for i in range(5)]
        s.add_all(connections)
        threads = [Conversation(title=f"t{i}", deleted_at=format_timestamp(now) if i == 1 else None)
                   for i in range(4)]
        s.add_all(threads)
        s.flush()
        for i in range(300):
            s.add(Message(conversation_id=rng.choice(threads).id, role=rng.choice(["user", "assistant"]),
                          content=f"m{i}", created_at=format_timestamp(now - timedelta(hours=rng.uniform(0, 500))),
                          deleted_at=format_timestamp(now) if i % 17 == 0 else None))
        for i in range(25):
            s.add(Skill(name=f"s{i}", status=rng.choice(["suggested", "promoted", "archived"]),
                        created_at=format_timestamp(now - timedelta(hours=rng.uniform(0, 500))),
                        deleted_at=format_timestamp(now) if i % 9 == 0 else None))
        for i in range(12):
            s.add(Task(title=f"k{i}", status=rng.choice(["pending", "in_progress", "done"]),
                       deleted_at=format_timestamp(now) if i == 3 else None))
        s.add(Template(name="mine", payload=EMPTY))
        s.add(Template(name="gone", payload=EMPTY, deleted_at=format_timestamp(now)))


def test_every_tile_matches_a_direct_sql_count(db):
    now = datetime.now(UTC)
    _fill(db, random.Random(7), now)
    numbers = stats.collect(db, now=now)
    direct = {
        "connections": "SELECT count(*) FROM agent_connections WHERE deleted_at IS NULL",
        "online": "SELECT count(*) FROM agent_connections WHERE deleted_at IS NULL AND status='online'",
        "conversations": "SELECT count(*) FROM conversations WHERE deleted_at IS NULL",
        "messages": "SELECT count(*) FROM messages WHERE deleted_at IS NULL",
        "memory_nodes": "SELECT count(*) FROM memory_nodes WHERE deleted_at IS NULL",
        "skills": "SELECT count(*) FROM skills WHERE deleted_at IS NULL",
        "promoted": "SELECT count(*) FROM skills WHERE deleted_at IS NULL AND status='promoted'",
        "mirror_reports": "SELECT count(*) FROM mirror_reports WHERE deleted_at IS NULL",
        "templates": "SELECT count(*) FROM templates WHERE deleted_at IS NULL",
        "tasks": "SELECT count(*) FROM tasks WHERE deleted_at IS NULL",
        "tasks_done": "SELECT count(*) FROM tasks WHERE deleted_at IS NULL AND status='done'",
    }
    with db.engine.connect() as conn:
        expected = {key: conn.exec_driver_sql(sql).scalar() for key, sql in direct.items()}
    assert numbers.tiles == expected
    assert list(numbers.tiles) == [key for key, _label in stats.TILES]
    assert expected["messages"] < 300 and expected["templates"] == 1 and expected["connections"] == 4


def test_days_are_local_calendar_days_and_skip_tombstones(db):
    zone = ZoneInfo("America/New_York")
    now = datetime(2026, 3, 10, 15, 0, tzinfo=zone)  # DST began on Sunday 8 March 2026 (a 23-hour day)
    local = [datetime(2026, 3, 8, 0, 30, tzinfo=zone), datetime(2026, 3, 8, 23, 59, 59, tzinfo=zone),
             datetime(2026, 3, 9, 0, 0, tzinfo=zone), datetime(2026, 3, 10, 14, 0, tzinfo=zone),
             datetime(2026, 2, 24, 23, 0, tzinfo=zone)]  # the day before the window (in UTC: the 25th)
    with db.write() as s:
        thread = Conversation(title="t")
        s.add(thread)
        s.flush()
        for moment in local:
            s.add(Message(conversation_id=thread.id, role="user", content="x", created_at=format_timestamp(moment)))
        s.add(Message(conversation_id=thread.id, role="user", content="gone", deleted_at=format_timestamp(now),
                      created_at=format_timestamp(local[3])))
        s.add(Skill(name="new", created_at=format_timestamp(local[2])))
    with db.engine.connect() as conn:
        days = stats.per_day_in(conn, now=now, zone=zone)
    assert len(days) == 14 and days[-1].day == "2026-03-10" and days[0].day == "2026-02-25"
    by_day = {d.day: (d.messages, d.skills) for d in days}
    assert by_day["2026-03-08"] == (2, 0)
    assert by_day["2026-03-09"] == (1, 1)
    assert by_day["2026-03-10"] == (1, 0)
    assert by_day["2026-02-25"] == (0, 0)  # a UTC day would have counted the 24th's late message here
    assert sum(m for m, _ in by_day.values()) == 4


def test_server_shaped_timestamps_fall_on_the_right_side_of_midnight(db):
    zone = UTC
    now = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
    with db.write() as s:
        thread = Conversation(title="t")
        s.add(thread)
        s.flush()
        # PostgreSQL trims the fraction: exactly midnight has none, a moment before has a short one.
        for stamp in ("2026-05-02T00:00:00+00:00", "2026-05-01T23:59:59.9+00:00", "2026-05-02T00:00:00.5+00:00"):
            s.add(Message(id=str(uuid.uuid4()), conversation_id=thread.id, role="user", content="x", created_at=stamp))
    with db.engine.connect() as conn:
        by_day = {d.day: d.messages for d in stats.per_day_in(conn, now=now, zone=zone)}
    assert (by_day["2026-05-01"], by_day["2026-05-02"]) == (1, 2)


def test_connection_rows_carry_the_last_check(db):
    with db.write() as s:
        tested = AgentConnection(name="Tested", provider="custom", base_url="http://x/v1", model="m", status="error")
        untested = AgentConnection(name="Fresh", provider="custom", base_url="http://y/v1", model="m2")
        s.add_all([tested, untested])
        s.flush()
        s.add(ConnectionCheck(connection_id=tested.id, status="error", error="HTTP 401: bad key",
                              checked_at="2026-05-01T10:00:00.000000+00:00"))
    rows = stats.collect(db).connections
    assert [(r.name, r.status, r.checked_at, r.error) for r in rows] == [
        ("Fresh", "offline", None, None), ("Tested", "error", "2026-05-01T10:00:00.000000+00:00", "HTTP 401: bad key")]


def _live_by_bucket(db) -> dict[str, int]:
    """message_counts without empty buckets, and the same computed directly from messages."""
    from local_schema.migrations.v0007_observatory_and_templates import bucket_sql

    with db.engine.connect() as conn:
        kept = dict(conn.exec_driver_sql("SELECT bucket, live FROM message_counts WHERE live <> 0").all())
        direct = dict(conn.exec_driver_sql(f"SELECT {bucket_sql('created_at')}, count(*) FROM messages "
                                           "WHERE deleted_at IS NULL GROUP BY 1").all())
    return kept, direct


def test_message_counts_stay_exact_through_every_kind_of_write(db):
    from sqlalchemy import text

    with db.write() as s:
        thread = Conversation(title="t")
        s.add(thread)
        s.flush()
        ids = [str(uuid.uuid4()) for _ in range(6)]
        for i, mid in enumerate(ids):
            s.add(Message(id=mid, conversation_id=thread.id, role="user", content=str(i),
                          created_at=f"2026-05-01T12:{i * 10:02d}:00.5+00:00"))
    kept, direct = _live_by_bucket(db)
    assert kept == direct == {"2026-05-01T12:0": 2, "2026-05-01T12:1": 1, "2026-05-01T12:2": 2,
                              "2026-05-01T12:3": 1}  # minutes 0, 10 | 20 | 30, 40 | 50
    stamp = "2026-05-02T00:00:00+00:00"
    with db.write() as s:
        s.execute(text("UPDATE messages SET deleted_at = :t WHERE id = :i"), {"t": stamp, "i": ids[0]})  # tombstone
        s.execute(text("UPDATE messages SET created_at = :t WHERE id = :i"), {"t": stamp, "i": ids[1]})  # re-stamped
        s.execute(text("UPDATE messages SET content = 'edited' WHERE id = :i"), {"i": ids[2]})  # no count change
        s.execute(text("DELETE FROM messages WHERE id = :i"), {"i": ids[3]})
        # The pull's upsert, on an existing row and a new one (sync/pull.py)
        s.execute(text("INSERT INTO messages (id, conversation_id, role, content, created_at, deleted_at) "
                       "VALUES (:i, :c, 'user', 'x', :t, :d) ON CONFLICT(id) DO UPDATE SET "
                       "created_at = excluded.created_at, deleted_at = excluded.deleted_at"),
                  [{"i": ids[4], "c": thread.id, "t": "2026-05-03T08:59:59+00:00", "d": None},
                   {"i": str(uuid.uuid4()), "c": thread.id, "t": "2026-05-03T09:00:00+00:00", "d": None},
                   {"i": str(uuid.uuid4()), "c": thread.id, "t": "2026-05-03T09:00:00+00:00", "d": stamp}])
        s.execute(text("INSERT OR REPLACE INTO messages (id, conversation_id, role, content, created_at) "
                       "VALUES (:i, :c, 'user', 'replaced', '2026-05-04T10:00:00+00:00')"),
                  {"i": ids[5], "c": thread.id})
    kept, direct = _live_by_bucket(db)
    assert kept == direct
    assert stats.collect(db).tiles["messages"] == 5
    with db.write() as s:  # a deleted conversation takes its messages with it (ON DELETE CASCADE)
        s.delete(s.get(Conversation, thread.id))
    assert _live_by_bucket(db) == ({}, {}) and stats.collect(db).tiles["messages"] == 0


def test_the_migration_counts_the_messages_already_there(tmp_path):
    import sqlite3

    from local_schema import migrations
    from local_schema.database import open_database

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(conn, target=6)
    conn.execute("INSERT INTO conversations (id) VALUES ('c')")
    conn.executemany("INSERT INTO messages (conversation_id, role, content, created_at, deleted_at) "
                     "VALUES ('c', 'user', 'x', ?, ?)",
                     [("2026-05-01T12:00:00+00:00", None), ("2026-05-01T12:14:59.9+00:00", None),
                      ("2026-05-01T12:15:00+00:00", None), ("2026-05-01T12:16:00+00:00", "2026-05-02T00:00:00+00:00")])
    conn.close()
    db = open_database(path)
    try:
        assert _live_by_bucket(db) == ({"2026-05-01T12:0": 2, "2026-05-01T12:1": 1},) * 2
    finally:
        db.close()
