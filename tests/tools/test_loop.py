"""The tool loop of a turn, end to end: the fake OpenAI endpoint streams tool calls split over many
chunks and checks every request as OpenAI would; the calls run on the real fixture MCP server; the turn
is stored in a real thread (agent.tools.store) and read back as the next request would send it."""

from __future__ import annotations

import json
import threading

import pytest
from sqlmodel import select

from agent.chat.threads import new_thread
from agent.llm.client import LLMClient
from agent.prompt import assemble_prompt_in
from agent.tools.config import add_stdio_server, get_server, record_tools, set_enabled
from agent.tools.loop import ALLOW_ONCE, ALWAYS, DENY, DONE, STOPPED, ToolLoop, host_runner
from agent.tools.store import ThreadStorage
from agent.tools.toolset import build_toolset
from local_schema.models import AgentConnection, Message
from standin.model import Reply
from tests.tools.conftest import fixture_spec


def call(i, name, arguments):
    return {"id": f"call_{i}", "name": name, "arguments": json.dumps(arguments)}


@pytest.fixture
def turn(db, shared_host, fake_llm):
    """(make_loop, thread id, the prompt) with the fixture server's tools configured as "fx"."""
    spec = fixture_spec()
    add_stdio_server(db, "fx", spec.command, spec.args, spec.env)
    record_tools(db, "fx", shared_host.tools("fx"))
    with db.write() as s:
        connection = AgentConnection(name="Fake", provider="custom", base_url=fake_llm.base_url, model="fake-model")
        s.add(connection)
    thread = new_thread(db, connection.id).id
    asked: list = []

    def make(approve=lambda call: ALLOW_ONCE, **kwargs):
        def approve_and_note(pending):
            asked.append(pending)
            return approve(pending)

        toolset = build_toolset([get_server(db, "fx")])
        storage = ThreadStorage(db, thread, connection_id=connection.id, model="fake-model")
        return ToolLoop(LLMClient(fake_llm.base_url, "fake-model"), toolset, run_tool=host_runner(shared_host),
                        approve=approve_and_note, storage=storage, **kwargs)

    make.asked = asked
    prompt = [{"role": "system", "content": "You may use tools."}, {"role": "user", "content": "What is 2 + 40?"}]
    return make, thread, prompt


def stored(db, thread):
    with db.session() as s:
        return s.exec(select(Message).where(Message.conversation_id == thread).order_by(Message.seq)).all()


def test_a_call_split_over_many_chunks_runs_and_the_model_gets_its_result(db, fake_llm, turn):
    make, thread, prompt = turn
    fake_llm.enqueue(Reply(text="Let me add.", tool_calls=[call(1, "fx__add", {"a": 2, "b": 40})], tool_split=2),
                     Reply(text="It is 42."))
    loop = make()
    result = loop.run(prompt)
    assert (result.status, result.text, result.rounds) == (DONE, "It is 42.", 1)
    first, second = fake_llm.chat_requests
    assert "fx__add" in first.tool_names and "fx__read_file_v2" in first.tool_names  # sanitised, unique
    add = next(t for t in first.tools if t["function"]["name"] == "fx__add")["function"]
    assert add["description"] == "[fx] Add two integers." and add["parameters"]["required"] == ["a", "b"]
    assert second.messages[-2] == {"role": "assistant", "content": "Let me add.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "fx__add", "arguments": '{"a": 2, "b": 40}'}}]}
    assert second.messages[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "42"}
    assert [(p.server, p.tool, p.arguments) for p in make.asked] == [("fx", "add", {"a": 2, "b": 40})]
    rows = stored(db, thread)
    assert [(m.role, m.content, m.tool_call_id) for m in rows] == [
        ("assistant", "Let me add.", None), ("tool", "42", "call_1"), ("assistant", "It is 42.", None)]
    assert rows[0].tool_calls[0]["function"]["name"] == "fx__add"
    assert {m.model for m in rows} == {"fake-model"}
    # the next turn sends the stored history as the endpoint accepts it (the fake refuses anything else)
    with db.session() as s:
        connection = s.exec(select(AgentConnection)).one()
        again = assemble_prompt_in(s, connection, thread, "And 3 + 4?")
    assert [m["role"] for m in again.messages] == ["assistant", "tool", "assistant", "user"]
    assert again.messages[1] == {"role": "tool", "tool_call_id": "call_1", "content": "42"}


def test_several_calls_in_one_round_are_answered_in_order(db, fake_llm, turn):
    make, thread, prompt = turn
    fake_llm.enqueue(Reply(text="", tool_calls=[call("a", "fx__add", {"a": 1, "b": 2}),
                                                call("b", "fx__echo", {"text": "héllo ✶"})]),
                     Reply(text="Done."))
    result = make().run(prompt)
    assert result.status == DONE and [r.text for r in result.calls] == ["3", "héllo ✶"]
    last = fake_llm.chat_requests[-1]
    assert [(m["tool_call_id"], m["content"]) for m in last.tool_messages] == [("call_a", "3"), ("call_b", "héllo ✶")]
    assert last.messages[-3]["content"] is None  # a reply that only calls tools has no text
    assert [m.role for m in stored(db, thread)] == ["assistant", "tool", "tool", "assistant"]


def test_denied_unknown_and_malformed_calls_give_the_model_an_error_and_the_turn_goes_on(db, fake_llm, turn):
    make, thread, prompt = turn
    fake_llm.enqueue(Reply(text="", tool_calls=[
        call(1, "fx__add", {"a": 1, "b": 1}),
        call(2, "web__search", {"q": "tea"}),
        {"id": "call_3", "name": "fx__echo", "arguments": '{"text": "unterminated'},
        {"id": "call_4", "name": "fx.echo!", "arguments": "{}"},
    ]), Reply(text="I could not."))
    result = make(approve=lambda pending: DENY).run(prompt)
    assert result.status == DONE and result.text == "I could not."
    texts = [r.text for r in result.calls]
    assert texts[0].startswith("Error: the user denied this call")
    assert texts[1].startswith("Error: There is no tool named web__search; the tools offered are: fx__add")
    assert texts[2].startswith("Error: The arguments are not valid JSON")
    assert texts[3].startswith("Error: There is no tool named fx_echo_")  # sanitised before it is stored
    assert len(make.asked) == 1  # only the valid call was put to the user
    assert stored(db, thread)[0].tool_calls[3]["function"]["name"] == "fx_echo_"


def test_always_is_remembered_and_not_asked_again(db, fake_llm, turn):
    make, thread, prompt = turn
    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__add", {"a": 1, "b": 1})]),
                     Reply(text="", tool_calls=[call(2, "fx__add", {"a": 2, "b": 2})]),
                     Reply(text="4"))
    from agent.tools.config import set_always_allow

    loop = make(approve=lambda pending: ALWAYS, remember_always=lambda s, t: set_always_allow(db, s, t, True))
    result = loop.run(prompt)
    assert [r.decision for r in result.calls] == [ALWAYS, "auto"] and len(make.asked) == 1
    assert next(t for t in get_server(db, "fx").tools if t.name == "add").always_allow
    fake_llm.enqueue(Reply(text="", tool_calls=[call(3, "fx__add", {"a": 3, "b": 3})]), Reply(text="6"))
    assert make().run(prompt).calls[0].decision == "auto" and len(make.asked) == 1  # a later turn: not asked


