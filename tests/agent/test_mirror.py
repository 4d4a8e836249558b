"""Mirror Mode against the fake OpenAI server: the request, parsing and repair, evidence, storage, actions."""

from __future__ import annotations

import json
import threading

import pytest
from sqlmodel import select

from agent.jobs import JobCancelled, JobContext
from agent.llm.structured import StructuredOutputError
from agent.mirror import review as mirror
from agent.mirror.request import ReviewError, ReviewSpec
from agent.mirror.review import MirrorError, PromptChanged
from local_schema.models import AgentConnection, MemoryNode, MirrorReport, Skill
from tests.agent.conftest import NOW, add_connection, add_message, add_node, add_skill, add_thread, ts

QUOTE = "I will retry with exponential backoff"


def review(**overrides) -> dict:
    body = {
        "strengths": [{"claim": "Explains the retry policy", "evidence": [QUOTE]}],
        "weaknesses": [{"claim": "Never asks which HTTP errors are retryable",
                        "evidence": ["a quote that is nowhere in the logs"]}],
        "recommendations": [{"claim": "Ask which errors should be retried before writing code",
                             "evidence": ["Write me a retry helper"]}],
        "suggested_prompt": "You are a careful Python assistant. Ask before assuming.",
        "memory_used": [1],
        "skill_scores": [{"skill": 1, "score": 0.75}],
    }
    body.update(overrides)
    return body


@pytest.fixture
def world(db, fake_llm):
    """A connection to the fake endpoint with a prompt, one thread of logs, two injected memory nodes
    (plus a weak one that is not injected) and a promoted skill."""
    with db.session() as s:
        conn = add_connection(s, fake_llm.base_url, system_prompt="You are a Python assistant.", name="Hermes")
        thread = add_thread(s, conn, "Retry helper")
        add_message(s, thread, "user", "Write me a retry helper for HTTP calls.", created_at=ts(1))
        add_message(s, thread, "assistant", f"Sure. {QUOTE}, up to five attempts.", created_at=ts(1, 5))
        strong = add_node(s, "Prefers Python for data work", strength=0.9, created_at=ts(1))
        add_node(s, "Works in UTC", strength=0.8, created_at=ts(2))
        add_node(s, "Weak memory", strength=0.3)
        skill = add_skill(s, "Summarise", "Summarise long answers in three bullets.")
    return {"conn": conn.id, "thread": thread.id, "strong": strong.id, "skill": skill.id}


def spec(world, **overrides) -> ReviewSpec:
    values = {"title": "Week 1", "connection_id": world["conn"], "thread_ids": [world["thread"]]}
    values.update(overrides)
    return ReviewSpec(**values)


def reports(db) -> list[MirrorReport]:
    with db.session() as s:
        return list(s.exec(select(MirrorReport)).all())


def test_a_valid_report_is_stored_with_evidence_checked_and_memory_reinforced(db, fake_llm, world):
    fake_llm.reply(text=json.dumps(review()))
    result = mirror.run_review(db, spec(world), api_key="", now=NOW)

    (report,) = reports(db)
    assert report.id == result.report_id and report.title == "Week 1"
    assert report.agent_connection_id == world["conn"]
    strength, weakness, recommendation = report.strengths[0], report.weaknesses[0], report.recommendations[0]
    assert strength == {"text": "Explains the retry policy", "verified": True,
                        "evidence": [{"quote": QUOTE, "verified": True}]}
    assert weakness["verified"] is False and weakness["evidence"][0]["verified"] is False
    assert recommendation["verified"] is True  # "Write me a retry helper" is in the user's message
    assert report.suggested_prompt.startswith("You are a careful Python assistant")
    assert report.details["reviewer"]["name"] == "Hermes"
    assert report.details["memory_used"] == [{"number": 1, "id": world["strong"],
                                              "label": "Prefers Python for data work"}]
    assert report.details["logs"]["parts_sent"] == 2 and report.details["logs"]["parts_left_out"] == 0
    assert result.unverified == 1 and result.reinforced == 1 and result.attempts == 1
    with db.session() as s:
        node = s.get(MemoryNode, world["strong"])
        assert node.strength == pytest.approx(0.95) and node.last_referenced_at is not None
        assert s.get(Skill, world["skill"]).score == pytest.approx(0.75)  # skill 1 was scored
    assert result.scored == 1
    assert report.details["skill_scores"] == [{"number": 1, "id": world["skill"], "name": "Summarise",
                                               "score": 0.75}]

    # What the reviewer saw: the prompt, numbered memory and skills, the transcript with roles and
    # times, and never a row id.
    (request,) = fake_llm.chat_requests
    sent = request.messages[1]["content"]
    assert "You are a Python assistant." in sent
    assert "1. Prefers Python for data work (fact)\n2. Works in UTC (fact)" in sent
    assert "Weak memory" not in sent
    assert "1. Summarise: Summarise long answers in three bullets." in sent
    assert '### Thread "Retry helper"' in sent and "UTC] user:\nWrite me a retry helper" in sent
    for row_id in world.values():
        assert row_id not in json.dumps(request.body)
    assert request.body["response_format"] == {"type": "json_object"}


