"""Tool names for OpenAI (unique, within the rule, mapped back), the assembler's bounds, and stored
history sent back as a valid conversation whatever it holds."""

from __future__ import annotations

import json
from types import SimpleNamespace

from agent.llm.client import ToolCallDelta
from agent.tools.assemble import ARGUMENTS_LIMIT, MAX_CALLS, ToolCallAssembler
from agent.tools.history import MISSING_RESULT, wire_messages
from agent.tools.names import ToolNames, is_valid, openai_name
from standin.model import tools_problem


def test_names_are_sanitised_unique_bounded_and_mapped_back():
    pairs = [("files", "read/file.v2"), ("files", "read_file_v2"), ("web", "search"), ("files", "search"),
             ("x" * 40, "y" * 40), ("café", "naïve tool")]
    names = ToolNames(pairs)
    assert openai_name("web", "search") == "web__search"
    offered = [names.name(*p) for p in pairs]
    assert len(set(offered)) == len(pairs) and all(is_valid(n) for n in offered)
    assert all(len(n) <= 64 for n in offered)
    assert names.name("files", "read_file_v2") == "files__read_file_v2"
    assert names.name("files", "read/file.v2") != "files__read_file_v2"  # the clash is told apart
    for pair, name in zip(pairs, offered, strict=True):
        assert names.pair(name) == pair
    assert names.pair("files__nope") is None
    assert ToolNames(reversed(pairs)).name("files", "read/file.v2") == names.name("files", "read/file.v2")


def feed(assembler, *deltas):
    for d in deltas:
        assembler.feed(d)
    return assembler.calls()


def test_fragments_are_joined_by_index_and_bad_parts_made_safe():
    calls = feed(ToolCallAssembler(),
                 ToolCallDelta(1, "call_b", "we", ""), ToolCallDelta(0, "call_a", "fx__", '{"a"'),
                 ToolCallDelta(1, None, "b__search", '{"q":'), ToolCallDelta(0, None, "add", ": 1}"),
                 ToolCallDelta(1, None, None, ' "tea"}'), ToolCallDelta(2, None, "bad name!", "[1]"),
                 ToolCallDelta(3, "c" * 300, "x", "{"))
    assert [(c.id, c.name, c.arguments, c.problem) for c in calls[:2]] == [
        ("call_a", "fx__add", '{"a": 1}', None), ("call_b", "web__search", '{"q": "tea"}', None)]
    assert calls[0].parsed == {"a": 1}
    assert calls[2].name == "bad_name_" and calls[2].id.startswith("call_") and "JSON object" in calls[2].problem
    assert calls[3].id != "c" * 300 and "not valid JSON" in calls[3].problem
    assert tools_problem({"messages": [{"role": "assistant", "content": None,
                                        "tool_calls": [c.to_openai() for c in calls]},
                                       *({"role": "tool", "tool_call_id": c.id, "content": "x"} for c in calls)]}) is None


def test_oversized_arguments_and_too_many_calls_are_bounded():
    huge = "x" * (ARGUMENTS_LIMIT + 10)
    calls = feed(ToolCallAssembler(), *(ToolCallDelta(i, f"c{i}", "t", "{}") for i in range(MAX_CALLS + 5)),
                 ToolCallDelta(0, None, None, huge))
    assert len(calls) == MAX_CALLS
    assert calls[0].arguments == "{}" and "longer than" in calls[0].problem
    assert sum(len(json.dumps(c.to_openai())) for c in calls) < 200_000


def row(role, content="", tool_calls=None, tool_call_id=None):
    return SimpleNamespace(role=role, content=content, tool_calls=tool_calls, tool_call_id=tool_call_id)


def test_history_sends_calls_and_results_and_repairs_what_is_broken():
    call = {"id": "c1", "type": "function", "function": {"name": "fx__add", "arguments": "{}"}}
    other = {"id": "c2", "type": "function", "function": {"name": "fx__echo", "arguments": "{}"}}
    rows = [
        row("tool", "orphan from before the window", tool_call_id="c0"),  # its call was cut off
        row("user", "add"),
        row("assistant", "", [call, other]),
        row("tool", "3", tool_call_id="c1"),  # c2 never answered (a crash)
        row("user", "again"),
        row("tool", "stray", tool_call_id="c1"),  # a result after another message: not its call's
        row("assistant", "done"),
    ]
    messages = wire_messages(rows)
    assert messages == [
        {"role": "user", "content": "add"},
        {"role": "assistant", "content": None, "tool_calls": [call, other]},
        {"role": "tool", "tool_call_id": "c1", "content": "3"},
        {"role": "tool", "tool_call_id": "c2", "content": MISSING_RESULT},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "done"},
    ]
    assert tools_problem({"messages": messages}) is None