def test_a_failing_or_slow_tool_is_an_error_result(db, fake_llm, turn):
    make, thread, prompt = turn
    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__slow", {"seconds": 30}),
                                                call(2, "fx__fail", {"message": "boom"})]), Reply(text="Sorry."))
    result = make(call_timeout=0.3).run(prompt)
    assert result.calls[0].text == "Error: slow did not answer within 0.3 seconds; the call was cancelled."
    assert result.calls[1].text.startswith("Error: Error executing tool fail")
    assert result.text == "Sorry."


def test_a_disabled_tool_is_not_offered(db, fake_llm, turn):
    make, thread, prompt = turn
    set_enabled(db, "fx/add", False)
    fake_llm.enqueue(Reply(text="Hi."))
    make().run(prompt)
    assert "fx__add" not in fake_llm.chat_requests[0].tool_names and "fx__echo" in fake_llm.chat_requests[0].tool_names


def test_rounds_are_bounded_and_the_last_request_asks_for_text(db, fake_llm, turn):
    make, thread, prompt = turn
    fake_llm.reply(text="", tool_calls=[call(9, "fx__add", {"a": 1, "b": 1})])  # a model that never stops
    result = make(max_rounds=2).run(prompt)
    assert result.limit_reached and result.rounds == 3
    requests = fake_llm.chat_requests
    assert len(requests) == 3 and "tool_choice" not in requests[0].body and requests[2].body["tool_choice"] == "none"
    assert result.calls[-1].text.startswith("Error: not run, this turn reached its limit of 2 rounds")
    assert [m.role for m in stored(db, thread)][-2:] == ["assistant", "tool"]  # every call answered


def test_stop_during_a_call_answers_every_call_and_ends_the_turn(db, fake_llm, turn):
    make, thread, prompt = turn
    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__slow", {"seconds": 30}), call(2, "fx__add", {"a": 1, "b": 2})]))
    loop = make()
    threading.Timer(0.5, loop.cancel).start()
    result = loop.run(prompt)
    assert result.status == STOPPED and len(fake_llm.chat_requests) == 1
    assert result.calls[0].text == "Error: The call to slow was cancelled."
    assert result.calls[1].text == "Error: not run, the user stopped the turn."
    assert [m.role for m in stored(db, thread)] == ["assistant", "tool", "tool"]


def test_a_plain_json_reply_with_tool_calls_works_too(db, fake_llm, turn):
    make, thread, prompt = turn
    fake_llm.enqueue(Reply(text="", ignore_stream=True, tool_calls=[call(1, "fx__add", {"a": 5, "b": 5})]),
                     Reply(text="10", ignore_stream=True))
    result = make().run(prompt)
    assert (result.text, [r.text for r in result.calls]) == ("10", ["10"])


def test_an_approval_that_fails_denies_the_call_and_the_turn_goes_on(db, fake_llm, turn):
    make, thread, prompt = turn
    fake_llm.enqueue(Reply(text="", tool_calls=[call(1, "fx__add", {"a": 1, "b": 1})]), Reply(text="OK."))

    def broken(pending):
        raise RuntimeError("the dialog went away")

    result = make(approve=broken).run(prompt)
    assert result.text == "OK." and result.calls[0].decision == DENY
    assert [m.role for m in stored(db, thread)] == ["assistant", "tool", "assistant"]
