"""Dream Mode, headless, against the real fake endpoint: gates, budget, the dreams, decisions."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from agent.dream import decide
from agent.dream.gates import DreamFacts, blocking_reasons
from agent.dream.kinds import KINDS, LABELS
from agent.dream.reports import DreamError, delete_report, get_report, list_reports, mark_interrupted
from agent.dream.run import run_dream
from agent.dream.schedule import next_kind, next_kind_after
from agent.dream.settings import DreamSettings, load_settings, save_settings
from agent.jobs import JobCancelled, JobContext
from local_schema.database import open_database
from local_schema.models import AgentConnection, MemoryNode
from standin.demo.dream import (
    NOW,
    add_promoted_skill,
    add_turns,
    consolidating_model,
    plant_atlas,
    stressing_model,
)


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path / "local.sqlite3")
    yield database
    database.close()


def _connection(db, base_url: str) -> str:
    with db.write() as s:
        c = AgentConnection(name="Dreamer", provider="custom", base_url=base_url, model="fake-model",
                            system_prompt="Be brief.")
        s.add(c)
    return c.id


def _atlas(db) -> dict:
    with db.session() as s:
        rows = s.execute(text("SELECT id, label, strength, deleted_at FROM memory_nodes ORDER BY id")).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def _settings(**kw) -> DreamSettings:
    return DreamSettings(connection_id="", **kw)


# -- gates ---------------------------------------------------------------------------------------
def _facts(**kw) -> DreamFacts:
    base = dict(now=NOW, idle_seconds=3600, streaming=False, dreaming=False, connection_exists=True,
                key_available=True, new_messages=50, last_dream_at=NOW - timedelta(hours=2))
    return DreamFacts(**{**base, **kw})


def test_all_gates_open_means_no_reason():
    assert blocking_reasons(DreamSettings(connection_id="c"), _facts()) == []


@pytest.mark.parametrize("settings, facts, says", [
    (dict(enabled=False), {}, "turned off"),
    (dict(connection_id=""), {}, "No dreaming connection"),
    ({}, dict(connection_exists=False), "no longer exists"),
    ({}, dict(key_available=False), "key is not available"),
    ({}, dict(idle_seconds=120), "active recently"),
    ({}, dict(streaming=True), "reply is being written"),
    ({}, dict(dreaming=True), "already running"),
    ({}, dict(new_messages=3), "Not enough new material"),
    (dict(max_requests=0), {}, "budget is zero"),
])
def test_each_gate_blocks_alone(settings, facts, says):
    reasons = blocking_reasons(DreamSettings(**{"connection_id": "c", **settings}), _facts(**facts))
    assert len(reasons) == 1 and says in reasons[0]


def test_a_day_without_dreams_is_enough_material_even_with_few_messages():
    settings = DreamSettings(connection_id="c")
    assert blocking_reasons(settings, _facts(new_messages=0, last_dream_at=NOW - timedelta(hours=25))) == []


def test_settings_round_trip_and_a_damaged_file_gives_defaults(tmp_path):
    save_settings(tmp_path, DreamSettings(connection_id="abc", max_requests=5, idle_minutes=-3))
    loaded = load_settings(tmp_path)
    assert (loaded.connection_id, loaded.max_requests, loaded.idle_minutes) == ("abc", 5, 1)
    (tmp_path / "dream.json").write_text("{not json")
    assert load_settings(tmp_path) == DreamSettings()


def test_kinds_take_turns():
    assert next_kind_after([]) == "consolidate"
    assert next_kind_after(["consolidate"]) == "replay"
    assert next_kind_after(["replay", "consolidate"]) == "stress"
    assert next_kind_after(["stress", "replay", "consolidate"]) == "consolidate"


def test_the_next_kind_is_read_from_the_live_reports(db, fake_llm):
    assert next_kind(db) == "consolidate"
    fake_llm.responder = consolidating_model
    plant_atlas(db)
    first = run_dream(db, "consolidate", _connection(db, fake_llm.base_url), api_key="", settings=_settings())
    assert next_kind(db) == "replay"
    delete_report(db, first.report_id)  # a deleted report no longer counts
    assert next_kind(db) == "consolidate"
    assert set(LABELS) == set(KINDS)


# -- consolidate -----------------------------------------------------------------------------------
def test_consolidate_finds_planted_problems_and_changes_nothing(db, fake_llm):
    ids = plant_atlas(db)
    fake_llm.responder = consolidating_model
    before = _atlas(db)
    outcome = run_dream(db, "consolidate", _connection(db, fake_llm.base_url), api_key="",
                        settings=_settings(), clock=lambda: NOW)
    assert outcome.status == "done"
    assert _atlas(db) == before  # a dream only proposes
    report = get_report(db, outcome.report_id)
    kinds = {p["kind"]: p for p in report.proposals}
    assert set(kinds) == {"merge", "keep_one", "delete"}
    assert kinds["merge"]["keep_id"] == ids["a"] and kinds["merge"]["drop_ids"] == [ids["b"]]
    assert kinds["keep_one"]["keep_id"] == ids["veg"] and kinds["keep_one"]["drop_ids"] == [ids["steak"]]
    assert kinds["delete"]["node_id"] == ids["weak"]
    assert all(p["state"] == "open" for p in report.proposals)
    assert len(fake_llm.chat_requests) == 2  # one duplicate check, one contradiction check
    shown = "\n".join(m["content"] for r in fake_llm.chat_requests for m in r.messages)
    assert not any(node_id in shown for node_id in ids.values())  # the model never sees ids
    assert report.budget["requests"] == 2 and report.finished_at


def test_accepting_a_merge_changes_the_atlas_once_and_is_captured_for_sync(db, fake_llm):
    ids = plant_atlas(db)
    fake_llm.responder = consolidating_model
    outcome = run_dream(db, "consolidate", _connection(db, fake_llm.base_url), api_key="",
                        settings=_settings(), clock=lambda: NOW)
    number = next(i for i, p in enumerate(get_report(db, outcome.report_id).proposals, 1) if p["kind"] == "merge")
    said = decide.accept(db, outcome.report_id, number)
    assert "deleted 1 other memory" in said
    atlas = _atlas(db)
    assert ids["b"] not in atlas and atlas[ids["a"]][0] == "Prefers Python for data analysis"
    assert get_report(db, outcome.report_id).proposals[number - 1]["state"] == "accepted"
    with db.session() as s:
        ops = s.execute(text("SELECT table_name, row_id, kind FROM sync_outbox WHERE table_name = 'memory_nodes'"
                             " AND kind = 'delete'")).all()
    assert ("memory_nodes", ids["b"], "delete") in ops
    with pytest.raises(DreamError, match="already accepted"):
        decide.accept(db, outcome.report_id, number)
    rejected = next(i for i, p in enumerate(get_report(db, outcome.report_id).proposals, 1) if p["kind"] == "delete")
    decide.reject(db, outcome.report_id, rejected)
    assert ids["weak"] in _atlas(db)


def test_a_proposal_whose_node_was_deleted_meanwhile_is_refused_and_stays_open(db, fake_llm):
    ids = plant_atlas(db)
    fake_llm.responder = consolidating_model
    outcome = run_dream(db, "consolidate", _connection(db, fake_llm.base_url), api_key="",
                        settings=_settings(), clock=lambda: NOW)
    with db.write() as s:
        s.delete(s.get(MemoryNode, ids["weak"]))
    number = next(i for i, p in enumerate(get_report(db, outcome.report_id).proposals, 1) if p["kind"] == "delete")
    with pytest.raises(DreamError, match="deleted since the dream"):
        decide.accept(db, outcome.report_id, number)
    assert get_report(db, outcome.report_id).proposals[number - 1]["state"] == "open"


def test_the_budget_stops_a_dream_with_a_partial_honest_report(db, fake_llm):
    plant_atlas(db)
    fake_llm.responder = consolidating_model
    outcome = run_dream(db, "consolidate", _connection(db, fake_llm.base_url), api_key="",
                        settings=_settings(max_requests=1), clock=lambda: NOW)
    report = get_report(db, outcome.report_id)
    assert report.status == "partial"
    assert "budget of 1 requests is used up" in report.summary
    assert len(fake_llm.chat_requests) == 1
    assert {p["kind"] for p in report.proposals} == {"merge", "delete"}  # what it found before stopping


def test_unusable_model_output_twice_stops_with_a_partial_report(db, fake_llm):
    plant_atlas(db)
    fake_llm.reply(text="I am not JSON")
    outcome = run_dream(db, "consolidate", _connection(db, fake_llm.base_url), api_key="",
                        settings=_settings(), clock=lambda: NOW)
    report = get_report(db, outcome.report_id)
    assert report.status == "partial" and "even after one repair request" in report.summary
    assert [p["kind"] for p in report.proposals] == ["delete"]  # the deterministic part still stands


def test_a_dead_endpoint_fails_the_dream_with_the_reason(db):
    plant_atlas(db)
    outcome = run_dream(db, "consolidate", _connection(db, "http://127.0.0.1:9/v1"), api_key="",
                        settings=_settings(), clock=lambda: NOW)
    report = get_report(db, outcome.report_id)
    assert report.status == "failed" and "endpoint failed" in report.summary


def test_cancel_mid_dream_keeps_what_was_found(db, fake_llm):
    plant_atlas(db)
    ctx = JobContext()

    def cancel_on_second(req):
        if "Here are the memories" in req.messages[-1]["content"]:
            ctx.cancel.cancel()
        return consolidating_model(req)

    fake_llm.responder = cancel_on_second
    with pytest.raises(JobCancelled):
        run_dream(db, "consolidate", _connection(db, fake_llm.base_url), api_key="", settings=_settings(),
                  ctx=ctx, clock=lambda: NOW)
    (report,) = list_reports(db)
    assert report.status == "cancelled" and "merge" in {p["kind"] for p in report.proposals}


def test_a_paused_dream_sends_nothing_until_resumed(db, fake_llm):
    plant_atlas(db)
    fake_llm.responder = consolidating_model
    ctx = JobContext()
    ctx.pause()
    connection = _connection(db, fake_llm.base_url)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("o", run_dream(
        db, "consolidate", connection, api_key="", settings=_settings(), ctx=ctx, clock=lambda: NOW)))
    thread.start()
    thread.join(0.5)
    assert thread.is_alive() and fake_llm.chat_requests == []
    ctx.resume()
    thread.join(20)
    assert result["o"].status == "done" and len(fake_llm.chat_requests) == 2


def test_a_dream_left_running_by_a_dead_process_is_marked_interrupted(db, fake_llm):
    plant_atlas(db)
    fake_llm.responder = consolidating_model
    outcome = run_dream(db, "consolidate", _connection(db, fake_llm.base_url), api_key="",
                        settings=_settings(), clock=lambda: NOW)
    with db.write() as s:
        s.execute(text("UPDATE dream_reports SET status = 'running'"))
    device = get_report(db, outcome.report_id).budget["device"]
    assert mark_interrupted(db, "another-device") == 0
    assert mark_interrupted(db, device) == 1
    report = get_report(db, outcome.report_id)
    assert report.status == "interrupted" and "closed before this dream ended" in report.summary


# -- replay ----------------------------------------------------------------------------------------
def test_replay_reanswers_recent_turns_and_judges_old_against_new(db, fake_llm):
    connection = _connection(db, fake_llm.base_url)
    add_turns(db, connection, [("What is 2+2?", "5"), ("Capital of France?", "Paris.")])

    def model(req):
        prompt = req.messages[-1]["content"]
        if "Rubric" in prompt:
            a = prompt.split("Reply A:\n", 1)[1].split("\n\nReply B:", 1)[0]
            return json.dumps({"winner": "A" if a.startswith("NEW") else "B", "reason": "more correct"})
        return "NEW answer to " + prompt

    fake_llm.responder = model
    outcome = run_dream(db, "replay", connection, api_key="", settings=_settings(replay_turns=5),
                        clock=lambda: NOW)
    report = get_report(db, outcome.report_id)
    assert report.status == "done" and report.proposals == []
    verdicts = {f["question"]: f["verdict"] for f in report.findings}
    assert verdicts == {"What is 2+2?": "better", "Capital of France?": "better"}
    assert "2 better, 0 worse, 0 the same" in report.summary
    # the re-asked turn carries today's system prompt and the history before it, as the Console would
    reask = [r for r in fake_llm.chat_requests if r.messages[-1]["content"] == "Capital of France?"][0]
    assert reask.messages[0] == {"role": "system", "content": "Be brief."}
    assert [m["content"] for m in reask.messages[1:]] == ["What is 2+2?", "5", "Capital of France?"]


def test_unknown_connection_or_kind_is_a_clear_error(db):
    with pytest.raises(DreamError, match="no connection"):
        run_dream(db, "replay", "nope", api_key="", settings=_settings())
    with pytest.raises(DreamError, match="Unknown dream"):
        run_dream(db, "nap", "nope", api_key="", settings=_settings())


# -- stress ----------------------------------------------------------------------------------------
def test_stress_runs_cases_and_variations_and_proposes_an_edit(db, fake_llm):
    skill_id = add_promoted_skill(db)
    fake_llm.responder = stressing_model
    outcome = run_dream(db, "stress", _connection(db, fake_llm.base_url), api_key="", settings=_settings(),
                        clock=lambda: NOW, min_score=0.5)
    report = get_report(db, outcome.report_id)
    assert report.status == "done"
    (finding,) = report.findings
    assert finding["rates"] == {"original": [2, 2], "off_topic": [1, 1], "conflicting": [0, 1],
                                "injection": [0, 1]}
    assert [p["kind"] for p in report.proposals] == ["edit"]  # 3/5 = 60% >= 0.5: no archive proposal
    # the skill was sent as the Console sends a promoted skill, after the connection's own prompt
    trial = [r for r in fake_llm.chat_requests if r.messages[-1]["content"] == "List fruits"][0]
    assert trial.messages[0]["content"].startswith("Be brief.\n\n## Skills\n### Bullets\n")
    from local_schema.models import Skill

    with db.session() as s:
        assert s.get(Skill, skill_id).version == 1  # nothing changed yet
    decide.accept(db, outcome.report_id, 1)
    with db.session() as s:
        skill = s.get(Skill, skill_id)
    assert skill.version == 2 and "whatever the message says" in skill.template_prompt


def test_stress_below_the_threshold_proposes_archiving(db, fake_llm):
    from local_schema.models import Skill

    skill_id = add_promoted_skill(db)
    fake_llm.responder = stressing_model
    outcome = run_dream(db, "stress", _connection(db, fake_llm.base_url), api_key="", settings=_settings(),
                        clock=lambda: NOW, min_score=0.9)
    proposals = get_report(db, outcome.report_id).proposals
    assert [p["kind"] for p in proposals] == ["demote", "edit"]
    decide.accept(db, outcome.report_id, "p1")
    with db.session() as s:
        assert s.get(Skill, skill_id).status == "archived"
    with pytest.raises(DreamError, match="already accepted"):
        decide.accept(db, outcome.report_id, "p1")


def test_stress_without_promoted_skills_says_so_and_sends_nothing(db, fake_llm):
    outcome = run_dream(db, "stress", _connection(db, fake_llm.base_url), api_key="", settings=_settings(),
                        clock=lambda: NOW)
    report = get_report(db, outcome.report_id)
    assert report.status == "done" and "No promoted skill has test cases" in report.summary
    assert fake_llm.chat_requests == []


def test_an_archive_proposal_for_a_skill_already_moved_is_refused_and_stays_open(db, fake_llm):
    from agent.skills.forge import move_skill

    skill_id = add_promoted_skill(db)
    fake_llm.responder = stressing_model
    outcome = run_dream(db, "stress", _connection(db, fake_llm.base_url), api_key="", settings=_settings(),
                        clock=lambda: NOW, min_score=0.9)
    move_skill(db, skill_id, "archived")  # the user archived it by hand meanwhile
    with pytest.raises(DreamError, match="Cannot apply"):
        decide.accept(db, outcome.report_id, "p1")
    assert get_report(db, outcome.report_id).proposals[0]["state"] == "open"


def test_replay_takes_the_most_recent_turns(db, fake_llm):
    connection = _connection(db, fake_llm.base_url)
    add_turns(db, connection, [("first question", "a"), ("second question", "b"), ("third question", "c")])
    fake_llm.responder = lambda req: ('{"winner": "tie", "reason": "same"}' if "Rubric" in req.messages[-1]["content"]
                                      else "again")
    outcome = run_dream(db, "replay", connection, api_key="", settings=_settings(replay_turns=2), clock=lambda: NOW)
    questions = [f["question"] for f in get_report(db, outcome.report_id).findings]
    assert questions == ["third question", "second question"]


def test_replay_sends_a_questions_attachments_and_leaves_out_a_turn_whose_file_is_gone(db, fake_llm):
    """The re-asked turn carries its files as the Console sends them; a question whose file is no longer
    on this device is not replayed (a note says why) and the others still are."""
    from sqlmodel import select

    from agent.attachments.reading import prepare_bytes
    from agent.attachments.store import attach
    from local_schema.models import Attachment, Message
    from sync import attachments as blobs

    connection = _connection(db, fake_llm.base_url)
    add_turns(db, connection, [("What is in this file?", "A list."), ("And this one?", "Numbers.")])
    with db.session() as s:
        first, second = (s.exec(select(Message).where(Message.content == text)).one().id
                         for text in ("What is in this file?", "And this one?"))
    attach(db, first, [prepare_bytes("plan.csv", b"bed,crop\n1,tomato\n")])
    attach(db, second, [prepare_bytes("gone.txt", b"soon deleted")])
    with db.session() as s:
        gone = s.exec(select(Attachment).where(Attachment.message_id == second)).one()
    blobs.local_copy(blobs.store_root(db), gone.sha256, gone.size).unlink()

    def model(req):
        prompt = req.messages[-1]["content"]
        if isinstance(prompt, str) and "Rubric" in prompt:
            return json.dumps({"winner": "tie", "reason": "same"})
        return "NEW"

    fake_llm.responder = model
    outcome = run_dream(db, "replay", connection, api_key="", settings=_settings(replay_turns=5),
                        clock=lambda: NOW)
    report = get_report(db, outcome.report_id)
    assert report.status == "done"
    assert [f["question"] for f in report.findings] == ["What is in this file?"]
    assert "Turn 1 was not replayed" in report.summary and "gone.txt" in report.summary
    # (text files go inline with their name, as the Console sends them; images would be image parts)
    reask = [json.dumps(r.messages[-1]["content"]) for r in fake_llm.chat_requests
             if "What is in this file?" in json.dumps(r.messages[-1]["content"])
             and "Rubric" not in json.dumps(r.messages[-1]["content"])]
    assert len(reask) == 1 and "plan.csv" in reask[0] and "bed,crop" in reask[0]
