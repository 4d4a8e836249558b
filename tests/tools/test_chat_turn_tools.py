"""ChatTurn with tools: the Console's turn runs the one ToolLoop, stores every call and result as nodes of
the conversation tree (each under the node before it), and what it stored is what the next request sends.
Real parts: the fake OpenAI endpoint (it refuses a conversation OpenAI would refuse), the suite's own MCP
server started by the turn on the first call, a real SQLite file."""

from __future__ import annotations

import json

import pytest

from agent.chat import tree
from agent.chat.threads import new_thread
from agent.chat.tool_turn import turn_tools
from agent.chat.turn import DONE, FAILED, STOPPED, ChatTurn
from agent.tools.config import add_stdio_server, get_server, record_tools
from agent.tools.host import READY
from agent.tools.host import STOPPED as SERVER_STOPPED
from agent.tools.loop import ALLOW_ONCE, ALWAYS, DENY
from local_schema.models import AgentConnection, Conversation
from standin.model import Reply
from tests.tools.conftest import fixture_spec


def call(i, name, arguments):
    return {"id": f"call_{i}", "name": name, "arguments": json.dumps(arguments)}


@pytest.fixture
def chat(db, host, shared_host, fake_llm):
    """(make_turn, thread id): "fx" configured (its tools listed once), not running in `host` yet."""
    spec = fixture_spec()
    add_stdio_server(db, "fx", spec.command, spec.args, spec.env)
    record_tools(db, "fx", shared_host.tools("fx"))
    with db.write() as s:
        connection = AgentConnection(name="Fake", provider="custom", base_url=fake_llm.base_url, model="fake-model")
        s.add(connection)
    thread = new_thread(db, connection.id).id
    asked: list = []

    def make(approve=lambda pending: ALLOW_ONCE, **kwargs):
        def noted(pending):
            asked.append(pending)
            return approve(pending)

        tools = turn_tools(db, host, noted, **kwargs)
        return ChatTurn(db, thread, tools=tools)

    make.asked = asked
    return make, thread


def path(db, thread):
    with db.session() as s:
        return [(m.role, m.content, m.tool_call_id, m.status) for m in tree.active_path_in(s, thread)]


def messages(db, thread):
    with db.session() as s:
        return {r.message.id: r.message for r in tree.tree_rows_in(s, thread)}


def test_a_turn_with_a_call_stores_a_chain_of_nodes_and_sends_the_result_back(db, host, fake_llm, chat):
    make, thread = chat
    fake_llm.enqueue(Reply(text="Let me add.", tool_calls=[call(1, "fx__add", {"a": 2, "b": 40})], tool_split=2),
                     Reply(text="It is 42."))
    assert host.status("fx").state == SERVER_STOPPED
    result = make().send("What is 2 + 40?")
    assert (result.status, result.text, result.rounds) == (DONE, "It is 42.", 1)
    assert host.status("fx").state == READY  # started by the turn when the model called it
    first, second = fake_llm.chat_requests
    assert first.messages == [{"role": "user", "content": "What is 2 + 40?"}]
    assert "fx__add" in first.tool_names and "tool_choice" not in first.body
    assert second.messages[1:] == [
        {"role": "assistant", "content": "Let me add.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "fx__add", "arguments": '{"a": 2, "b": 40}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "42"}]
    assert path(db, thread) == [("user", "What is 2 + 40?", None, "done"), ("assistant", "Let me add.", None, "done"),
                                ("tool", "42", "call_1", "done"), ("assistant", "It is 42.", None, "done")]
    found = messages(db, thread)
    question, asking, answer, reply = (found[i] for i in [result.user_message_id, *result.message_ids])
    assert (asking.parent_id, answer.parent_id, reply.parent_id) == (question.id, asking.id, answer.id)
    assert asking.tool_calls[0]["function"]["name"] == "fx__add" and result.reply_message_id == reply.id
    assert {m.model for m in (asking, answer, reply)} == {"fake-model"}
    with db.session() as s:
        assert s.get(Conversation, thread).active_leaf_id == reply.id
    # the next turn sends the stored calls as the endpoint accepts them
    fake_llm.enqueue(Reply(text="Yes."))
    ChatTurn(db, thread).send("Sure?")
    assert [m["role"] for m in fake_llm.chat_requests[-1].messages] == ["user", "assistant", "tool", "assistant", "user"]


def test_results_of_one_round_are_a_chain_not_siblings(db, fake_llm, chat):
    make, thread = chat
    fake_llm.enqueue(Reply(text="", tool_calls=[call("a", "fx__add", {"a": 1, "b": 2}),
                                                call("b", "fx__echo", {"text": "hé"})]), Reply(text="Done."))
    result = make().send("Two things")
    found = messages(db, thread)
    asking, first, second, reply = (found[i] for i in result.message_ids)
    assert (first.parent_id, second.parent_id, reply.parent_id) == (asking.id, first.id, second.id)
    assert [(m.tool_call_id, m.content) for m in (first, second)] == [("call_a", "3"), ("call_b", "hé")]
    assert fake_llm.chat_requests[-1].messages[-3]["content"] is None


def test_always_is_kept_in_the_device_tool_config_and_a_later_turn_does_not_ask(db, fake_llm, chat):
    make, thread = chat
    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__add", {"a": 1, "b": 1})]), Reply(text="2"))
    assert make(approve=lambda pending: ALWAYS).send("1 + 1?").calls[0].decision == ALWAYS
    assert next(t for t in get_server(db, "fx").tools if t.name == "add").always_allow
    fake_llm.enqueue(Reply(text="", tool_calls=[call(2, "fx__add", {"a": 2, "b": 2})]), Reply(text="4"))
    result = make(approve=lambda pending: DENY).send("2 + 2?")
    assert result.calls[0].decision == "auto" and result.calls[0].text == "4" and len(make.asked) == 1


def test_denied_unknown_failed_and_timed_out_calls_are_error_results_and_the_turn_goes_on(db, fake_llm, chat):
    make, thread = chat
    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__echo", {"text": "x"}), call(2, "web__search", {}),
                                                call(3, "fx__fail", {"message": "boom"}),
                                                call(4, "fx__slow", {"seconds": 30})]),
                     Reply(text="I tried."))
    result = make(approve=lambda p: DENY if p.tool == "echo" else ALLOW_ONCE, call_timeout=0.5).send("Try")
    assert result.status == DONE and result.text == "I tried."
    texts = [r.text for r in result.calls]
    assert texts[0].startswith("Error: the user denied this call")
    assert texts[1].startswith("Error: There is no tool named web__search")
    assert texts[2].startswith("Error: Error executing tool fail")
    assert texts[3] == "Error: slow did not answer within 0.5 seconds; the call was cancelled."
    assert [m["content"] for m in fake_llm.chat_requests[-1].tool_messages] == texts
    assert [r[0] for r in path(db, thread)] == ["user", "assistant", "tool", "tool", "tool", "tool", "assistant"]


