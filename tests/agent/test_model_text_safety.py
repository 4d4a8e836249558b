"""What the server cannot store never enters from the model: U+0000 and lone surrogates are cleaned out
of the chat stream, and make a structured answer invalid (one repair request) like NaN, Infinity, 1e400
or a huge integer — a sentence, never "cannot convert float NaN to integer". Real HTTP to the fake model."""

from __future__ import annotations

import json

import pytest

from agent.chat.threads import thread_messages_in
from agent.chat.turn import DONE, ChatTurn
from agent.llm.client import LLMClient
from agent.llm.structured import (
    Invalid,
    StructuredOutputError,
    ask_json,
    extract_json,
    require_object,
    text_field,
)
from agent.skills.cases import validate_test_cases
from agent.skills.suggest import suggest_skill
from agent.storable import StreamCleaner, clean_text, json_value_problem, text_problem
from standin.model import Reply
from tests.agent.conftest import add_connection, add_thread
from tests.agent.test_mirror import review, spec, world  # noqa: F401 - world is a fixture

EMOJI = "\U0001F600"
HIGH, LOW = "\ud83d", "\ude00"  # EMOJI as a UTF-16 pair


def test_clean_text_drops_nul_joins_pairs_and_replaces_lone_halves():
    assert clean_text("a\x00b") == "ab"
    assert clean_text(f"x{HIGH}{LOW}y") == f"x{EMOJI}y"
    assert clean_text(f"{LOW}x{HIGH}") == "\ufffdx\ufffd"
    assert clean_text("plain ✓") == "plain ✓"
    cleaner = StreamCleaner()
    assert [cleaner.feed("a" + HIGH), cleaner.feed(LOW + "b"), cleaner.feed(HIGH), cleaner.flush()] == \
        ["a", EMOJI + "b", "", "\ufffd"]


def test_the_stream_is_cleaned_even_when_a_pair_is_split_across_events(fake_llm):
    fake_llm.reply(tokens=["Hi", "\x00", " there ", HIGH, LOW, " and", "\x00 a half: ", LOW, " end ", HIGH])
    with LLMClient(fake_llm.base_url, "m") as client:
        deltas = list(client.stream_chat([{"role": "user", "content": "x"}]))
    text = "".join(deltas)
    assert text == f"Hi there {EMOJI} and a half: \ufffd end \ufffd"
    assert all(text_problem(d) is None for d in deltas)
    # the same reply as one JSON body (a server that ignores "stream")
    fake_llm.reply(text="one\x00 two " + HIGH, ignore_stream=True)
    with LLMClient(fake_llm.base_url, "m") as client:
        assert client.complete([{"role": "user", "content": "x"}]) == "one two \ufffd"


def test_a_chat_reply_with_nul_and_lone_surrogates_is_stored_clean(db, fake_llm):
    with db.session() as s:
        thread = add_thread(s, add_connection(s, base_url=fake_llm.base_url))
    fake_llm.reply(tokens=["Sure", "\x00", "! ", HIGH, LOW, " ", LOW])
    result = ChatTurn(db, thread.id, flush_interval=0).send("pasted\x00 text " + HIGH)
    assert result.status == DONE and result.text == f"Sure! {EMOJI} \ufffd"
    with db.session() as s:
        stored = [m.content for m in thread_messages_in(s, thread.id)]
    assert stored == ["pasted text \ufffd", f"Sure! {EMOJI} \ufffd"]
    assert all(text_problem(content) is None for content in stored)
    assert fake_llm.chat_requests[0].messages[-1]["content"] == "pasted text \ufffd"


@pytest.mark.parametrize("reply, says", [
    ('{"name": "a\\u0000b"}', "NUL character"),
    ('{"name": "half \\ud800 pair"}', "unpaired surrogate"),
    ('{"name": "ok", "\\u0000": 1}', "A key contains the NUL"),
    ('{"name": "ok", "score": NaN}', "NaN, Infinity or too large"),
    ('{"name": "ok", "score": -Infinity}', "NaN, Infinity"),
    ('{"name": "ok", "score": 1e400}', "like 1e400"),
    ('{"name": "ok", "n": ' + "9" * 400 + "}", "400 digits) is too large"),
])
def test_values_no_field_can_use_are_an_invalid_reply_with_a_sentence(reply, says):
    with pytest.raises(Invalid, match="The reply cannot be used") as caught:
        extract_json(reply)
    assert says in str(caught.value) and str(caught.value).endswith(".")


def test_deep_nesting_is_checked_without_recursion():
    deep = [[]]
    for _ in range(100_000):
        deep = [deep]
    assert json_value_problem(deep) is None
    assert json_value_problem([deep, float("nan")]) is not None


def _name(value):
    return text_field(require_object(value), "name", limit=50)


@pytest.mark.parametrize("bad", ['{"name": "a\\u0000b"}', '{"name": "x", "n": NaN}', '{"name": "\\udfff"}',
                                 '{"name": "x", "n": 1e400}'])