def test_fenced_json_is_accepted(db, fake_llm, world):
    fake_llm.reply(text="Here is my review:\n```json\n" + json.dumps(review()) + "\n```\nHope it helps.")
    mirror.run_review(db, spec(world), api_key="", now=NOW)
    assert len(reports(db)) == 1 and len(fake_llm.chat_requests) == 1


def test_malformed_then_repaired_quotes_the_problem_once(db, fake_llm, world):
    def answer(request):
        if "could not be used" in request.messages[-1]["content"]:
            return json.dumps(review())
        return json.dumps({"strengths": "all good"})

    fake_llm.responder = answer
    result = mirror.run_review(db, spec(world), api_key="", now=NOW)
    assert result.attempts == 2 and len(reports(db)) == 1
    repair = fake_llm.chat_requests[1].messages[-1]["content"]
    assert 'The field "strengths" must be a list' in repair


def test_malformed_twice_is_a_clear_error_and_nothing_is_stored(db, fake_llm, world):
    fake_llm.reply(text="I think the agent did fine overall.")
    progress = []
    ctx = JobContext(on_progress=lambda done, total, text: progress.append(text))
    with pytest.raises(StructuredOutputError, match="Nothing was stored"):
        mirror.run_review(db, spec(world), api_key="", ctx=ctx, now=NOW)
    assert reports(db) == [] and len(fake_llm.chat_requests) == 2
    assert "The first answer was not usable; checking the repaired one" in progress
    with db.session() as s:  # the cited node was not reinforced either
        assert s.get(MemoryNode, world["strong"]).strength == pytest.approx(0.9)


def test_out_of_range_numbers_are_ignored(db, fake_llm, world):
    body = review(memory_used=[0, 2, 7, "x", 2], skill_scores=[{"skill": 5, "score": 0.9},
                                                             {"skill": 1, "score": 1.7}])
    fake_llm.reply(text=json.dumps(body))
    result = mirror.run_review(db, spec(world), api_key="", now=NOW)
    (report,) = reports(db)
    assert [m["number"] for m in report.details["memory_used"]] == [2]
    assert report.details["skill_scores"] == []
    assert len(report.details["ignored"]) == 5
    assert result.reinforced == 1
    with db.session() as s:
        assert s.get(MemoryNode, world["strong"]).strength == pytest.approx(0.9)  # number 1 was not cited
        assert s.get(Skill, world["skill"]).score == 0.0


def test_details_stay_small_whatever_the_reviewer_sends(db, fake_llm, world):
    junk = ["x" * 1500] * 200  # 200 out-of-range "numbers", each a long string
    fake_llm.reply(text=json.dumps(review(memory_used=junk)))
    mirror.run_review(db, spec(world), api_key="", now=NOW)
    (report,) = reports(db)
    assert len(report.details["ignored"]) == 20 and all(len(n) <= 200 for n in report.details["ignored"])
    assert len(json.dumps(report.details)) < 10_000