def test_the_rounds_are_bounded_by_the_setting(db, fake_llm, chat):
    make, thread = chat
    fake_llm.reply(text="", tool_calls=[call(9, "fx__add", {"a": 1, "b": 1})])  # a model that never stops calling
    result = make(max_rounds=1).send("Loop")
    assert result.limit_reached and result.rounds == 2 and result.status == DONE
    assert len(fake_llm.chat_requests) == 2 and fake_llm.chat_requests[1].body["tool_choice"] == "none"
    assert result.reply_message_id is None and [r[0] for r in path(db, thread)][-2:] == ["assistant", "tool"]


def test_a_model_failure_keeps_what_was_stored_and_retry_goes_on_from_the_last_result(db, fake_llm, chat):
    make, thread = chat
    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__add", {"a": 20, "b": 22})]),
                     Reply(tokens=["It ", "is", " 42"], error_after=2))
    result = make().send("20 + 22?")
    assert result.status == FAILED and result.error is not None
    rows = path(db, thread)
    assert [(r[0], r[3]) for r in rows] == [("user", "done"), ("assistant", "done"), ("tool", "done"),
                                            ("assistant", "error")]
    assert rows[-1][1] == "It is"  # what arrived of the failed reply, kept with its reason
    fake_llm.enqueue(Reply(text="42."))
    again = make().retry(result.reply_message_id)
    assert again.status == DONE and again.text == "42." and again.superseded_ids == [result.reply_message_id]
    sent = fake_llm.chat_requests[-1].messages
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"] and sent[-1]["tool_call_id"] == "call_1"
    found = messages(db, thread)
    assert found[again.reply_message_id].parent_id == found[result.reply_message_id].parent_id  # a sibling


def test_stop_while_the_user_decides_answers_every_call_and_ends_the_turn(db, fake_llm, chat):
    make, thread = chat
    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__add", {"a": 1, "b": 2}), call(2, "fx__echo", {"text": "x"})]))
    holder = {}

    def approve(pending):  # the user presses Stop instead of answering: the GUI's approval then denies
        holder["turn"].cancel()
        return DENY

    turn = holder["turn"] = make(approve=approve)
    result = turn.send("Go")
    assert result.status == STOPPED and len(fake_llm.chat_requests) == 1
    assert [r.text for r in result.calls][1] == "Error: not run, the user stopped the turn."
    assert [r[0] for r in path(db, thread)] == ["user", "assistant", "tool", "tool"]


def test_the_thread_settings_go_with_every_request_of_the_turn(db, fake_llm, chat):
    make, thread = chat
    tree.set_settings(db, thread, temperature=0.2, max_tokens=300)
    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__add", {"a": 1, "b": 1})]), Reply(text="2"))
    make().send("1 + 1")
    assert [(r.body["temperature"], r.body["max_tokens"]) for r in fake_llm.chat_requests] == [(0.2, 300), (0.2, 300)]


def test_without_enabled_tools_the_turn_is_an_ordinary_one(db, fake_llm, chat):
    make, thread = chat
    from agent.tools.config import set_enabled

    set_enabled(db, "fx", False)
    fake_llm.enqueue(Reply(text="Plain."))
    result = make().send("Hi")
    assert result.text == "Plain." and "tools" not in fake_llm.chat_requests[0].body


def test_a_call_to_a_server_that_cannot_start_is_an_error_result(db, fake_llm, chat):
    make, thread = chat
    add_stdio_server(db, "broken", "/nonexistent/mcp-server")
    from agent.tools.results import ToolInfo

    record_tools(db, "broken", [ToolInfo("x", "A tool", {"type": "object", "properties": {}})])
    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "broken__x", {})]), Reply(text="It failed."))
    result = make().send("Use broken")
    assert result.calls[0].text == "Error: Command not found: /nonexistent/mcp-server" and result.text == "It failed."


def test_the_thread_deleted_during_a_call_stops_the_turn(db, fake_llm, chat):
    make, thread = chat
    from agent.chat.threads import delete_thread

    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__add", {"a": 1, "b": 1})]))

    def approve(pending):
        delete_thread(db, thread)
        return ALLOW_ONCE

    result = make(approve=approve).send("Go")
    assert result.status == STOPPED and len(fake_llm.chat_requests) == 1
