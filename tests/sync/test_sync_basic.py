"""Two devices of one user converge row for row; edits, deletes and conflicts resolve by server order."""

import uuid

from local_schema.models import AgentConnection, Conversation, Message, Task
from tests.sync.helpers import server_rows


def test_two_devices_converge_row_for_row(devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    with a.session() as s:
        conn = AgentConnection(name="Hermes", provider="hermes", base_url="http://x", model="h3")
        conv = Conversation(title="hello", agent_connection_id=conn.id)
        s.add_all([conn, conv, Task(title="t1", connection_id=conn.id)])
        s.flush()
        s.add_all([Message(conversation_id=conv.id, role="user", content=f"m{i}") for i in range(5)])
        s.commit()
    first = a.sync()
    assert first.pushed == 8 and a.scalar("SELECT count(*) FROM sync_outbox") == 0
    b.sync()
    a.sync()
    assert a.snapshot() == b.snapshot()
    assert len(b.rows("messages")) == 5
    server = {str(r["id"]): r for r in server_rows(supabase_stack, "messages", user[2])}
    assert set(server) == set(b.rows("messages"))
    # The stored updated_at is the server's exact rendering, so the next pull asks for nothing new.
    again = b.sync()
    assert again.pulled == 0 and again.pushed == 0


def test_disjoint_and_same_field_edits(devices):
    tid = str(uuid.uuid4())
    a, b = devices("a"), devices("b")
    with a.session() as s:
        s.add(Task(id=tid, title="plan", description="d0"))
        s.commit()
    a.sync()
    b.sync()
    # Disjoint columns offline on both: both survive.
    a.execute("UPDATE tasks SET title = 'plan A' WHERE id = ?", tid)
    b.execute("UPDATE tasks SET description = 'desc B' WHERE id = ?", tid)
    a.sync()
    b.sync()
    a.sync()
    for dev in (a, b):
        row = dev.rows("tasks")[tid]
        assert (row["title"], row["description"]) == ("plan A", "desc B")
    # Same column on both: the last to reach the server wins everywhere.
    b.execute("UPDATE tasks SET status = 'in_progress' WHERE id = ?", tid)
    a.execute("UPDATE tasks SET status = 'done' WHERE id = ?", tid)
    b.sync()
    a.sync()  # arrives last
    b.sync()
    assert a.rows("tasks")[tid]["status"] == b.rows("tasks")[tid]["status"] == "done"
    assert a.snapshot() == b.snapshot()


def test_pull_rebases_a_dirty_row_keeping_local_columns(devices, supabase_stack):
    from sync import parked

    a, b = devices("a"), devices("b")
    tid = str(uuid.uuid4())
    with a.session() as s:
        s.add(Task(id=tid, title="t0", description="d0"))
        s.commit()
    a.sync()
    b.sync()
    a.execute("UPDATE tasks SET description = 'd from A', status = 'done' WHERE id = ?", tid)
    a.sync()
    b.execute("UPDATE tasks SET title = 't from B', status = 'in_progress' WHERE id = ?", tid)
    # b's push is refused this once, so the pull meets a dirty row: server row + b's changed columns.
    supabase_stack.faults.fail_next("PATCH", "/rest/v1/tasks", 503, {"code": "PGRST001", "message": "busy",
                                                                   "details": None, "hint": None})
    b.sync(expect_state="error")
    supabase_stack.faults.fail_next("PATCH", "/rest/v1/tasks", 403, {"code": "42501", "message": "no",
                                                                   "details": None, "hint": None})
    b.sync()
    row = b.rows("tasks")[tid]
    assert (row["title"], row["description"], row["status"]) == ("t from B", "d from A", "in_progress")
    assert b.scalar("SELECT count(*) FROM sync_outbox WHERE row_id = ?", tid) == 1  # still dirty
    [item] = parked.list_parked(b.db)
    parked.retry(b.db, item.op_seq)
    b.sync()
    a.sync()
    assert a.rows("tasks")[tid] == b.rows("tasks")[tid]
    assert (a.rows("tasks")[tid]["title"], a.rows("tasks")[tid]["status"]) == ("t from B", "in_progress")
