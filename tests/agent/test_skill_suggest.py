"""Suggest Skill against the real fake endpoint: JSON drafts, one repair, nothing stored on failure."""

from __future__ import annotations

import json

import pytest

from agent.llm.errors import LLMError
from agent.llm.structured import StructuredOutputError
from agent.skills.forge import SkillError, list_skills_in
from agent.skills.suggest import suggest_skill
from tests.agent.conftest import add_connection, add_message, add_skill, add_thread

DRAFT = {"name": "Bullet answers", "description": "When the user asks for a summary.", "category": "writing",
         "template_prompt": "Answer summaries as short bullets starting with •.",
         "test_cases": [{"prompt": "Summarise: tea is nice.", "expectations": [{"kind": "contains", "value": "•"}]}]}


def _skills(db):
    with db.session() as s:
        return list_skills_in(s)


@pytest.fixture
def connection(session, fake_llm):
    return add_connection(session, base_url=fake_llm.base_url)


def test_a_fenced_draft_becomes_a_suggested_skill(db, fake_llm, connection, session):
    add_skill(session, "Existing one", "Be kind.")
    fake_llm.enqueue({"text": "Here you go:\n```json\n" + json.dumps(DRAFT) + "\n```"})
    skill = suggest_skill(db, connection.id, "", context="I keep asking for summaries of articles.")
    assert (skill.name, skill.status, skill.version, skill.category) == ("Bullet answers", "suggested", 1, "writing")
    assert skill.test_cases == DRAFT["test_cases"]
    (request,) = fake_llm.chat_requests
    assert request.body["response_format"] == {"type": "json_object"}
    user = request.messages[-1]["content"]
    assert "summaries of articles" in user and "Existing one" in user


def test_one_malformed_draft_is_repaired(db, fake_llm, connection):
    too_long = {**DRAFT, "name": "n" * 501}
    fake_llm.enqueue({"text": json.dumps(too_long)}, {"text": json.dumps(DRAFT)})
    skill = suggest_skill(db, connection.id, "")
    assert skill.name == "Bullet answers"
    repair = fake_llm.chat_requests[1].messages[-1]["content"]
    assert '"name" is 501 characters long; the limit is 500' in repair
    assert [s.name for s in _skills(db)] == ["Bullet answers"]


def test_two_malformed_drafts_are_an_error_and_nothing_is_stored(db, fake_llm, connection):
    fake_llm.enqueue({"text": "I think a good skill would be summarising."},
                     {"text": json.dumps({**DRAFT, "template_prompt": ""})})
    with pytest.raises(StructuredOutputError, match='"template_prompt" is missing or empty.*Nothing was stored'):
        suggest_skill(db, connection.id, "")
    assert len(fake_llm.chat_requests) == 2
    assert _skills(db) == []


def test_a_draft_over_the_server_limits_is_refused(db, fake_llm, connection):
    over = {**DRAFT, "template_prompt": "p" * 20_001}
    fake_llm.reply(text=json.dumps(over))  # the repair comes back just as long
    with pytest.raises(StructuredOutputError, match="20,001 characters long; the limit is 20,000"):
        suggest_skill(db, connection.id, "")
    bad_tests = {**DRAFT, "test_cases": [{"prompt": "x", "expectations": [{"kind": "regex", "value": "(("}]}]}
    fake_llm.reply(text=json.dumps(bad_tests))
    with pytest.raises(StructuredOutputError, match="does not compile"):
        suggest_skill(db, connection.id, "")
    assert _skills(db) == []


def test_an_endpoint_without_response_format_is_asked_plainly(db, fake_llm, connection):
    fake_llm.reject_response_format = True
    fake_llm.enqueue({"text": json.dumps(DRAFT)})
    suggest_skill(db, connection.id, "")
    bodies = [r.body for r in fake_llm.chat_requests]
    assert "response_format" in bodies[0] and "response_format" not in bodies[-1]
    assert len(_skills(db)) == 1


def test_a_console_thread_is_the_context(db, fake_llm, connection, session):
    thread = add_thread(session, connection)
    add_message(session, thread, "user", "Please summarise this article about rowan trees.")
    add_message(session, thread, "assistant", "Rowans are small trees with red berries.")
    fake_llm.enqueue({"text": json.dumps(DRAFT)})
    suggest_skill(db, connection.id, "", conversation_id=thread.id)
    user = fake_llm.chat_requests[0].messages[-1]["content"]
    assert "User: Please summarise this article about rowan trees." in user
    assert user.index("User: Please") < user.index("Assistant: Rowans")


def test_failures_before_a_draft_store_nothing(db, fake_llm, connection):
    with pytest.raises(SkillError, match="connection no longer exists"):
        suggest_skill(db, "no-such-connection", "")
    with pytest.raises(SkillError, match="thread no longer exists"):
        suggest_skill(db, connection.id, "", conversation_id="no-such-thread")
    fake_llm.enqueue({"status": 500})
    with pytest.raises(LLMError):
        suggest_skill(db, connection.id, "")
    assert _skills(db) == []