def test_a_quote_must_be_verbatim_after_whitespace_normalisation(db, fake_llm, world):
    spaced = "I   will retry\nwith exponential    backoff"  # same words, other whitespace: found
    reworded = "I will retry using exponential backoff"  # a paraphrase: not found
    fake_llm.reply(text=json.dumps(review(strengths=[{"claim": "a", "evidence": [spaced]},
                                                     {"claim": "b", "evidence": [f"“{QUOTE}…”"]},
                                                     {"claim": "c", "evidence": [reworded]},
                                                     {"claim": "d", "evidence": ["retry"]},
                                                     {"claim": "e", "evidence": []},
                                                     "f, a bare string"])))
    mirror.run_review(db, spec(world), api_key="", now=NOW)
    (report,) = reports(db)
    assert [c["verified"] for c in report.strengths] == [True, True, False, False, False, False]
    assert [c["text"] for c in report.strengths] == ["a", "b", "c", "d", "e", "f, a bare string"]


def test_no_change_is_a_valid_answer(db, fake_llm, world):
    fake_llm.reply(text=json.dumps(review(suggested_prompt="  You are a Python   assistant. ")))
    result = mirror.run_review(db, spec(world), api_key="", now=NOW)
    assert reports(db)[0].suggested_prompt is None and not result.suggests_prompt
    with pytest.raises(MirrorError, match="suggests no change"):
        mirror.apply_prompt(db, result.report_id)


def test_apply_and_undo_the_suggested_prompt(db, fake_llm, world):
    fake_llm.reply(text=json.dumps(review()))
    report_id = mirror.run_review(db, spec(world), api_key="", now=NOW).report_id

    def prompt():
        with db.session() as s:
            return s.get(AgentConnection, world["conn"]).system_prompt

    mirror.apply_prompt(db, report_id, now=NOW)
    assert prompt() == "You are a careful Python assistant. Ask before assuming."
    with db.session() as s:
        report = s.get(MirrorReport, report_id)
        assert report.previous_prompt == "You are a Python assistant." and report.applied_at is not None
    with pytest.raises(MirrorError, match="already applied"):
        mirror.apply_prompt(db, report_id)

    mirror.undo_prompt(db, report_id)
    assert prompt() == "You are a Python assistant."
    with db.session() as s:
        report = s.get(MirrorReport, report_id)
        assert (report.previous_prompt, report.applied_at) == (None, None)
    with pytest.raises(MirrorError, match="nothing to undo"):
        mirror.undo_prompt(db, report_id)

    # An edit made after Apply is not thrown away silently.
    mirror.apply_prompt(db, report_id)
    with db.write() as s:
        s.get(AgentConnection, world["conn"]).system_prompt = "Edited by hand."
    with pytest.raises(PromptChanged):
        mirror.undo_prompt(db, report_id)
    assert prompt() == "Edited by hand."
    mirror.undo_prompt(db, report_id, force=True)
    assert prompt() == "You are a Python assistant."


def test_undo_restores_an_empty_prompt(db, fake_llm, world):
    with db.write() as s:
        s.get(AgentConnection, world["conn"]).system_prompt = None
    fake_llm.reply(text=json.dumps(review()))
    report_id = mirror.run_review(db, spec(world), api_key="", now=NOW).report_id
    mirror.apply_prompt(db, report_id)
    mirror.undo_prompt(db, report_id)
    with db.session() as s:
        assert s.get(AgentConnection, world["conn"]).system_prompt is None


def test_oldest_parts_are_left_out_past_the_budget(db, world):
    with db.session() as s:
        thread = s.get(AgentConnection, world["conn"])
        long_thread = add_thread(s, thread, "Long one")
        for i in range(60):
            add_message(s, long_thread, "user" if i % 2 == 0 else "assistant", f"message {i:02d} " + "x" * 400,
                        created_at=ts(0, i))
    request = mirror.preview(db, spec(world, thread_ids=[world["thread"], long_thread.id], budget_tokens=4000))
    assert request.tokens <= 4000
    kept = [p.text.split("\n", 1)[1][:10] for p in request.included if p.source == long_thread.id]
    assert kept[-1] == "message 59" and len(request.omitted) > 2
    # Everything older than what is kept is left out, the other thread's (older) messages first.
    assert [p.source for p in request.omitted[:2]] == [world["thread"]] * 2
    assert "oldest parts of the logs were left out" in request.logs_text
    summary = request.omitted_summary()
    assert summary[0].startswith('Thread "Retry helper": 2 of 2 messages')
    assert summary[1].startswith('Thread "Long one": ')
    with pytest.raises(ReviewError, match="Raise the budget"):  # one unbreakable line bigger than the budget
        mirror.preview(db, spec(world, budget_tokens=1000, thread_ids=[], pasted_logs="y" * 5000))


