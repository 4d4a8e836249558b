"""Trees on the stand-in: two devices that continue one thread offline make sibling branches, each reply
under its own question, and agree afterwards on everything (the active leaf: last writer wins); a push
never sends a reply before its question, however many batches a long offline thread takes."""

from __future__ import annotations

from agent.chat import tree
from agent.chat.threads import new_thread
from agent.chat.turn import DONE, ChatTurn
from local_schema.models import AgentConnection, Conversation, Message
from sync import push_inserts
from tests.sync.helpers import server_rows


def shape(device, thread_id) -> dict[str, tuple[str | None, str]]:
    """Every message of the thread: content -> (its parent's content, role)."""
    rows = {r["id"]: r for r in device.rows("messages").values() if r["conversation_id"] == thread_id}
    return {r["content"]: (rows[r["parent_id"]]["content"] if r["parent_id"] else None, r["role"])
            for r in rows.values()}


def shown(device, thread_id) -> list[str]:
    with device.db.session() as s:
        return [m.content for m in tree.active_path_in(s, thread_id)]


def test_two_devices_offline_make_sibling_branches_each_reply_under_its_question(devices, fake_llm, supabase_stack,
                                                                                user):
    fake_llm.responder = lambda request: {"text": "answer to " + request.messages[-1]["content"]}
    a, b = devices("a"), devices("b")
    with a.db.write() as s:
        connection = AgentConnection(name="fake", provider="custom", base_url=fake_llm.base_url, model="m")
        s.add(connection)
    thread = new_thread(a.db, connection.id).id
    assert ChatTurn(a.db, thread).send("q1").status == DONE
    a.sync()
    b.sync()
    assert shown(b, thread) == ["q1", "answer to q1"]

    # Both offline: each continues the thread it sees.
    assert ChatTurn(a.db, thread).send("from a").status == DONE
    assert ChatTurn(b.db, thread).send("from b").status == DONE
    b_requests = [m["content"] for m in fake_llm.chat_requests[-1].messages]
    assert b_requests == ["q1", "answer to q1", "from b"]  # b never saw a's turn

    a.sync()
    b.sync()  # pushes b's branch (and its active leaf, last) and pulls a's
    a.sync()
    expected = {"q1": (None, "user"), "answer to q1": ("q1", "assistant"),
                "from a": ("answer to q1", "user"), "answer to from a": ("from a", "assistant"),
                "from b": ("answer to q1", "user"), "answer to from b": ("from b", "assistant")}
    assert shape(a, thread) == shape(b, thread) == expected
    on_server = {r["content"]: r for r in server_rows(supabase_stack, "messages", user[2])}
    assert {c: (str(on_server[c]["parent_id"]) if on_server[c]["parent_id"] else None) for c in expected} == {
        c: (next(str(r["id"]) for r in on_server.values() if r["content"] == p) if p else None)
        for c, (p, _role) in expected.items()}
    # The active leaf is last-writer-wins: b pushed last, both devices now show b's branch.
    assert a.rows("conversations")[thread]["active_leaf_id"] == b.rows("conversations")[thread]["active_leaf_id"]
    assert shown(a, thread) == shown(b, thread) == ["q1", "answer to q1", "from b", "answer to from b"]
    with a.db.session() as s:
        q1 = next(m for m in tree.active_path_in(s, thread) if m.content == "answer to q1")
        assert [m.content for m in tree.children_in(s, thread, q1.id)] == ["from a", "from b"] or \
            [m.content for m in tree.children_in(s, thread, q1.id)] == ["from b", "from a"]

    # a switches back to its own branch and continues it; the prompt is that branch only.
    own = next(i for i, r in a.rows("messages").items() if r["content"] == "answer to from a")
    tree.switch(a.db, thread, own)
    assert ChatTurn(a.db, thread).send("more from a").status == DONE
    assert [m["content"] for m in fake_llm.chat_requests[-1].messages] == [
        "q1", "answer to q1", "from a", "answer to from a", "more from a"]
    a.sync()
    b.sync()
    assert shown(b, thread)[-2:] == ["more from a", "answer to more from a"]


def test_a_branch_deleted_on_one_device_goes_everywhere_with_one_request(devices, fake_llm, supabase_stack, user):
    a, b = devices("a"), devices("b")
    with a.db.write() as s:
        connection = AgentConnection(name="fake", provider="custom", base_url=fake_llm.base_url, model="m")
        s.add(connection)
    thread = new_thread(a.db, connection.id).id
    first = ChatTurn(a.db, thread).send("q1")
    ChatTurn(a.db, thread).regenerate()
    ChatTurn(a.db, thread).send("q2")
    tree.switch(a.db, thread, first.reply_message_id)
    a.sync()
    b.sync()
    regenerated = [i for i, r in a.rows("messages").items()
                   if r["parent_id"] == first.user_message_id and i != first.reply_message_id]
    assert tree.delete_branch(b.db, thread, regenerated[0]) == 3
    with b.db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sync_outbox WHERE table_name = 'messages'").scalar() == 1
    b.sync()
    a.sync()
    assert shown(a, thread) == shown(b, thread) == ["q1", "Hello from the fake model."]
    assert len(a.rows("messages")) == len(b.rows("messages")) == 2
    gone = [r for r in server_rows(supabase_stack, "messages", user[2]) if r["deleted_at"] is not None]
    assert len(gone) == 3


def test_a_long_offline_thread_pushes_every_parent_before_its_children(devices, monkeypatch, supabase_stack, user):
    """1,200 messages in one chain: three insert batches of one table. Message batches never fly together
    (a batch's rows may answer the one before), so nothing is refused, deferred or parked."""
    flying = []
    real_insert = push_inserts.Inserts._insert_pipelined

    def watch(self, batches):
        flying.append(push_inserts._independent("messages"))
        return real_insert(self, batches)

    monkeypatch.setattr(push_inserts.Inserts, "_insert_pipelined", watch)
    a = devices("a")
    thread = new_thread(a.db).id
    with a.db.write() as s:
        parent = None
        for i in range(1200):
            m = Message(conversation_id=thread, role="user" if i % 2 == 0 else "assistant", content=f"m{i}",
                        parent_id=parent)
            s.add(m)
            parent = m.id
        s.get(Conversation, thread).active_leaf_id = parent
    result = a.sync()
    assert (result.parked, result.deferred) == (0, 0) and flying == [False]
    on_server = {str(r["id"]): r for r in server_rows(supabase_stack, "messages", user[2])}
    assert len(on_server) == 1200
    assert {r["content"]: str(r["parent_id"]) if r["parent_id"] else None for r in on_server.values()} == {
        r["content"]: r["parent_id"] for r in a.rows("messages").values()}
    b = devices("b")
    b.sync()
    assert shown(b, thread)[-1] == "m1199" and len(shown(b, thread)) == 1200
