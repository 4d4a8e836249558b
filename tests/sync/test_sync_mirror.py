"""A Mirror report made on one device reaches another with its evidence and details; Apply on one device
and Undo on the other travel through sync like any edit."""

from __future__ import annotations

import json

from agent.mirror import review
from agent.mirror.request import ReviewSpec
from local_schema.models import AgentConnection, Conversation, Message, MirrorReport


def test_a_report_made_on_one_device_appears_on_another_and_apply_undo_follow(devices, fake_llm):
    a, b = devices("a"), devices("b")
    with a.db.write() as s:
        conn = AgentConnection(name="Hermes", provider="custom", base_url=fake_llm.base_url, model="fake-model",
                               system_prompt="Be brief.")
        thread = Conversation(title="Retry helper", agent_connection_id=conn.id)
        s.add_all([conn, thread])
        s.flush()
        s.add(Message(conversation_id=thread.id, role="assistant", content="I will retry with backoff, five times."))
    fake_llm.reply(text=json.dumps({
        "strengths": [{"claim": "States the policy", "evidence": ["I will retry with backoff"]}],
        "weaknesses": [], "recommendations": [{"claim": "Ask first", "evidence": ["not in the logs at all"]}],
        "suggested_prompt": "Be brief. Ask before assuming."}))
    report_id = review.run_review(a.db, ReviewSpec("Week 1", conn.id, [thread.id]), api_key="").report_id
    review.apply_prompt(a.db, report_id)
    a.sync()
    b.sync()

    with b.session() as s:
        report = s.get(MirrorReport, report_id)
        assert report.title == "Week 1" and report.agent_connection_id == conn.id
        assert report.strengths[0]["evidence"] == [{"quote": "I will retry with backoff", "verified": True}]
        assert report.recommendations[0]["verified"] is False
        assert report.details["reviewer"]["name"] == "Hermes"
        assert report.details["logs"]["sources"][0]["title"] == "Retry helper"
        assert (report.previous_prompt, report.applied_at is not None) == ("Be brief.", True)
        assert s.get(AgentConnection, conn.id).system_prompt == "Be brief. Ask before assuming."

    review.undo_prompt(b.db, report_id)  # undone on the other device
    b.sync()
    a.sync()
    with a.session() as s:
        assert s.get(AgentConnection, conn.id).system_prompt == "Be brief."
        report = s.get(MirrorReport, report_id)
        assert (report.previous_prompt, report.applied_at) == (None, None)
    assert a.rows("mirror_reports") == b.rows("mirror_reports")

    review.delete_report(a.db, report_id)
    a.sync()
    b.sync()
    with b.session() as s:
        assert s.get(MirrorReport, report_id) is None  # a pulled tombstone removes the local row
        assert review.list_reports_in(s) == []