def test_the_model_gets_one_repair_request_quoting_the_problem(fake_llm, bad):
    fake_llm.enqueue({"text": bad}, {"text": '{"name": "clean"}'})
    with LLMClient(fake_llm.base_url, "m") as client:
        assert ask_json(client, [{"role": "user", "content": "x"}], _name) == "clean"
    repair = fake_llm.chat_requests[1].messages[-1]["content"]
    assert repair.startswith("Your previous reply could not be used: The reply cannot be used: ")


def test_twice_unusable_is_a_clear_error(fake_llm):
    fake_llm.reply(text='{"name": "x", "n": NaN}')
    with LLMClient(fake_llm.base_url, "m") as client, \
            pytest.raises(StructuredOutputError, match="NaN, Infinity.*Nothing was stored"):
        ask_json(client, [{"role": "user", "content": "x"}], _name)
    assert len(fake_llm.chat_requests) == 2


DRAFT = {"name": "Short answers", "description": "Brevity.", "category": "style",
         "template_prompt": "Answer in one sentence.",
         "test_cases": [{"prompt": "Why is the sky blue?", "expectations": [{"kind": "max_chars", "value": 200}]}]}


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e400"])
def test_suggest_skill_with_a_nan_limit_is_repaired_not_a_crash(db, fake_llm, session, value):
    connection = add_connection(session, base_url=fake_llm.base_url)
    bad = json.dumps(DRAFT).replace('"value": 200', f'"value": {value}')
    fake_llm.enqueue(Reply(text=bad), Reply(text=json.dumps(DRAFT)))
    skill = suggest_skill(db, connection.id, "")
    assert skill.test_cases == DRAFT["test_cases"]
    assert "NaN, Infinity or too large" in fake_llm.chat_requests[1].messages[-1]["content"]


def test_suggest_skill_with_nul_twice_stores_nothing(db, fake_llm, session):
    connection = add_connection(session, base_url=fake_llm.base_url)
    fake_llm.reply(text=json.dumps({**DRAFT, "template_prompt": "Be brief.\x00"}))
    with pytest.raises(StructuredOutputError, match="NUL character"):
        suggest_skill(db, connection.id, "")
    from sqlmodel import select

    from local_schema.models import Skill

    with db.session() as s:
        assert s.exec(select(Skill)).all() == []


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_test_cases_typed_or_from_a_file_refuse_nan_with_a_sentence(value):
    with pytest.raises(Invalid, match="max_chars needs a whole number"):
        validate_test_cases([{"prompt": "p", "expectations": [{"kind": "max_chars", "value": value}]}])


def test_test_cases_refuse_text_the_server_cannot_store():
    with pytest.raises(Invalid, match="the prompt: a text contains the NUL"):
        validate_test_cases([{"prompt": "p\x00", "expectations": [{"kind": "is_json"}]}])
    with pytest.raises(Invalid, match="unpaired surrogate"):
        validate_test_cases([{"prompt": "p", "expectations": [{"kind": "contains", "value": "x" + LOW}]}])


def test_a_mirror_review_with_nul_is_repaired_and_stored_clean(db, fake_llm, world):  # noqa: F811
    from agent.mirror import review as mirror

    fake_llm.enqueue(Reply(text=json.dumps(review(suggested_prompt="Be careful.\x00"))),
                     Reply(text=json.dumps(review())))
    result = mirror.run_review(db, spec(world), api_key="")
    assert "NUL character" in fake_llm.chat_requests[1].messages[-1]["content"]
    with db.session() as s:
        report = mirror.get_report_in(s, result.report_id)
        assert text_problem(report.suggested_prompt) is None


def test_a_dream_with_a_lone_surrogate_or_nan_gets_one_repair(db, fake_llm):
    from agent.dream.reports import get_report
    from agent.dream.run import run_dream
    from standin.demo.dream import NOW, consolidating_model, plant_atlas
    from tests.agent.test_dream import _connection, _settings

    plant_atlas(db)

    def model(req):
        first, repair = req.messages[1]["content"], len(req.messages) > 2
        if "look alike" in first and not repair:
            return '{"pairs": [{"pair": 1, "duplicate": true, "merged_label": "Prefers \\ud800 Python"}]}'
        if "Here are the memories" in first and not repair:
            return '{"contradictions": [{"a": NaN, "b": 2}], "unclear": []}'
        return consolidating_model(type(req)(req.method, req.path, req.headers, {"messages": req.messages[:2]},
                                             req.raw))

    fake_llm.responder = model
    outcome = run_dream(db, "consolidate", _connection(db, fake_llm.base_url), api_key="", settings=_settings(),
                        clock=lambda: NOW)
    report = get_report(db, outcome.report_id)
    assert report.status == "done", report.summary
    repairs = [r.messages[-1]["content"] for r in fake_llm.chat_requests if len(r.messages) > 2]
    assert len(repairs) == 2
    assert "unpaired surrogate" in repairs[0] and "NaN, Infinity" in repairs[1]
    assert {p["kind"] for p in report.proposals} >= {"merge", "keep_one"}
