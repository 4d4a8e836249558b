"""Tool calls as messages (20261207100000_tool_calls.sql) and paused facts (…100100_memory_paused.sql) on
PostgreSQL as PostgREST's `authenticated` role: the shape and size checks, which role may carry what,
stamping and row-level security unchanged."""

from __future__ import annotations

import json

import pytest
from psycopg import errors

from tests.server.rows import get, insert, make, patch


def call(i=1, name="files__read", arguments='{"path": "/tmp/a"}', **extra):
    return {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": arguments}, **extra}


@pytest.fixture
def thread(alice):
    return make(alice, "conversations")


def test_an_assistant_message_holds_its_calls_and_tool_messages_answer_them(alice, bob, thread):
    asked = insert(alice, "messages", conversation_id=thread["id"], role="assistant", content="",
                   tool_calls=[call(1), call(2, "web__search", '{"q": "tea"}')])
    assert [c["id"] for c in asked["tool_calls"]] == ["call_1", "call_2"]
    answer = insert(alice, "messages", conversation_id=thread["id"], role="tool", content="file text",
                    tool_call_id="call_1")
    assert (answer["role"], answer["tool_call_id"], answer["tool_calls"]) == ("tool", "call_1", None)
    assert get(bob, "messages", answer["id"]) is None  # row-level security as for any message
    edited = patch(alice, "messages", asked["id"], tool_calls=[call(1)])
    assert len(edited["tool_calls"]) == 1 and edited["updated_at"] > asked["updated_at"]  # restamped: pulled


@pytest.mark.parametrize("tool_calls", [
    {"id": "x"},  # not an array
    [],  # an empty list is no calls: null
    ["call_1"],
    [{"type": "function", "function": {"name": "a", "arguments": "{}"}}],  # no id
    [{"id": 7, "type": "function", "function": {"name": "a", "arguments": "{}"}}],
    [{"id": "", "type": "function", "function": {"name": "a", "arguments": "{}"}}],
    [{"id": "c" * 201, "type": "function", "function": {"name": "a", "arguments": "{}"}}],
    [{"id": "c", "type": "code", "function": {"name": "a", "arguments": "{}"}}],
    [{"id": "c", "function": {"name": "a", "arguments": "{}"}}],  # no type
    [{"id": "c", "type": "function"}],  # no function
    [{"id": "c", "type": "function", "function": "a"}],
    [{"id": "c", "type": "function", "function": {"arguments": "{}"}}],
    [{"id": "c", "type": "function", "function": {"name": "files.read", "arguments": "{}"}}],  # OpenAI's rule
    [{"id": "c", "type": "function", "function": {"name": "n" * 65, "arguments": "{}"}}],
    [{"id": "c", "type": "function", "function": {"name": "a", "arguments": {"path": "/"}}}],  # not a string
    [{"id": "c", "type": "function", "function": {"name": "a"}}],
    [[call(1)]],  # a nested array is not looked into
    [call(i) for i in range(65)],
    [call(1, arguments="x" * 250_001)],
], ids=lambda v: json.dumps(v)[:40])
def test_a_malformed_or_oversized_tool_calls_value_is_refused(alice, thread, tool_calls):
    with pytest.raises(errors.CheckViolation, match="messages_tool_calls_shape"):
        insert(alice, "messages", conversation_id=thread["id"], role="assistant", content="", tool_calls=tool_calls)


def test_the_largest_accepted_shapes(alice, thread):
    many = insert(alice, "messages", conversation_id=thread["id"], role="assistant", content="",
                  tool_calls=[call(i, "n" * 64) for i in range(64)])
    assert len(many["tool_calls"]) == 64
    big = insert(alice, "messages", conversation_id=thread["id"], role="assistant", content="",
                 tool_calls=[call(1, arguments="x" * 200_000, extra="kept")])  # extra keys are tolerated
    assert big["tool_calls"][0]["extra"] == "kept"


@pytest.mark.parametrize("role, values, constraint", [
    ("user", {"tool_calls": [call(1)]}, "messages_tool_roles"),
    ("tool", {"tool_calls": [call(1)], "tool_call_id": "call_1"}, "messages_tool_roles"),
    ("tool", {}, "messages_tool_roles"),  # a result must say which call it answers
    ("assistant", {"tool_call_id": "call_1"}, "messages_tool_roles"),
    ("tool", {"tool_call_id": ""}, "messages_tool_call_id_length"),
    ("tool", {"tool_call_id": "c" * 201}, "messages_tool_call_id_length"),
    ("function", {}, "messages_role_check"),
])
def test_only_assistant_messages_ask_and_only_tool_messages_answer(alice, thread, role, values, constraint):
    with pytest.raises(errors.CheckViolation, match=constraint):
        insert(alice, "messages", conversation_id=thread["id"], role=role, content="r", **values)


def test_a_tool_result_is_bounded_like_any_message(alice, thread):
    insert(alice, "messages", conversation_id=thread["id"], role="tool", content="r" * 200_000, tool_call_id="c")
    with pytest.raises(errors.CheckViolation, match="messages_content_length"):
        insert(alice, "messages", conversation_id=thread["id"], role="tool", content="r" * 200_001, tool_call_id="c")


def test_a_fact_can_be_paused_and_resumed_by_its_owner_only(alice, bob):
    node = make(alice, "memory_nodes")
    assert node["paused"] is False
    paused = patch(alice, "memory_nodes", node["id"], paused=True)
    assert paused["paused"] is True and paused["updated_at"] > node["updated_at"]
    assert patch(bob, "memory_nodes", node["id"], paused=False) is None
    assert get(alice, "memory_nodes", node["id"])["paused"] is True
    with pytest.raises(errors.NotNullViolation):
        patch(alice, "memory_nodes", node["id"], paused=None)