def test_pasted_logs_become_paragraph_parts(db, world, fake_llm):
    logs = "2026-05-01 user: hi\nassistant: hello\n\n\nuser: " + QUOTE + "?\n\n" + "long line\n" * 800
    request = mirror.preview(db, spec(world, thread_ids=[], pasted_logs=logs))
    assert [p.lines for p in request.included][:2] == [(1, 2), (5, 5)]
    assert all(len(p.text) <= 4000 for p in request.included)
    assert request.logs_text.startswith("### Pasted logs\n\n2026-05-01 user: hi")
    fake_llm.reply(text=json.dumps(review()))
    mirror.run_review(db, spec(world, thread_ids=[], pasted_logs=logs), api_key="", now=NOW)
    assert reports(db)[0].strengths[0]["verified"] is True
    assert reports(db)[0].details["logs"]["sources"] == [{"kind": "pasted", "title": "Pasted logs"}]


@pytest.mark.parametrize(("changes", "message"), [
    ({"connection_id": "nope"}, "Choose the connection"),
    ({"thread_ids": []}, "nothing to review"),
    ({"thread_ids": ["gone"]}, "does not exist"),
    ({"pasted_logs": "x"}, "not both"),
    ({"title": "x" * 501}, "limit is 500"),
])
def test_a_review_that_cannot_run_says_why(db, world, fake_llm, changes, message):
    with pytest.raises(ReviewError, match=message):
        mirror.run_review(db, spec(world, **changes), api_key="")
    assert fake_llm.requests == [] and reports(db) == []


def test_the_reviewer_can_be_another_connection(db, fake_llm, world):
    with db.session() as s:
        other = add_connection(s, fake_llm.base_url, model="big-reasoner", name="Reasoner")
    fake_llm.reply(text=json.dumps(review()))
    mirror.run_review(db, spec(world, reviewer_id=other.id), api_key="")
    assert fake_llm.chat_requests[0].body["model"] == "big-reasoner"
    (report,) = reports(db)
    assert report.agent_connection_id == world["conn"] and report.details["reviewer"]["name"] == "Reasoner"


def test_cancel_while_the_reviewer_answers_stores_nothing(db, fake_llm, world):
    fake_llm.reply(text=json.dumps(review()), token_delay=0.05)
    ctx = JobContext()
    threading.Timer(0.2, ctx.cancel.cancel).start()
    with pytest.raises(JobCancelled):
        mirror.run_review(db, spec(world), api_key="", ctx=ctx)
    assert reports(db) == []


def test_list_show_and_delete(db, fake_llm, world):
    fake_llm.reply(text=json.dumps(review()))
    first = mirror.run_review(db, spec(world, title="First"), api_key="").report_id
    second = mirror.run_review(db, spec(world, title="Second"), api_key="").report_id
    with db.write() as s:  # a row written by the web app: plain strings
        s.add(MirrorReport(title="From the web", strengths=["clear"], created_at=ts(30)))
    listed = mirror.list_reports(db)
    assert [r.title for r in listed] == ["Second", "First", "From the web"]
    assert listed[0].counts == (1, 1, 1) and listed[0].unverified == 1 and listed[0].suggests_prompt
    assert listed[2].connection_name == "" and listed[2].unverified == 1
    mirror.delete_report(db, first)
    assert [r.id for r in mirror.list_reports(db)][:1] == [second]
    with pytest.raises(MirrorError, match="does not exist"):
        mirror.get_report(db, first)
    assert mirror.get_report(db, second).title == "Second"


