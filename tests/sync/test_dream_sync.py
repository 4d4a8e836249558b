"""A dream's accepted merge, and the report with the decision, reach a second device through sync."""

from __future__ import annotations

from agent.dream import decide
from agent.dream.reports import get_report, list_reports
from agent.dream.run import run_dream
from local_schema.models import AgentConnection
from standin.demo.dream import DUP_A, DUP_B, NOW, consolidating_model, plant_atlas
from tests.agent.test_dream import _settings


def test_an_accepted_merge_syncs_to_the_second_device(devices, fake_llm):
    a, b = devices("a"), devices("b")
    with a.db.write() as s:
        connection = AgentConnection(name="Dreamer", provider="custom", base_url=fake_llm.base_url, model="m")
        s.add(connection)
    ids = plant_atlas(a.db)
    a.sync()
    b.sync()
    assert {r["label"] for r in b.rows("memory_nodes").values()} >= {DUP_A, DUP_B}

    fake_llm.responder = consolidating_model
    outcome = run_dream(a.db, "consolidate", connection.id, api_key="", settings=_settings(), clock=lambda: NOW)
    a.sync()
    b.sync()
    (seen,) = list_reports(b.db)  # the report reached b before anything was decided
    assert seen.id == outcome.report_id and all(p["state"] == "open" for p in seen.proposals)
    assert ids["b"] in b.rows("memory_nodes")  # and the Atlas is untouched on both devices

    number = next(i for i, p in enumerate(get_report(a.db, outcome.report_id).proposals, 1) if p["kind"] == "merge")
    decide.accept(a.db, outcome.report_id, number)
    a.sync()
    b.sync()
    nodes = b.rows("memory_nodes")
    assert ids["b"] not in nodes  # the dropped duplicate is gone on b too
    assert nodes[ids["a"]]["label"] == "Prefers Python for data analysis"
    assert get_report(b.db, outcome.report_id).proposals[number - 1]["state"] == "accepted"
    assert a.snapshot()["memory_nodes"] == nodes
