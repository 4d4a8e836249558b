"""Console turns end to end: real SQLite file, real HTTP to the fake endpoint."""

import threading

import pytest
from sqlmodel import select

from agent.chat.threads import delete_thread, thread_messages_in
from agent.chat.tree import active_path_in
from agent.chat.turn import DONE, FAILED, STOPPED, ChatTurn
from agent.llm import errors
from local_schema.models import AgentConnection, Conversation, MemoryNode, Message
from standin.model import Reply
from tests.agent.conftest import add_connection, add_message, add_node, add_thread


@pytest.fixture
def thread(db, fake_llm):
    with db.session() as s:
        conn = add_connection(s, base_url=fake_llm.base_url, system_prompt="You are Hermes.")
        return add_thread(s, conn)


def stored(db, thread):
    """Every message of the thread, every branch, in thread order."""
    with db.session() as s:
        return [(m.role, m.content) for m in thread_messages_in(s, thread.id)]


def shown(db, thread):
    """The active path: what the transcript shows and the next turn continues."""
    with db.session() as s:
        return [(m.role, m.content) for m in active_path_in(s, thread.id)]


def status_of(db, message_id):
    with db.session() as s:
        m = s.get(Message, message_id)
        return m.status, m.error


def test_send_stores_both_messages_and_sends_the_assembled_prompt(db, fake_llm, thread):
    fake_llm.reply(tokens=["Hi ", "Ana", "!"])
    deltas, done = [], []
    turn = ChatTurn(db, thread.id, on_delta=deltas.append, on_done=done.append)
    result = turn.send("  Hello, I am Ana and I like long walks on the beach at dusk every day  ")
    assert result.status == DONE and result.text == "Hi Ana!" and done == [result]
    assert deltas == ["Hi ", "Ana", "!"]
    user_text = "Hello, I am Ana and I like long walks on the beach at dusk every day"
    assert stored(db, thread) == [("user", user_text), ("assistant", "Hi Ana!")]
    (req,) = fake_llm.chat_requests
    assert req.body["messages"] == [{"role": "system", "content": "You are Hermes."},
                                    {"role": "user", "content": user_text}]
    assert req.body["temperature"] == 0.7 and req.body["stream"] is True and req.authorization is None
    with db.session() as s:
        assert s.get(Conversation, thread.id).title == "Hello, I am Ana and I like long walks on the beach at dusk…"


def test_second_turn_sends_history_and_keeps_title(db, fake_llm, thread):
    ChatTurn(db, thread.id).send("first")
    ChatTurn(db, thread.id, api_key="sk-test-000000").send("second")
    req = fake_llm.chat_requests[-1]
    assert [m["content"] for m in req.messages] == ["You are Hermes.", "first", "Hello from the fake model.", "second"]
    assert req.authorization == "Bearer sk-test-000000"
    with db.session() as s:
        assert s.get(Conversation, thread.id).title == "first"


def test_user_message_is_committed_before_the_request(db, fake_llm, thread):
    seen = []
    fake_llm.reply(header_delay=0.3)
    t = threading.Thread(target=lambda: ChatTurn(db, thread.id).send("stored first"))
    t.start()
    fake_llm.wait_for_requests(1)
    seen = stored(db, thread)  # read while the server is still thinking
    t.join()
    assert seen == [("user", "stored first")]


def test_stop_keeps_the_partial_reply_in_the_database(db, fake_llm, thread):
    fake_llm.reply(tokens=[f"w{i} " for i in range(40)], token_delay=0.15)
    turn = ChatTurn(db, thread.id, flush_interval=0)

    def on_delta(delta):
        if delta == "w2 ":
            threading.Timer(0.01, turn.cancel).start()

    turn.on_delta = on_delta
    result = turn.send("tell me a long story")
    assert result.status == STOPPED and result.text.startswith("w0 w1 w2 ")
    assert len(result.text.split()) < 10
    assert stored(db, thread) == [("user", "tell me a long story"), ("assistant", result.text)]


