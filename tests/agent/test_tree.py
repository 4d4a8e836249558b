"""agent.chat.tree and the tree operations of agent.chat.turn on a real SQLite file, with the fake model checking
exactly what each request carries (send, edit & resend, regenerate, switch, compare, settings)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from agent.chat import tree
from agent.chat.turn import DONE, ChatTurn, compare
from agent.prompt import assemble_prompt_in
from local_schema.models import Conversation, Message
from standin.model import Reply
from tests.agent.conftest import add_connection, add_thread
from tests.outbox_ops import pending_ops


@pytest.fixture
def thread(db, fake_llm):
    with db.session() as s:
        conn = add_connection(s, base_url=fake_llm.base_url, system_prompt="Be kind.")
        return add_thread(s, conn)


def write(db, thread_id, role, content, parent_id, **values) -> str:
    with db.write() as s:
        m = Message(conversation_id=thread_id, role=role, content=content, parent_id=parent_id, **values)
        s.add(m)
    return m.id


def shown(db, thread_id) -> list[str]:
    with db.session() as s:
        return [m.content for m in tree.active_path_in(s, thread_id)]


def sent(fake_llm) -> list[str]:
    return [m["content"] for m in fake_llm.chat_requests[-1].messages]


def set_leaf(db, thread_id, leaf):
    with db.write() as s:
        c = s.get(Conversation, thread_id)
        c.active_leaf_id = leaf
        s.add(c)


# --- reading: the leaf is read tolerantly -------------------------------------------------------------------
def test_the_active_leaf_falls_back_to_the_newest_leaf_and_follows_replies_down(db, thread):
    q = write(db, thread.id, "user", "q", None)
    a1 = write(db, thread.id, "assistant", "a1", q)
    a2 = write(db, thread.id, "assistant", "a2", q)
    assert shown(db, thread.id) == ["q", "a2"]  # no stored leaf: the newest leaf
    set_leaf(db, thread.id, a1)
    assert shown(db, thread.id) == ["q", "a1"]
    q2 = write(db, thread.id, "user", "q2 (from another device)", a1)
    assert shown(db, thread.id) == ["q", "a1", "q2 (from another device)"]  # below the stored leaf: followed
    set_leaf(db, thread.id, "0d000000-0000-4000-8000-000000000000")  # missing (not pulled, or deleted)
    assert shown(db, thread.id) == ["q", "a1", "q2 (from another device)"]  # the newest leaf
    with db.write() as s:
        other = add_thread(s)
        stray = Message(conversation_id=other.id, role="user", content="other thread", parent_id=None)
        s.add(stray)
    set_leaf(db, thread.id, stray.id)  # another thread's message: ignored
    with db.session() as s:
        assert tree.active_leaf_in(s, s.get(Conversation, thread.id)) == q2
    assert a2  # still a sibling, off the path


def test_a_message_whose_parent_is_not_here_starts_its_path(db, thread):
    orphan = write(db, thread.id, "user", "parent not pulled yet", "0e000000-0000-4000-8000-000000000000")
    reply = write(db, thread.id, "assistant", "reply", orphan)
    set_leaf(db, thread.id, reply)
    assert shown(db, thread.id) == ["parent not pulled yet", "reply"]


def test_a_forged_cycle_ends(db, thread):
    a = write(db, thread.id, "user", "a", None)
    b = write(db, thread.id, "user", "b", a)
    with db.engine.begin() as conn:  # no client writes this; a forged row must not hang a reader
        conn.exec_driver_sql("UPDATE messages SET parent_id = ? WHERE id = ?", (b, a))
    with db.session() as s:
        assert len(tree.path_to_in(s, thread.id, b, limit=50)) == 50
        assert tree.newest_leaf_in(s, thread.id) is None  # nothing in a cycle is a leaf


def test_tree_rows_place_every_message_among_its_siblings(db, thread):
    q = write(db, thread.id, "user", "q", None)
    q_edit = write(db, thread.id, "user", "q edited", None)
    a = write(db, thread.id, "assistant", "a", q_edit)
    set_leaf(db, thread.id, a)
    with db.session() as s:
        rows = [(r.message.content, r.siblings, r.sibling_index, r.on_path) for r in tree.tree_rows_in(s, thread.id)]
        assert [m.id for m in tree.siblings_in(s, s.get(Message, q))] == [q, q_edit]
    assert rows == [("q", 2, 1, False), ("q edited", 2, 2, True), ("a", 1, 1, True)]


# --- turns: what each request carries ----------------------------------------------------------------------
def test_a_turn_sends_only_its_path_and_skips_failed_replies(db, fake_llm, thread):
    q1 = write(db, thread.id, "user", "q1", None)
    a1 = write(db, thread.id, "assistant", "a1", q1)
    write(db, thread.id, "assistant", "a1 other branch", q1)
    failed = write(db, thread.id, "assistant", "half", a1, status="error", error="timeout")
    set_leaf(db, thread.id, failed)
    fake_llm.reply(text="ok")
    result = ChatTurn(db, thread.id).send("q2")
    assert sent(fake_llm) == ["Be kind.", "q1", "a1", "q2"]
    with db.session() as s:
        assert s.get(Message, result.user_message_id).parent_id == failed
        assert s.get(Conversation, thread.id).active_leaf_id == result.reply_message_id


def test_the_prompt_is_the_last_40_of_the_path(db, thread):
    parent = None
    for i in range(120):
        parent = write(db, thread.id, "user" if i % 2 == 0 else "assistant", f"m{i}", parent)
        if i % 10 == 3:  # a failed reply on the path every ten messages: skipped, and 40 are still sent
            write(db, thread.id, "assistant", f"side{i}", parent)
            parent = write(db, thread.id, "assistant", f"fail{i}", parent, status="error", error="x")
    with db.session() as s:
        connection = s.get(Conversation, thread.id)
        prompt = assemble_prompt_in(s, None, thread.id, "next")
    assert [m["content"] for m in prompt.messages] == [f"m{i}" for i in range(80, 120)] + ["next"]
    assert connection is not None


def test_edit_and_resend_asks_the_new_text_after_the_old_questions_history(db, fake_llm, thread):
    fake_llm.reply(text="a1")
    first = ChatTurn(db, thread.id).send("q1")
    fake_llm.reply(text="a2")
    second = ChatTurn(db, thread.id).send("q2 tpyo")
    fake_llm.reply(text="a2 again")
    edited = ChatTurn(db, thread.id).edit_and_resend(second.user_message_id, "q2 typo")
    assert edited.status == DONE and sent(fake_llm) == ["Be kind.", "q1", "a1", "q2 typo"]
    assert edited.superseded_ids == [second.user_message_id, second.reply_message_id]
    assert shown(db, thread.id) == ["q1", "a1", "q2 typo", "a2 again"]
    with db.session() as s:
        old, new = s.get(Message, second.user_message_id), s.get(Message, edited.user_message_id)
        assert old.parent_id == new.parent_id == first.reply_message_id and old.content == "q2 tpyo"
    with pytest.raises(ValueError, match="Only your own messages"):
        ChatTurn(db, thread.id).edit_and_resend(first.reply_message_id, "not mine")


def test_regenerating_an_earlier_reply_leaves_the_later_turns_on_their_branch(db, fake_llm, thread):
    fake_llm.reply(text="a1")
    first = ChatTurn(db, thread.id).send("q1")
    fake_llm.reply(text="a2")
    ChatTurn(db, thread.id).send("q2")
    fake_llm.reply(text="a1 again")
    again = ChatTurn(db, thread.id).regenerate(first.reply_message_id)
    assert sent(fake_llm) == ["Be kind.", "q1"]
    assert shown(db, thread.id) == ["q1", "a1 again"] and len(again.superseded_ids) == 3
    leaf = tree.switch(db, thread.id, first.reply_message_id)  # back to the first branch: its newest leaf
    assert shown(db, thread.id) == ["q1", "a1", "q2", "a2"]
    with db.session() as s:
        assert s.get(Message, leaf).content == "a2"


def test_compare_stores_one_question_and_a_signed_reply_per_connection(db, fake_llm, thread):
    with db.session() as s:
        other = add_connection(s, base_url=fake_llm.base_url, model="other-model", name="Other")
    fake_llm.enqueue(Reply(text="from first"), Reply(text="from other"))
    started = []
    results = compare(db, thread.id, "Which?", [thread.agent_connection_id, other.id], {}, on_start=started.append)
    assert started == [thread.agent_connection_id, other.id]
    assert [r.status for r in results] == [DONE, DONE]
    assert len({r.user_message_id for r in results}) == 1
    assert [r.body["model"] for r in fake_llm.chat_requests] == ["fake-model", "other-model"]
    asked = [[m for m in r.messages if m["role"] != "system"] for r in fake_llm.chat_requests]
    assert asked == [[{"role": "user", "content": "Which?"}]] * 2  # each with its own system prompt
    with db.session() as s:
        replies = tree.children_in(s, thread.id, results[0].user_message_id)
        assert [(m.content, m.agent_connection_id, m.model) for m in replies] == [
            ("from first", thread.agent_connection_id, "fake-model"), ("from other", other.id, "other-model")]
        assert s.get(Conversation, thread.id).agent_connection_id == thread.agent_connection_id
    assert shown(db, thread.id) == ["Which?", "from first"]
    with pytest.raises(ValueError, match="at least two"):
        compare(db, thread.id, "again", [other.id, other.id], {})


def test_thread_settings_shape_the_request_and_bad_values_change_nothing(db, fake_llm, thread):
    tree.set_settings(db, thread.id, temperature=0.1, max_tokens=32, stop=["###"], system_addition="  Be brief.  ")
    fake_llm.reply(text="ok")
    ChatTurn(db, thread.id).send("hi")
    body = fake_llm.chat_requests[-1].body
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.1, 32, ["###"])
    assert body["messages"][0] == {"role": "system", "content": "Be kind.\n\nBe brief."}
    for bad in ({"temperature": float("nan")}, {"temperature": 2.01}, {"max_tokens": 10**7},
                {"stop": ["a\x00"]}, {"stop": [""]}, {"system_addition": "x" * 20_001},
                {"connection_id": "0f000000-0000-4000-8000-000000000000"}):
        with pytest.raises(ValueError):
            tree.set_settings(db, thread.id, **{"temperature": 0.5, **bad})
    with db.session() as s:
        c = s.get(Conversation, thread.id)
        assert (c.temperature, c.max_tokens, c.stop_sequences, c.system_addition) == (0.1, 32, ["###"], "Be brief.")


def test_settings_from_elsewhere_are_read_tolerantly(db, thread):
    with db.engine.begin() as conn:  # what a buggy or hostile writer could leave in a synced row
        conn.exec_driver_sql("UPDATE conversations SET temperature = 9, max_tokens = -1, stop_sequences = ?, "
                             "system_addition = ? WHERE id = ?",
                             ('[1, "ok", "", "a", "b", "c"]', " \x00 ", thread.id))
    with db.session() as s:
        settings = tree.thread_settings(s.get(Conversation, thread.id))
    assert settings == tree.ThreadSettings(thread.agent_connection_id, None, None, ("ok", "a", "b", "c"), None)


# --- what needs no model -------------------------------------------------------------------------------------
def test_fork_copies_the_path_with_new_ids_and_keeps_the_original(db, fake_llm, thread):
    fake_llm.reply(text="a1")
    first = ChatTurn(db, thread.id).send("q1")
    fake_llm.reply(text="a2")
    ChatTurn(db, thread.id).send("q2")
    tree.set_settings(db, thread.id, temperature=1.5)
    copy = tree.fork(db, thread.id, first.reply_message_id)
    assert shown(db, copy.id) == ["q1", "a1"] and shown(db, thread.id) == ["q1", "a1", "q2", "a2"]
    with db.session() as s:
        copied = tree.active_path_in(s, copy.id)
        originals = tree.active_path_in(s, thread.id)[:2]
        assert {m.id for m in copied}.isdisjoint(m.id for m in originals)
        assert [(m.created_at, m.seq, m.model) for m in copied] == [(m.created_at, m.seq, m.model) for m in originals]
        fork_row = s.get(Conversation, copy.id)
        assert (fork_row.title, fork_row.temperature, fork_row.active_leaf_id) == ("q1 (fork)", 1.5, copied[-1].id)


def test_deleting_a_branch_pushes_one_tombstone_and_the_thread_shows_a_sibling(db, thread):
    q = write(db, thread.id, "user", "q", None)
    kept = write(db, thread.id, "assistant", "kept", q)
    doomed = write(db, thread.id, "assistant", "doomed", q)
    below = write(db, thread.id, "user", "below", doomed)
    write(db, thread.id, "assistant", "deeper", below)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM sync_outbox WHERE row_id <> ?", (below,))  # pushed, but `below`
    set_leaf(db, thread.id, doomed)
    with db.session() as s:
        assert tree.branch_size_in(s, thread.id, doomed) == 3
    assert tree.delete_branch(db, thread.id, doomed) == 3
    assert shown(db, thread.id) == ["q", "kept"]
    with db.session() as s:
        ops = [(op.kind, op.row_id) for op in pending_ops(s)]
        assert ("delete", doomed) in ops and all(row_id not in (below,) for _, row_id in ops)
        assert [k for k, r in ops if r != thread.id] == ["delete"]  # one tombstone; the server takes the rest
        assert s.get(Conversation, thread.id).active_leaf_id == kept
        assert len(s.exec(select(Message)).all()) == 2


def test_edit_in_place_changes_only_the_text(db, thread):
    q = write(db, thread.id, "user", "teh question", None)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM sync_outbox")
    tree.edit_message(db, thread.id, q, "  the question ")
    with db.session() as s:
        assert s.get(Message, q).content == "the question"
        assert [(op.kind, op.changed_columns) for op in pending_ops(s)] == [("update", ["content"])]
    with pytest.raises(ValueError, match="Type a message"):
        tree.edit_message(db, thread.id, q, " \x00 ")


def test_sibling_groups_list_each_parents_replies_oldest_first(db, thread):
    q1 = write(db, thread.id, "user", "q1", None)
    q1b = write(db, thread.id, "user", "q1 edited", None)
    a1 = write(db, thread.id, "assistant", "a1", q1)
    a1b = write(db, thread.id, "assistant", "a1 again", q1)
    gone = write(db, thread.id, "assistant", "a1 deleted", q1)
    tree.delete_branch(db, thread.id, gone)
    with db.session() as s:
        groups = tree.sibling_groups_in(s, thread.id, [None, q1, a1, q1])
    assert groups == {None: (q1, q1b), q1: (a1, a1b), a1: ()}


def test_an_unexpected_failure_mid_stream_is_kept_with_its_reason_and_retry_asks_again(db, fake_llm, thread):
    fake_llm.reply(tokens=["half ", "of ", "it"])

    def broken(delta: str) -> None:
        if delta == "of ":
            raise RuntimeError("the window went away")

    result = ChatTurn(db, thread.id, flush_interval=0, on_delta=broken).send("q")
    assert result.status == "failed" and "RuntimeError: the window went away" in result.error.message
    with db.session() as s:
        reply = s.get(Message, result.reply_message_id)
        assert (reply.status, reply.content, reply.parent_id) == ("error", "half of ", result.user_message_id)
        assert "the window went away" in reply.error
    fake_llm.reply(text="whole")
    again = ChatTurn(db, thread.id).retry(result.reply_message_id)
    assert again.status == DONE and shown(db, thread.id) == ["q", "whole"]
    with db.session() as s:  # the failure stays, as a sibling of the new reply
        assert [m.content for m in tree.children_in(s, thread.id, result.user_message_id)] == ["half of ", "whole"]


def test_a_prompt_that_cannot_be_built_is_kept_as_a_failed_reply(db, fake_llm, thread, monkeypatch):
    import agent.chat.turn as turn_module

    def broken(*_args, **_kwargs):
        raise KeyError("memory block")

    monkeypatch.setattr(turn_module, "assemble_prompt_in", broken)
    result = ChatTurn(db, thread.id).send("q")
    assert result.status == "failed" and fake_llm.chat_requests == []
    with db.session() as s:
        reply = s.get(Message, result.reply_message_id)
        assert reply.status == "error" and "KeyError" in reply.error and reply.parent_id == result.user_message_id


def test_compare_in_steps_runs_side_by_side_and_the_first_success_is_the_leaf(db, fake_llm, thread):
    import threading

    from agent.chat.turn import FAILED, compare_turn, settle_compare, start_compare

    with db.session() as s:
        other = add_connection(s, base_url=fake_llm.base_url, model="other-model", name="Other")
    with pytest.raises(ValueError, match="at least two"):
        start_compare(db, thread.id, "x", [other.id])
    fake_llm.enqueue(Reply(status=500, error_json={"error": {"message": "down"}}))
    fake_llm.reply(text="from other")
    question, wanted = start_compare(db, thread.id, "Which?", [thread.agent_connection_id, other.id])
    results = [None, None]
    first = compare_turn(db, thread.id, wanted[0], "", True)
    results[0] = first.reply_to(question)  # the first fails (a queued 500) ...
    worker = threading.Thread(target=lambda: results.__setitem__(1, compare_turn(
        db, thread.id, wanted[1], "", False).reply_to(question)))
    worker.start()
    worker.join(10)
    assert [r.status for r in results] == [FAILED, DONE]
    assert shown(db, thread.id) == ["Which?", ""]  # the failed first reply was the leaf meanwhile
    assert settle_compare(db, thread.id, results) == results[1].reply_message_id  # ... the success is chosen
    assert shown(db, thread.id) == ["Which?", "from other"]
    with db.session() as s:
        assert [m.status for m in tree.children_in(s, thread.id, question)] == ["error", "done"]
