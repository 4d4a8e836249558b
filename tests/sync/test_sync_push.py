"""Push: replay safety after lost responses, refused writes parked (the rest goes on), retry/discard."""

import json
import uuid

from local_schema.models import Conversation, Message, Task, Template
from sync import parked
from tests.sync.helpers import server_rows

VALID_PAYLOAD = {"skills": [], "seed_memory": []}


def test_lost_responses_after_commit_cause_no_duplicates(devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    tid = str(uuid.uuid4())
    with a.session() as s:
        s.add(Task(id=tid, title="once"))
        s.commit()
    supabase_stack.faults.drop_response_after_commit("POST", "/rest/v1/tasks")
    lost = a.sync(expect_state=None)
    assert lost.state in ("offline", "error") and supabase_stack.faults.hits("drop") == 1
    assert len(server_rows(supabase_stack, "tasks", user[2])) == 1  # it did land
    a.sync()  # replay: 23505 -> visible as us -> our own earlier success
    assert len(server_rows(supabase_stack, "tasks", user[2])) == 1
    assert a.scalar("SELECT count(*) FROM sync_outbox") == 0

    # A lost PATCH replays to the same absolute values; a lost tombstone replays as a no-op.
    a.execute("UPDATE tasks SET title = 'twice' WHERE id = ?", tid)
    supabase_stack.faults.drop_response_after_commit("PATCH", "/rest/v1/tasks")
    a.sync(expect_state=None)
    a.sync()
    a.execute("DELETE FROM tasks WHERE id = ?", tid)
    supabase_stack.faults.drop_response_after_commit("PATCH", "/rest/v1/tasks")
    a.sync(expect_state=None)
    a.sync()
    rows = server_rows(supabase_stack, "tasks", user[2])
    assert len(rows) == 1 and rows[0]["title"] == "twice" and rows[0]["deleted_at"] is not None
    b.sync()
    assert b.rows("tasks") == {} and a.rows("tasks") == {}


def test_refused_writes_are_parked_and_the_rest_syncs(devices, supabase_stack, user):
    a = devices("a")
    # Someone else already owns this id: RLS hides their row, so our insert is a genuine collision.
    other_email, other_pw, other_id = supabase_stack.new_user()
    taken = str(uuid.uuid4())
    other = supabase_stack.client()
    other.auth.sign_in_with_password({"email": other_email, "password": other_pw})
    other.table("tasks").insert({"id": taken, "title": "theirs"}).execute()

    with a.session() as s:
        good = [Task(title=f"ok {i}") for i in range(50)]
        bad_status = Task(title="bad", status="nonsense")  # check constraint 23514, mid-batch
        s.add_all(good[:25] + [bad_status] + good[25:] + [Task(id=taken, title="mine?")])
        s.add(Template(name="bad template", payload={"oops": True}))  # payload shape check
        s.commit()
    result = a.sync()
    assert result.pushed == 50 and result.parked == 3
    titles = {r["title"] for r in server_rows(supabase_stack, "tasks", user[2])}
    assert titles == {f"ok {i}" for i in range(50)}
    items = {p.row_id: p for p in parked.list_parked(a.db)}
    assert items[bad_status.id].code == "23514"
    assert "not yours" in items[taken].message
    assert len(items) == 3
    status = a.engine.status()
    assert status["parked"] == 3 and status["pending"] == 0
    # Nothing was dropped: the rows are still here for the user to fix.
    assert bad_status.id in a.rows("tasks") and taken in a.rows("tasks")

    # Fix and retry one; discard another (restores the server's version: there is none).
    a.execute("UPDATE tasks SET status = 'done' WHERE id = ?", bad_status.id)
    assert parked.retry(a.db, items[bad_status.id].op_seq) == 1  # the fix itself is queued already
    assert parked.discard(a.engine, items[taken].op_seq).startswith("removed locally")
    a.sync()
    assert {r["status"] for r in server_rows(supabase_stack, "tasks", user[2]) if r["title"] == "bad"} == {"done"}
    assert taken not in a.rows("tasks")
    assert [p.table for p in parked.list_parked(a.db)] == ["templates"]


def test_rls_rejection_of_an_update_is_parked_and_discard_restores_server_version(devices, supabase_stack):
    a = devices("a")
    tid = str(uuid.uuid4())
    with a.session() as s:
        s.add_all([Task(id=tid, title="server title"), Task(title="other")])
        s.commit()
    a.sync()
    a.execute("UPDATE tasks SET title = 'refused' WHERE id = ?", tid)
    with a.session() as s:
        s.add(Task(title="still syncs"))
        s.commit()
    supabase_stack.faults.fail_next("PATCH", "/rest/v1/tasks", 403, {
        "code": "42501", "message": 'new row violates row-level security policy for table "tasks"',
        "details": None, "hint": None})
    result = a.sync()
    assert result.parked == 1 and result.pushed == 1
    [item] = parked.list_parked(a.db)
    assert (item.code, item.row_id) == ("42501", tid)
    assert a.rows("tasks")[tid]["title"] == "refused"  # the user's data stays visible
    # A later edit of that row waits behind the parked change instead of overtaking it.
    a.execute("UPDATE tasks SET description = 'more' WHERE id = ?", tid)
    a.sync()
    assert a.scalar("SELECT count(*) FROM sync_outbox WHERE state = 'pending'") == 0
    assert parked.discard(a.engine, item.op_seq) == "restored the server's version"
    row = a.rows("tasks")[tid]
    assert (row["title"], row["description"]) == ("server title", None)
    assert a.scalar("SELECT count(*) FROM sync_outbox") == 0


def test_child_queued_under_a_parked_parent_is_parked_not_lost(devices, supabase_stack, user):
    a = devices("a")
    with a.session() as s:
        conv = Conversation(title="x" * 600)  # longer than the server allows (500)
        s.add(conv)
        s.flush()
        s.add(Message(conversation_id=conv.id, role="user", content="hello"))
        s.commit()
    result = a.sync()
    assert result.parked == 2
    reasons = {p.table: p.message for p in parked.list_parked(a.db)}
    assert "parent row is not on the server" in reasons["messages"]
    assert server_rows(supabase_stack, "messages", user[2]) == []
    a.execute("UPDATE conversations SET title = 'short' WHERE id = ?", conv.id)
    for item in parked.list_parked(a.db):
        if item.table == "conversations":
            parked.retry(a.db, item.op_seq)
    a.sync()
    for item in parked.list_parked(a.db):
        parked.retry(a.db, item.op_seq)
    a.sync()
    assert len(server_rows(supabase_stack, "messages", user[2])) == 1
    assert parked.list_parked(a.db) == []


def test_pushed_rows_take_the_servers_stamps(devices, supabase_stack, user):
    a = devices("a")
    with a.session() as s:
        s.add(Template(name="t", payload=VALID_PAYLOAD, is_public=True))
        s.commit()
    a.sync()
    [server] = server_rows(supabase_stack, "templates", user[2])
    [local] = a.rows("templates").values()
    assert local["author_id"] == user[2]
    assert json.loads(local["payload"]) == VALID_PAYLOAD
    from local_schema.timestamps import parse_timestamp

    assert parse_timestamp(local["updated_at"]) == server["updated_at"]


def test_a_streamed_reply_thousands_of_edits_goes_out_as_one_patch(devices, supabase_stack, user):
    a = devices("a")
    with a.session() as s:
        conv = Conversation(title="chat")
        s.add(conv)
        s.flush()
        msg = Message(conversation_id=conv.id, role="assistant", content="")
        s.add(msg)
        s.commit()
    a.sync()
    text = ""
    with a.db.engine.begin() as conn:  # one UPDATE per streamed token, as a naive writer would do
        for i in range(2000):
            text += f"t{i} "
            conn.exec_driver_sql("UPDATE messages SET content = ? WHERE id = ?", (text, msg.id))
    assert a.scalar("SELECT count(*) FROM sync_outbox") == 2000
    result = a.sync()
    # The heads call, one PATCH, the heads again, then one pull of messages that leaves out the row the
    # PATCH returned.
    assert result.pushed == 1 and result.requests == 4 and result.pulled == 0
    [server] = server_rows(supabase_stack, "messages", user[2])
    assert server["content"] == text and a.scalar("SELECT count(*) FROM sync_outbox") == 0