def test_prompt_diff_marks_removed_and_added_lines():
    diff = mirror.prompt_diff("Be brief.\nUse Python.", "Be brief.\nAsk first.\nUse Python.")
    assert diff == [(" ", "Be brief."), ("+", "Ask first."), (" ", "Use Python.")]
    assert mirror.prompt_diff(None, "New") == [("+", "New")]


def test_a_recommendation_becomes_a_memory_node_through_the_no_duplicates_rule(db, fake_llm, world):
    recommendations = [{"claim": "Ask which errors should be retried before writing code", "evidence": []},
                       {"claim": "Prefers Python for data work", "evidence": []}]  # already a node
    fake_llm.reply(text=json.dumps(review(recommendations=recommendations, memory_used=[])))
    report_id = mirror.run_review(db, spec(world), api_key="", now=NOW).report_id

    added = mirror.recommendation_to_memory(db, report_id, 1, now=NOW)
    assert not added.reinforced and added.message.startswith("Added to the Atlas")
    with db.session() as s:
        node = s.get(MemoryNode, added.id)
        assert (node.label, node.category, node.source) == (recommendations[0]["claim"], "style",
                                                            f"mirror:{report_id}")
        assert node.strength == 0.5  # a new node, not injected until it earns it
        assert s.get(MirrorReport, report_id).recommendations[0]["memory_node_id"] == node.id
    with pytest.raises(MirrorError, match="already in the Atlas"):
        mirror.recommendation_to_memory(db, report_id, 1)

    merged = mirror.recommendation_to_memory(db, report_id, 2, now=NOW)
    assert merged.reinforced and merged.id == world["strong"]
    with db.session() as s:
        assert s.get(MemoryNode, world["strong"]).strength == pytest.approx(0.95)
        assert len(s.exec(select(MemoryNode)).all()) == 4  # three from the world, one added
    for number in (0, 3):
        with pytest.raises(MirrorError, match="no recommendation"):
            mirror.recommendation_to_memory(db, report_id, number)


def test_a_recommendation_becomes_a_suggested_skill(db, fake_llm, world):
    claim = "Before writing code, ask which HTTP errors should be retried and how many times in total"
    fake_llm.reply(text=json.dumps(review(recommendations=[{"claim": claim, "evidence": []}])))
    report_id = mirror.run_review(db, spec(world), api_key="", now=NOW).report_id
    made = mirror.recommendation_to_skill(db, report_id, 1)
    with db.session() as s:
        skill = s.get(Skill, made.id)
        assert (skill.status, skill.template_prompt, skill.version) == ("suggested", claim, 1)
        assert skill.name == "Before writing code, ask which HTTP errors should be retried…"
        assert "From the Mirror report “Week 1”" in skill.description
        assert s.get(MirrorReport, report_id).recommendations[0]["skill_id"] == skill.id
    assert "added to the Skill Forge" in made.message
    with pytest.raises(MirrorError, match="already the skill"):
        mirror.recommendation_to_skill(db, report_id, 1)
    with pytest.raises(MirrorError, match="no recommendation 2"):
        mirror.recommendation_to_skill(db, report_id, 2)
    # Dismissed in the Forge: the recommendation can become a skill again.
    from agent.skills import forge

    forge.dismiss(db, made.id)
    assert mirror.recommendation_to_skill(db, report_id, 1).id != made.id


def test_the_budget_setting_is_kept_in_config_json_beside_other_sections(tmp_path):
    from agent.mirror.request import DEFAULT_BUDGET_TOKENS
    from agent.mirror.settings import load_budget, save_budget

    assert load_budget(tmp_path) == DEFAULT_BUDGET_TOKENS
    (tmp_path / "config.json").write_text(json.dumps({"supabase": {"url": "http://x"}}))
    assert save_budget(tmp_path, 8000) == 8000 and load_budget(tmp_path) == 8000
    assert json.loads((tmp_path / "config.json").read_text())["supabase"] == {"url": "http://x"}
    for bad in (10, 2_000_000, 1.5):
        with pytest.raises(ReviewError, match="budget"):
            save_budget(tmp_path, bad)
    (tmp_path / "config.json").write_text("{broken")
    assert load_budget(tmp_path) == DEFAULT_BUDGET_TOKENS