def test_reply_is_written_while_it_streams(db, fake_llm, thread):
    fake_llm.reply(tokens=["a", "b", "c", "d"], token_delay=0.05)
    snapshots = []
    turn = ChatTurn(db, thread.id, flush_interval=0,
                    on_delta=lambda d: snapshots.append(stored(db, thread)[-1]))
    turn.send("go")
    assert snapshots == [("assistant", "a"), ("assistant", "ab"), ("assistant", "abc"), ("assistant", "abcd")]


def test_a_failure_is_kept_as_a_reply_with_its_reason_and_retry_asks_a_sibling(db, fake_llm, thread):
    fake_llm.enqueue(Reply(status=500, error_json={"error": {"message": "boom"}}))
    errors_seen = []
    result = ChatTurn(db, thread.id, on_error=errors_seen.append).send("please answer")
    assert result.status == FAILED and errors_seen == [result]
    assert result.error.kind == errors.SERVER and result.error.message == "The server failed (HTTP 500): boom."
    assert shown(db, thread) == [("user", "please answer"), ("assistant", "")]
    assert status_of(db, result.reply_message_id) == ("error", "The server failed (HTTP 500): boom.")
    retried = ChatTurn(db, thread.id).retry()
    assert retried.status == DONE and retried.user_message_id == result.user_message_id
    assert retried.superseded_ids == [result.reply_message_id]
    assert shown(db, thread) == [("user", "please answer"), ("assistant", "Hello from the fake model.")]
    assert stored(db, thread) == [("user", "please answer"), ("assistant", ""),
                                  ("assistant", "Hello from the fake model.")]  # the failure stays, as a sibling
    assert fake_llm.chat_requests[-1].messages == [{"role": "system", "content": "You are Hermes."},
                                                   {"role": "user", "content": "please answer"}]


def test_stream_breaking_off_keeps_partial_and_retry_makes_a_sibling_without_it(db, fake_llm, thread):
    fake_llm.enqueue(Reply(tokens=["half ", "an ", "answer"], end_after=2))
    result = ChatTurn(db, thread.id).send("q")
    assert result.status == FAILED and result.error.kind == errors.INCOMPLETE
    assert shown(db, thread) == [("user", "q"), ("assistant", "half an ")]
    assert status_of(db, result.reply_message_id)[0] == "error"
    fake_llm.reply(text="whole answer")
    again = ChatTurn(db, thread.id).retry(result.reply_message_id)
    assert again.superseded_ids == [result.reply_message_id]
    assert shown(db, thread) == [("user", "q"), ("assistant", "whole answer")]
    assert fake_llm.chat_requests[-1].messages[-1]["content"] == "q"
    assert "half an " not in str(fake_llm.chat_requests[-1].messages)
    ChatTurn(db, thread.id).send("next")  # a failed reply is never sent, on the path or off it
    assert [m["content"] for m in fake_llm.chat_requests[-1].messages] == [
        "You are Hermes.", "q", "whole answer", "next"]


def test_regenerate_keeps_the_old_reply_as_a_sibling(db, fake_llm, thread):
    fake_llm.reply(text="first answer")
    first = ChatTurn(db, thread.id).send("q1")
    fake_llm.reply(text="second answer")
    result = ChatTurn(db, thread.id).regenerate()
    assert result.status == DONE and result.superseded_ids == [first.reply_message_id]
    assert shown(db, thread) == [("user", "q1"), ("assistant", "second answer")]
    assert stored(db, thread) == [("user", "q1"), ("assistant", "first answer"), ("assistant", "second answer")]
    assert [m["content"] for m in fake_llm.chat_requests[-1].messages] == ["You are Hermes.", "q1"]


