"""Running a skill's tests with and without it, on the real fake endpoint: rates, the stored result,
and nothing stored when the run is cancelled, fails or the skill changes under it."""

from __future__ import annotations

import pytest

from agent.jobs import JobCancelled, JobContext
from agent.llm.errors import LLMError
from agent.skills.cases import cases_hash
from agent.skills.forge import SkillDraft, SkillError, create_suggested, edit_skill, run_state
from agent.skills.runner import run_skill_tests
from local_schema.models import Skill
from tests.agent.conftest import add_connection

PROMPT = "Always answer with bullets that start with •."
CASES = [
    {"prompt": "Summarise: tea is nice.", "expectations": [{"kind": "contains", "value": "•"},
                                                          {"kind": "max_chars", "value": 60}]},
    {"prompt": "List two fruits.", "expectations": [{"kind": "regex", "value": r"^• \w+"}]},
    {"prompt": "Say hi.", "expectations": [{"kind": "not_contains", "value": "As an AI"}]},
]


def skill_aware(request):
    """The fake follows the skill when its prompt is in the system message, and rambles without it."""
    system = next((m["content"] for m in request.messages if m["role"] == "system"), "")
    return "• apples\n• pears" if PROMPT in system else "As an AI, I would say apples and pears."


@pytest.fixture
def setup(db, session, fake_llm):
    connection = add_connection(session, base_url=fake_llm.base_url, system_prompt="You are Hermes.")
    skill = create_suggested(db, SkillDraft("Bullets", PROMPT, test_cases=CASES))
    fake_llm.responder = skill_aware
    return connection, skill


def _stored(db, skill_id) -> Skill:
    with db.session() as s:
        return s.get(Skill, skill_id)


def test_runs_every_case_with_and_without_the_skill(db, fake_llm, setup):
    connection, skill = setup
    seen = []
    report = run_skill_tests(db, skill.id, connection.id, "", runs=2,
                             ctx=JobContext(on_progress=lambda d, t, text: seen.append((d, t, text))))
    assert len(fake_llm.chat_requests) == 3 * 2 * 2
    with_skill = [r for r in fake_llm.chat_requests if PROMPT in r.messages[0]["content"]]
    without = [r for r in fake_llm.chat_requests if PROMPT not in r.messages[0]["content"]]
    assert len(with_skill) == len(without) == 6
    assert with_skill[0].messages[0]["content"] == "You are Hermes.\n\n## Skills\n### Bullets\n" + PROMPT
    assert without[0].messages == [{"role": "system", "content": "You are Hermes."},
                                   {"role": "user", "content": "Summarise: tea is nice."}]
    assert (report.with_rate, report.without_rate, report.delta) == (1.0, 0.0, 1.0)
    assert seen[0] == (0, 12, "Case 1/3, run 1/2, with the skill") and seen[-1][:2] == (12, 12)

    stored = _stored(db, skill.id)
    assert stored.score == 1.0 and run_state(stored) == "current"
    last = stored.last_test
    assert (last["version"], last["cases_hash"], last["runs"]) == (1, cases_hash(CASES), 2)
    assert (last["with_rate"], last["without_rate"], last["delta"]) == (1.0, 0.0, 1.0)
    assert last["connection_id"] == connection.id and last["model"] == "fake-model"
    assert last["results"][0] == {"with": 2, "without": 0, "failed": []}


def test_partial_passes_give_fractional_rates_and_keep_what_failed(db, fake_llm, setup):
    connection, skill = setup
    fake_llm.responder = lambda request: ("• " + "long " * 20) if PROMPT in request.messages[0]["content"] else "ok"
    report = run_skill_tests(db, skill.id, connection.id, "", runs=1)
    # with the skill: case 1 fails max_chars (trimmed length 101), cases 2 and 3 pass;
    # without: only case 3 ("ok" does not contain "As an AI") passes
    assert report.cases[0].failed_with == ["at most 60 characters (was 101)"]
    assert report.with_rate == round(2 / 3, 4) and report.without_rate == round(1 / 3, 4)
    assert _stored(db, skill.id).score == round(2 / 3, 4)


def test_cancel_mid_run_stores_nothing(db, fake_llm, setup):
    connection, skill = setup
    ctx = JobContext()

    def cancel_on_third(request):
        if len(fake_llm.chat_requests) == 3:
            ctx.cancel.cancel()
        return skill_aware(request)

    fake_llm.responder = cancel_on_third
    with pytest.raises(JobCancelled):
        run_skill_tests(db, skill.id, connection.id, "", runs=1, ctx=ctx)
    assert len(fake_llm.chat_requests) == 3  # no request after the cancel
    stored = _stored(db, skill.id)
    assert stored.last_test is None and stored.score == 0.0


def test_a_failed_request_stores_nothing(db, fake_llm, setup):
    connection, skill = setup
    fake_llm.responder = None
    fake_llm.enqueue({"text": "• a"}, {"status": 500})
    with pytest.raises(LLMError, match="A test request failed.*Nothing was stored"):
        run_skill_tests(db, skill.id, connection.id, "", runs=1)
    assert _stored(db, skill.id).last_test is None


def test_a_skill_edited_during_the_run_stores_nothing(db, fake_llm, setup):
    connection, skill = setup

    def edit_then_answer(request):
        if len(fake_llm.chat_requests) == 1:
            edit_skill(db, skill.id, template_prompt=PROMPT + " Be brief.")
        return skill_aware(request)

    fake_llm.responder = edit_then_answer
    with pytest.raises(SkillError, match="changed while its tests ran"):
        run_skill_tests(db, skill.id, connection.id, "", runs=1)
    assert _stored(db, skill.id).last_test is None


def test_nothing_to_run_is_a_clear_error(db, fake_llm, setup):
    connection, skill = setup
    with pytest.raises(SkillError, match="1 to 3 times"):
        run_skill_tests(db, skill.id, connection.id, "", runs=4)
    empty = create_suggested(db, SkillDraft("Empty", "Do things."))
    with pytest.raises(SkillError, match="no test cases yet"):
        run_skill_tests(db, empty.id, connection.id, "")
    with pytest.raises(SkillError, match="connection no longer exists"):
        run_skill_tests(db, skill.id, "gone", "")
    assert fake_llm.chat_requests == []
