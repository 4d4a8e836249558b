"""A dream report always fits the server's 500 kB check (dream_reports_size), whatever the model sends:
proposals are bounded when they are made, measured in jsonb bytes as PostgreSQL counts them. A dream
against the fake model answering ~380,000 characters of rewordings (3 bytes each in UTF-8) is stored
locally, then inserted on the real server schema as the sync would push it — and decided on."""

from __future__ import annotations

import json

import psycopg

from agent.dream import decide
from agent.dream.reports import MAX_PROPOSALS, REPORT_BYTES, get_report
from agent.dream.run import run_dream
from agent.storable import jsonb_text_size
from local_schema.database import open_database
from standin.demo.dream import NOW, plant_node
from tests.agent.test_dream import _connection, _settings
from tests.server.rows import make, patch

NODES = 60
LONG_LABEL = "日本語の長い言い換え" * 199  # 1,990 characters, 5,970 bytes


def rewording_model(req):
    prompt = req.messages[1]["content"]
    if "look alike" in prompt:
        return json.dumps({"pairs": []})
    # one wordy rewording per number, several per node: a 385 kB reply, as in the report that never synced
    return json.dumps({"contradictions": [], "unclear": [{"node": 1 + i % NODES, "label": f"{i} {LONG_LABEL}"}
                                                         for i in range(190)]}, ensure_ascii=False)


def test_a_huge_answer_makes_a_report_the_server_accepts(tmp_path, fake_llm, alice, server_db):
    db = open_database(tmp_path / "local.sqlite3")
    try:
        for i in range(NODES):
            plant_node(db, f"Memory number {i} about topic {chr(65 + i % 26)}{i}")
        fake_llm.responder = rewording_model
        outcome = run_dream(db, "consolidate", _connection(db, fake_llm.base_url), api_key="",
                            settings=_settings(), clock=lambda: NOW)
        report = get_report(db, outcome.report_id)
        assert outcome.status == "done"
        assert len(report.proposals) < 190  # some were left out
        assert len(report.proposals) <= MAX_PROPOSALS and all(p["kind"] == "reword" for p in report.proposals)
        assert "more proposals were left out to keep the report within the size it can sync" in report.summary
        assert all(p["label"].endswith(LONG_LABEL) for p in report.proposals)  # kept whole, never cut
        ours = sum(jsonb_text_size(v) for v in (report.budget, report.findings, report.proposals))
        assert ours <= REPORT_BYTES

        columns = {"budget": report.budget, "findings": report.findings, "proposals": report.proposals}
        with psycopg.connect(server_db) as conn:
            measured = conn.execute("select octet_length(%s::jsonb::text) + octet_length(%s::jsonb::text)"
                                    " + octet_length(%s::jsonb::text)",
                                    [json.dumps(v) for v in columns.values()]).fetchone()[0]
        assert measured == ours
        row = make(alice, "dream_reports", status=report.status, summary=report.summary, **columns)
        # every proposal decided: still within the limit
        for proposal in report.proposals:
            decide.reject(db, report.id, proposal["id"])
        decided = get_report(db, report.id)
        assert patch(alice, "dream_reports", row["id"], proposals=decided.proposals) is not None
    finally:
        db.close()