def test_a_failed_regenerate_is_shown_and_the_old_reply_stays_beside_it(db, fake_llm, thread):
    fake_llm.reply(text="keep me")
    kept = ChatTurn(db, thread.id).send("q1")
    fake_llm.reply(status=503)
    result = ChatTurn(db, thread.id).regenerate(kept.reply_message_id)
    assert result.status == FAILED and result.superseded_ids == [kept.reply_message_id]
    assert shown(db, thread) == [("user", "q1"), ("assistant", "")]
    assert stored(db, thread) == [("user", "q1"), ("assistant", "keep me"), ("assistant", "")]


def test_regenerate_needs_a_reply_and_send_needs_text(db, fake_llm, thread):
    with pytest.raises(ValueError, match="no reply to regenerate"):
        ChatTurn(db, thread.id).regenerate()
    ChatTurn(db, thread.id).send("q")
    fake_llm.requests.clear()
    with db.session() as s:
        question = next(m for m in thread_messages_in(s, thread.id) if m.role == "user")
    with pytest.raises(ValueError, match="no reply to regenerate"):
        ChatTurn(db, thread.id).regenerate(question.id)
    with pytest.raises(ValueError, match="Type a message"):
        ChatTurn(db, thread.id).send("   ")
    assert fake_llm.requests == []


def test_thread_without_connection_fails_clearly_but_keeps_the_message(db, fake_llm):
    with db.session() as s:
        bare = add_thread(s)
        conn = add_connection(s, base_url=fake_llm.base_url)
    result = ChatTurn(db, bare.id).send("hello?")
    assert result.error.kind == errors.INVALID and "choose one in Bind" in result.error.message
    assert shown(db, bare) == [("user", "hello?"), ("assistant", "")]
    assert status_of(db, result.reply_message_id) == ("error", result.error.message)
    fixed = ChatTurn(db, bare.id, connection_id=conn.id).retry()
    assert fixed.status == DONE and shown(db, bare) == [("user", "hello?"), ("assistant", "Hello from the fake model.")]


def test_offline_endpoint_fails_with_one_sentence(db):
    with db.session() as s:
        conn = add_connection(s, base_url="http://127.0.0.1:9/v1")
        t = add_thread(s, conn)
    result = ChatTurn(db, t.id).send("anyone?")
    assert result.error.kind == errors.OFFLINE and result.error.message.endswith("the connection was refused.")
    assert shown(db, t) == [("user", "anyone?"), ("assistant", "")]
    assert status_of(db, result.reply_message_id) == ("error", result.error.message)


def test_used_memory_nodes_are_reinforced(db, fake_llm, thread):
    with db.session() as s:
        used = add_node(s, "Lives in Lisbon Portugal", 0.8)
        unused = add_node(s, "Plays the cello", 0.8)
        weak = add_node(s, "Lisbon Portugal trams", 0.5)  # not injected, so not reinforced
    fake_llm.reply(text="Since you live in Lisbon, Portugal has great trams.")
    result = ChatTurn(db, thread.id).send("Where should I go?")
    assert result.reinforced_node_ids == [used.id]
    with db.session() as s:
        assert s.get(MemoryNode, used.id).strength == 0.85
        assert s.get(MemoryNode, used.id).last_referenced_at is not None
        assert s.get(MemoryNode, unused.id).strength == 0.8
        assert s.get(MemoryNode, weak.id).strength == 0.5
    assert "- Lives in Lisbon Portugal (fact)" in fake_llm.chat_requests[-1].messages[0]["content"]


def test_stop_before_the_first_token_stores_no_reply(db, fake_llm, thread):
    fake_llm.reply(header_delay=3)
    turn = ChatTurn(db, thread.id)
    threading.Timer(0.2, turn.cancel).start()
    result = turn.send("slow")
    assert result.status == STOPPED and result.reply_message_id is None
    assert stored(db, thread) == [("user", "slow")]


