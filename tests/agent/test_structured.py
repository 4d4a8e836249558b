"""JSON from a model, against the real fake endpoint: tolerant parsing, one repair request, then an error."""

from __future__ import annotations

import pytest

from agent.llm.client import LLMClient
from agent.llm.structured import (
    Invalid,
    StructuredOutputError,
    ask_json,
    extract_json,
    require_object,
    text_field,
)


def _validate(value):
    obj = require_object(value)
    return {"name": text_field(obj, "name", limit=20)}


@pytest.mark.parametrize("reply, expected", [
    ('{"a": 1}', {"a": 1}),
    ('Sure!\n```json\n{"a": 1}\n```\nHope that helps.', {"a": 1}),
    ("```\n[1, 2]\n```", [1, 2]),
    ('Here it is: {"a": "}{ brace", "b": [1]} and more', {"a": "}{ brace", "b": [1]}),
])
def test_extract_json_accepts_what_models_actually_send(reply, expected):
    assert extract_json(reply) == expected


@pytest.mark.parametrize("reply", ["", "   ", "no json here", '{"a": 1', "[" * 10_000])
def test_extract_json_refuses_with_a_sentence(reply):
    with pytest.raises(Invalid):
        extract_json(reply)


def test_valid_first_reply_asks_once_with_response_format(fake_llm):
    fake_llm.enqueue({"text": '```json\n{"name": "tidy"}\n```'})
    with LLMClient(fake_llm.base_url, "m") as client:
        assert ask_json(client, [{"role": "user", "content": "x"}], _validate) == {"name": "tidy"}
    assert len(fake_llm.chat_requests) == 1
    assert fake_llm.chat_requests[0].body["response_format"] == {"type": "json_object"}


def test_one_repair_request_quotes_the_problem(fake_llm):
    fake_llm.enqueue({"text": '{"name": "' + "x" * 30 + '"}'}, {"text": '{"name": "short"}'})
    with LLMClient(fake_llm.base_url, "m") as client:
        assert ask_json(client, [{"role": "user", "content": "x"}], _validate) == {"name": "short"}
    repair = fake_llm.chat_requests[1].messages
    assert repair[-2]["role"] == "assistant"
    assert "the limit is 20" in repair[-1]["content"]


def test_two_bad_replies_raise_and_no_third_request(fake_llm):
    fake_llm.enqueue({"text": "not json"}, {"text": '{"other": 1}'})
    with LLMClient(fake_llm.base_url, "m") as client, pytest.raises(StructuredOutputError) as err:
        ask_json(client, [{"role": "user", "content": "x"}], _validate)
    assert '"name" is missing' in str(err.value)
    assert len(fake_llm.chat_requests) == 2


def test_an_endpoint_refusing_response_format_is_asked_plainly(fake_llm):
    fake_llm.reject_response_format = True
    fake_llm.enqueue({"text": '{"name": "ok"}'})
    with LLMClient(fake_llm.base_url, "m") as client:
        assert ask_json(client, [{"role": "user", "content": "x"}], _validate) == {"name": "ok"}
    sent = [r.body for r in fake_llm.chat_requests]
    assert "response_format" in sent[0] and "response_format" not in sent[-1]
