"""Deletes win: over a concurrent edit, across a cascade, and for a device that was offline."""

import uuid

from local_schema.models import Conversation, Message, Task
from sync.parked import list_parked
from sync.pull import DELETED_ELSEWHERE
from tests.sync.helpers import server_rows


def test_delete_beats_concurrent_edit_and_reaches_offline_device(devices, supabase_stack, user):
    TID = str(uuid.uuid4())
    a, b, c = devices("a"), devices("b"), devices("c")
    with a.session() as s:
        s.add(Task(id=TID, title="shared"))
        s.commit()
    for dev in (a, b, c):
        dev.sync()
    c.close()  # c goes offline for a while

    a.execute("DELETE FROM tasks WHERE id = ?", TID)
    b.execute("UPDATE tasks SET title = 'edited on b' WHERE id = ?", TID)
    a.sync()
    result = b.sync()
    assert result.parked == 1
    assert TID not in b.rows("tasks")  # not resurrected
    parked = list_parked(b.db)
    assert [(p.row_id, p.message) for p in parked] == [(TID, DELETED_ELSEWHERE)]
    assert parked[0].snapshot["title"] == "edited on b"  # the lost edit stays visible
    server = server_rows(supabase_stack, "tasks", user[2])
    assert len(server) == 1 and server[0]["deleted_at"] is not None and server[0]["title"] == "shared"

    c.sync()  # back online, a week later
    assert TID not in c.rows("tasks")
    assert c.scalar("SELECT count(*) FROM sync_outbox") == 0


def test_remote_tombstone_over_dirty_row_parks_the_edit_and_cascades(devices):
    a, b = devices("a"), devices("b")
    with a.session() as s:
        conv = Conversation(title="to delete")
        s.add(conv)
        s.flush()
        s.add_all([Message(conversation_id=conv.id, role="user", content=f"m{i}") for i in range(3)])
        s.commit()
        conv_id = conv.id
    a.sync()
    b.sync()
    a.execute("DELETE FROM conversations WHERE id = ?", conv_id)  # cascades to messages locally
    a.sync()
    # b edits a message offline; the pull brings the server's cascaded tombstones.
    msg_id = next(iter(b.rows("messages")))
    b.execute("UPDATE messages SET content = 'late edit' WHERE id = ?", msg_id)
    b.sync()
    assert b.rows("conversations") == {} and b.rows("messages") == {}
    parked = list_parked(b.db)
    assert [p.row_id for p in parked] == [msg_id] and parked[0].snapshot["content"] == "late edit"
    assert a.snapshot() == b.snapshot()


def test_create_then_delete_before_push_sends_nothing_and_echo_does_not_resurrect(devices, supabase_stack, user):
    TID = str(uuid.uuid4())
    a = devices("a")
    with a.session() as s:
        s.add(Task(id=TID, title="short-lived"))
        s.commit()
    a.execute("DELETE FROM tasks WHERE id = ?", TID)
    result = a.sync()
    assert result.requests == 1 and server_rows(supabase_stack, "tasks", user[2]) == []  # only the heads call
    # Create -> push -> delete -> push, then pull the echo of both versions: stays deleted.
    with a.session() as s:
        s.add(Task(id=TID, title="pushed"))
        s.commit()
    a.sync()
    a.execute("DELETE FROM tasks WHERE id = ?", TID)
    a.sync()
    assert TID not in a.rows("tasks")
    assert server_rows(supabase_stack, "tasks", user[2])[0]["deleted_at"] is not None


def test_child_of_a_parent_deleted_here_does_not_halt_the_pull(devices, supabase_stack):
    from local_schema.models import Conversation, Message
    from sync import parked

    a, b = devices("a"), devices("b")
    with a.session() as s:
        doomed, other = Conversation(title="doomed"), Conversation(title="other")
        s.add_all([doomed, other])
        s.commit()
    a.sync()
    b.sync()
    a.execute("DELETE FROM conversations WHERE id = ?", doomed.id)
    with b.session() as s:  # meanwhile b writes into the conversation a deleted, and elsewhere
        s.add_all([Message(conversation_id=doomed.id, role="user", content="into doomed"),
                   Message(conversation_id=other.id, role="user", content="elsewhere")])
        s.commit()
    b.sync()
    supabase_stack.faults.fail_next("PATCH", "/rest/v1/conversations", 403, {
        "code": "42501", "message": "permission denied for table conversations", "details": None, "hint": None})
    result = a.sync()
    assert result.parked == 1 and result.quarantined == 0
    assert [m["content"] for m in a.rows("messages").values()] == ["elsewhere"]
    [item] = parked.list_parked(a.db)
    parked.retry(a.db, item.op_seq)  # the delete goes through this time; b's message goes with it
    a.sync()
    b.sync()
    assert a.snapshot() == b.snapshot()
    assert [m["content"] for m in b.rows("messages").values()] == ["elsewhere"]