def test_history_from_db_is_sent_in_order(db, fake_llm, thread):
    with db.session() as s:
        add_message(s, s.get(Conversation, thread.id), "user", "old question")
        add_message(s, s.get(Conversation, thread.id), "assistant", "old answer")
    ChatTurn(db, thread.id).send("new question")
    assert [m["content"] for m in fake_llm.chat_requests[-1].messages][1:] == [
        "old question", "old answer", "new question"]
    with db.session() as s:
        assert len(s.exec(select(Message)).all()) == 4


def test_thread_deleted_while_waiting_for_the_reply(db, fake_llm, thread):
    fake_llm.reply(tokens=["late ", "reply"], header_delay=0.3)
    turn = ChatTurn(db, thread.id)
    worker = threading.Thread(target=lambda: setattr(turn, "result", turn.send("bye")))
    worker.start()
    fake_llm.wait_for_requests(1)
    delete_thread(db, thread.id)
    worker.join(5)
    assert turn.result.status == STOPPED and turn.result.reply_message_id is None
    with db.session() as s:
        assert s.exec(select(Message)).all() == []


def test_a_message_longer_than_the_server_accepts_is_refused_before_anything_is_stored(db, fake_llm, thread):
    # messages.content is at most 200,000 characters on the server; a longer one would be stored here and
    # rejected by sync forever. Refused up front, with the limit, so the user can shorten or split it.
    with pytest.raises(ValueError, match="200,000"):
        ChatTurn(db, thread.id).send("x" * 200_001)
    assert stored(db, thread) == [] and fake_llm.requests == []


def authors(db, thread):
    with db.session() as s:
        return [(m.role, m.content, m.agent_connection_id, m.model) for m in thread_messages_in(s, thread.id)]


def test_every_reply_records_the_connection_and_model_that_wrote_it(db, fake_llm, thread):
    """Streamed, stopped partway, broken off and regenerated with another connection: each reply is signed
    by what wrote it, and switching the thread (or the model) later renames nothing."""
    first = thread.agent_connection_id
    with db.session() as s:
        other = add_connection(s, base_url=fake_llm.base_url, model="other-model", name="Other")
    fake_llm.reply(text="done")
    ChatTurn(db, thread.id).send("q1")
    fake_llm.enqueue(Reply(tokens=["half ", "an ", "answer"], end_after=2))
    assert ChatTurn(db, thread.id).send("q2").status == FAILED  # the partial reply is kept, and signed
    fake_llm.reply(tokens=[f"w{i} " for i in range(40)], token_delay=0.1)
    turn = ChatTurn(db, thread.id, flush_interval=0, connection_id=other.id)
    turn.on_delta = lambda delta: delta == "w1 " and threading.Timer(0.01, turn.cancel).start()
    stopped = turn.regenerate()
    assert stopped.status == STOPPED
    with db.write() as s:  # the first connection now runs another model
        s.get(AgentConnection, first).model = "renamed-model"
    rows = authors(db, thread)
    assert rows[:3] == [("user", "q1", None, None), ("assistant", "done", first, "fake-model"),
                        ("user", "q2", None, None)]
    assert rows[3] == ("assistant", "half an ", first, "fake-model")  # the broken-off reply stays, signed
    assert rows[4][0] == "assistant" and rows[4][1] == stopped.text and rows[4][2:] == (other.id, "other-model")
    assert status_of(db, stopped.reply_message_id) == ("stopped", None)
    assert shown(db, thread)[-1] == ("assistant", stopped.text)


def test_a_forged_seq_far_in_the_future_does_not_stop_the_thread(db, fake_llm, thread):
    """A pulled message with seq 2^63 - 1 made "largest + 1" overflow SQLite's integer: no device could add
    a message to the thread. It is passed over; the thread goes on in its own order."""
    with db.write() as s:
        s.add(Message(conversation_id=thread.id, role="user", content="forged", seq=2**63 - 1))
    fake_llm.reply(text="still here")
    assert ChatTurn(db, thread.id).send("q").status == DONE
    assert ChatTurn(db, thread.id).send("q again").status == DONE
    assert [c for _, c in stored(db, thread)] == ["q", "still here", "q again", "still here", "forged"]
