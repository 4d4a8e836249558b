"""What makes push fast must never make it wrong: several insert requests in flight, the next batch read
while they fly, replies of our own inserts stored with one UPDATE and the message counts kept set-based
(sync.push_adopt)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from local_schema.migrations.v0007_observatory_and_templates import bucket_sql
from local_schema.models import AgentConnection, Conversation, Message, Task
from sync import push_adopt, push_inserts
from sync.errors import Kind, RequestFailed
from sync.stamps import server_stamp
from tests.sync.helpers import server_rows


def counts_are_exact(device) -> None:
    counted = dict(device.db.engine.connect().exec_driver_sql(
        "SELECT bucket, live FROM message_counts WHERE live <> 0").fetchall())
    expected = dict(device.db.engine.connect().exec_driver_sql(
        f"SELECT {bucket_sql('created_at')}, count(*) FROM messages WHERE deleted_at IS NULL GROUP BY 1").fetchall())
    assert counted == expected


def test_bucket_reads_timestamps_as_sqlite_does():
    conn = sqlite3.connect(":memory:")
    for stamp in ("2026-11-30T12:00:00.000000+00:00", "2026-11-30T12:14:59.999999+00:00",
                  "2026-11-30T12:15:00+00:00", "2026-11-30T23:59:01.5+00:00", "2026-11-30T07:44:00Z"):
        assert push_adopt.bucket(stamp) == conn.execute(f"SELECT {bucket_sql(':s')}", {"s": stamp}).fetchone()[0]
    for odd in ("2026-11-30T12:", "2026-11-30 12:x5", None, 5, "2026-11-30T12:٣٣:00"):
        assert push_adopt.bucket(odd) is None  # such a value keeps the per-row trigger


def test_own_inserts_are_stored_with_the_servers_columns_and_exact_counts(devices, supabase_stack, user):
    a = devices("a")
    old = datetime.now(UTC) - timedelta(hours=3)
    with a.db.write() as s:
        conv = Conversation(title="spread over buckets")
        s.add(conv)
        s.flush()
        # Local created_at values in many quarter hours (a device that was offline for a while).
        s.add_all([Message(conversation_id=conv.id, role="user", content=f"m {i}",
                           created_at=(old + timedelta(minutes=i % 170)).isoformat()) for i in range(700)])
    counts_are_exact(a)
    triggers = a.scalar("SELECT group_concat(name || sql, '|') FROM (SELECT name, sql FROM sqlite_master "
                        "WHERE type = 'trigger' ORDER BY name)")
    result = a.sync()
    assert result.pushed == 701 and result.pulled == 0
    server = {str(r["id"]): r for r in server_rows(supabase_stack, "messages", user[2])}
    local = a.rows("messages")
    assert len(server) == len(local) == 700
    for mid, row in local.items():  # the server's stamps, owner and created_at, the content we sent
        assert server_stamp(row["created_at"]) == server[mid]["created_at"]
        assert server_stamp(row["updated_at"]) == server[mid]["updated_at"]
        assert row["user_id"] == user[2] and row["content"] == server[mid]["content"]
    counts_are_exact(a)
    assert a.scalar("SELECT count(*) FROM sync_outbox") == 0
    # The triggers set aside while storing are all back, as they were, and capture works again.
    assert a.scalar("SELECT group_concat(name || sql, '|') FROM (SELECT name, sql FROM sqlite_master "
                    "WHERE type = 'trigger' ORDER BY name)") == triggers
    a.execute("UPDATE messages SET content = 'edited' WHERE id = ?", next(iter(local)))
    assert a.scalar("SELECT count(*) FROM sync_outbox WHERE kind = 'update'") == 1
    assert a.sync().pushed == 1
    b = devices("b")
    b.sync()
    assert b.rows("messages") == a.rows("messages")


def test_a_reply_that_differs_from_what_was_sent_is_stored_the_general_way(devices, api, supabase_stack, user):
    """The server may change a client column on insert (a reference to a connection deleted elsewhere
    becomes null): the reply is then stored as the server has it, not as it was sent."""
    a = devices("a")
    with a.db.write() as s:
        s.add(AgentConnection(name="c", provider="custom", base_url="http://x", model="m"))
    a.sync()
    [cid] = a.rows("agent_connections")
    api.all("update public.agent_connections set deleted_at = now() where id = %s", (cid,))
    with a.db.write() as s:
        s.add_all([Conversation(title=f"t {i}", agent_connection_id=cid) for i in range(250)])
    a.sync()
    server = server_rows(supabase_stack, "conversations", user[2])
    assert len(server) == 250 and all(r["agent_connection_id"] is None for r in server)
    assert all(r["agent_connection_id"] is None for r in a.rows("conversations").values())
    assert a.scalar("SELECT count(*) FROM sync_outbox") == 0


def test_concurrent_requests_a_refused_batch_parks_only_its_own_bad_row(devices, supabase_stack, user, monkeypatch):
    monkeypatch.setattr(push_inserts, "IN_FLIGHT", 3)
    a = devices("a")
    with a.db.write() as s:
        tasks = [Task(title=f"ok {i}") for i in range(1400)]
        bad = Task(title="bad", status="nonsense")  # 23514, in the second of three batches in flight
        s.add_all(tasks[:700] + [bad] + tasks[700:])
    result = a.sync()
    assert (result.pushed, result.parked) == (1400, 1)
    server = server_rows(supabase_stack, "tasks", user[2])
    assert sorted(r["title"] for r in server) == sorted(t.title for t in tasks)
    assert a.scalar("SELECT code FROM sync_parked WHERE row_id = ?", bad.id) == "23514"
    assert a.scalar("SELECT count(*) FROM sync_outbox WHERE state = 'pending'") == 0
    assert (a.sync().requests, a.sync().pulled) == (1, 0)


def test_a_response_lost_while_another_request_is_in_flight_replays_without_duplicates(devices, supabase_stack,
                                                                                        user, monkeypatch):
    a, b = devices("a"), devices("b")
    with a.db.write() as s:
        s.add_all([Task(title=f"t {i}") for i in range(1700)])  # four batches, two in flight at a time
    # The second POST commits and its answer is lost (as a dropped connection looks to the client) while
    # the third is on its way: the cycle stops with two committed batches it has not stored, and the
    # rows of the fourth never sent.
    rest, calls = a.engine.rest(), []
    send = rest.insert

    def insert(table, rows):
        calls.append(rows[0]["title"])
        returned = send(table, rows)
        if rows[0]["title"] == "t 500":  # the second batch
            raise RequestFailed(Kind.TRANSIENT, None, None, "ConnectError: connection reset")
        return returned

    monkeypatch.setattr(rest, "insert", insert)
    first = a.sync(expect_state=None)
    assert first.state == "offline" and sorted(calls) == ["t 0", "t 1000", "t 500"] and first.pushed == 500
    assert len(server_rows(supabase_stack, "tasks", user[2])) == 1500
    a.sync()
    server = server_rows(supabase_stack, "tasks", user[2])
    assert len(server) == 1700 and len({r["title"] for r in server}) == 1700
    assert a.scalar("SELECT count(*) FROM sync_outbox") == 0
    local = a.rows("tasks")
    assert all(server_stamp(local[str(r["id"])]["updated_at"]) == r["updated_at"] for r in server)
    assert a.sync().requests == 1
    b.sync()
    assert b.rows("tasks") == a.rows("tasks")


def test_a_parent_refused_while_its_children_were_read_keeps_them_waiting(devices, supabase_stack, user):
    """The next batch is read while the previous request flies: when that request's parent row is put
    on its backoff (a 5xx), the children read meanwhile are not sent to fail, they wait for it."""
    a = devices("a")
    with a.db.write() as s:
        conv = Conversation(title="parent")
        s.add(conv)
        s.flush()
        s.add_all([Message(conversation_id=conv.id, role="user", content=f"m {i}") for i in range(300)])
    supabase_stack.faults.fail_next("POST", "/rest/v1/conversations", 500, {"code": "XX000", "message": "boom"})
    result = a.sync(expect_state=None)
    assert (result.pushed, result.deferred) == (0, 301)
    assert server_rows(supabase_stack, "messages", user[2]) == []
    assert a.scalar("SELECT count(*) FROM sync_parked") == 0
    a.execute("UPDATE sync_outbox SET next_attempt_at = NULL")  # the backoff has passed
    assert a.sync().pushed == 301
    assert len(server_rows(supabase_stack, "messages", user[2])) == 300


def test_the_reply_of_a_batch_is_stored_while_the_next_request_is_in_flight(devices, supabase_stack, monkeypatch):
    a = devices("a")
    with a.db.write() as s:
        s.add_all([Task(title=f"t {i}") for i in range(1500)])
    flying, seen = [0], []
    send = a.engine.rest().insert

    def insert(table, rows):
        flying[0] += 1
        try:
            return send(table, rows)
        finally:
            flying[0] -= 1

    adopt = push_inserts.Inserts._adopt

    def adopting(self, *args, **kwargs):
        seen.append(flying[0])
        return adopt(self, *args, **kwargs)

    monkeypatch.setattr(a.engine.rest(), "insert", insert)
    monkeypatch.setattr(push_inserts.Inserts, "_adopt", adopting)
    supabase_stack.faults.delay("POST", "/rest/v1/tasks", 0.2)
    assert a.sync().pushed == 1500
    assert len(seen) == 3 and min(seen[:2]) >= 1 and seen[-1] == 0  # the last reply has nothing after it


def test_every_request_leaves_only_once_its_attempt_is_committed(devices, monkeypatch):
    """A batch is read ahead in the transaction that stores the previous reply: its request may only
    leave after that commit, or a crash in between would forget the request was sent (and an insert
    deleted locally afterwards would be dropped instead of tombstoned)."""
    monkeypatch.setattr(push_inserts, "IN_FLIGHT", 3)
    a = devices("a")
    with a.db.write() as s:
        s.add_all([Task(title=f"t {i}") for i in range(2600)])
    unrecorded = []

    class Pool(push_inserts.ThreadPoolExecutor):
        def submit(self, fn, table, rows):  # checked as the request is handed over, in the pushing thread
            ids = [r["id"] for r in rows]
            with sqlite3.connect(a.db.path) as other:  # what another connection sees: committed state only
                unrecorded.append(other.execute(
                    "SELECT count(*) FROM sync_outbox WHERE attempts = 0 AND row_id IN "
                    f"({','.join('?' * len(ids))})", ids).fetchone()[0])
            return super().submit(fn, table, rows)

    monkeypatch.setattr(push_inserts, "ThreadPoolExecutor", Pool)
    assert a.sync().pushed == 2600
    assert len(unrecorded) == 6 and set(unrecorded) == {0}