def test_message_written_offline_into_a_conversation_deleted_elsewhere_is_parked_with_its_text(
        devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    with a.session() as s:
        conv = Conversation(title="deleted on a")
        s.add(conv)
        s.commit()
    a.sync()
    b.sync()
    a.execute("DELETE FROM conversations WHERE id = ?", conv.id)
    a.sync()
    with b.session() as s:  # b has not heard of the delete yet
        s.add(Message(conversation_id=conv.id, role="user", content="written offline"))
        s.commit()
    b.sync()
    assert b.rows("conversations") == {} and b.rows("messages") == {}  # the delete won...
    [item] = list_parked(b.db)  # ...and the text is kept where the user can see it
    assert item.table == "messages" and item.message == DELETED_ELSEWHERE
    assert item.snapshot["content"] == "written offline"
    assert [m for m in server_rows(supabase_stack, "messages", user[2]) if m["deleted_at"] is None] == []
    a.sync()
    assert a.snapshot() == b.snapshot() and a.alerts == b.alerts == []


def test_deleting_a_thread_is_one_request_the_server_cascades_it(devices, supabase_stack, user):
    from agent.chat.threads import delete_thread

    a, b = devices("a"), devices("b")
    with a.db.write() as s:
        conv = Conversation(title="long thread")
        s.add(conv)
        s.flush()
        s.add_all([Message(conversation_id=conv.id, role="user", content=f"m{i}") for i in range(200)])
    a.sync()
    b.sync()
    with a.db.write() as s:  # one more message and an edit, never pushed: the delete covers them too
        s.add(Message(conversation_id=conv.id, role="user", content="unpushed"))
        s.get(Message, next(iter(a.rows("messages")))).content = "edited"
    delete_thread(a.db, conv.id)
    assert a.scalar("SELECT count(*) FROM sync_outbox") == 1
    result = a.sync()
    # The heads call, the one PATCH, the heads again, then the pulls of conversations (leaving out the row
    # the PATCH returned) and of messages (the server's cascade).
    assert (result.pushed, result.requests) == (1, 1 + 1 + 1 + 2)
    server = server_rows(supabase_stack, "messages", user[2])
    assert len(server) == 200 and all(m["deleted_at"] is not None for m in server)
    b.sync()
    assert b.rows("conversations") == {} and b.rows("messages") == {}
    assert a.snapshot() == b.snapshot()


def test_deleting_a_connection_is_one_request_the_server_nulls_the_references(devices, supabase_stack, user):
    from local_schema.models import AgentConnection, MirrorReport

    a, b = devices("a"), devices("b")
    with a.db.write() as s:
        conn = AgentConnection(name="c", provider="custom", base_url="http://x/v1", model="m")
        s.add(conn)
        s.flush()
        s.add_all([Conversation(agent_connection_id=conn.id, title=f"t{i}") for i in range(20)])
        s.add_all([Task(connection_id=conn.id, title=f"task{i}") for i in range(5)])
        s.add(MirrorReport(agent_connection_id=conn.id, title="r"))
    a.sync()
    b.sync()
    with a.db.write() as s:
        s.delete(s.get(AgentConnection, conn.id))
    assert a.scalar("SELECT count(*) FROM sync_outbox") == 1
    result = a.sync()
    # heads, the one PATCH, heads again, the pulls of agent_connections and of the three cascaded tables
    assert (result.pushed, result.requests) == (1, 1 + 1 + 1 + 4)
    for table, column in (("conversations", "agent_connection_id"), ("tasks", "connection_id"),
                          ("mirror_reports", "agent_connection_id")):
        assert all(r[column] is None for r in server_rows(supabase_stack, table, user[2]))
    b.sync()
    assert all(r["agent_connection_id"] is None for r in b.rows("conversations").values())
    assert a.snapshot() == b.snapshot()
