"""Check constraints reject bad values with 23514 (PostgREST: 400) and accept the boundaries."""

from __future__ import annotations

import pytest
from psycopg import errors

from tests.server.rows import make, patch


def _payload(**overrides):
    return {"skills": [{"name": "s"}], "seed_memory": [{"label": "m", "strength": 0.6}], **overrides}


BAD = [
    ("agent_connections", {"provider": "openai"}),
    ("agent_connections", {"status": "busy"}),
    ("agent_connections", {"name": "x" * 501}),
    ("agent_connections", {"base_url": "http://" + "x" * 2048}),
    ("agent_connections", {"system_prompt": "x" * 200_001}),
    ("conversations", {"title": "x" * 501}),
    ("messages", {"role": "tool"}),
    ("messages", {"content": "x" * 200_001}),
    ("memory_nodes", {"strength": 1.01}),
    ("memory_nodes", {"strength": -0.01}),
    ("memory_nodes", {"label": "x" * 2001}),
    ("skills", {"status": "done"}),
    ("skills", {"score": 1.5}),
    ("skills", {"score": -1}),
    ("skills", {"template_prompt": "x" * 20_001}),
    ("mirror_reports", {"strengths": {"not": "a list"}}),
    ("mirror_reports", {"recommendations": ["x" * 200_001]}),
    ("mirror_reports", {"details": ["not", "an object"]}),
    ("mirror_reports", {"details": {"logs": "x" * 100_001}}),
    ("mirror_reports", {"previous_prompt": "x" * 200_001}),
    ("tasks", {"status": "blocked"}),
    ("tasks", {"title": "x" * 501}),
    ("templates", {"payload": ["skills", "seed_memory"]}),
    ("templates", {"payload": {"skills": []}}),
    ("templates", {"payload": {"skills": {}, "seed_memory": []}}),
    ("templates", {"payload": _payload(skills=["just a string"])}),
    ("templates", {"payload": _payload(skills=[{"description": "no name"}])}),
    ("templates", {"payload": _payload(skills=[{"name": 7}])}),
    ("templates", {"payload": _payload(seed_memory=[{"category": "fact"}])}),
    ("templates", {"payload": _payload(seed_memory=[{"label": ["x"]}])}),
    ("templates", {"payload": _payload(skills=[{"name": "s", "template_prompt": "x" * 1_000_000}])}),
]


@pytest.mark.parametrize(("table", "values"), BAD, ids=[f"{t}-{next(iter(v))}-{i}" for i, (t, v) in enumerate(BAD)])
def test_bad_values_are_rejected_on_insert_and_update(alice, table, values):
    with pytest.raises(errors.CheckViolation):
        make(alice, table, **values)
    row = make(alice, table)
    with pytest.raises(errors.CheckViolation):
        patch(alice, table, row["id"], **values)


def test_version_below_one_is_rejected_on_insert(alice):
    """(On UPDATE the version is server-owned and a sent value is ignored; see test_server_columns.)"""
    with pytest.raises(errors.CheckViolation):
        make(alice, "skills", version=0)


def test_missing_required_values_are_rejected(alice):
    with pytest.raises(errors.NotNullViolation):
        make(alice, "agent_connections", model=None)
    with pytest.raises(errors.NotNullViolation):
        make(alice, "messages", content=None)


def test_boundary_values_are_accepted(alice):
    assert make(alice, "memory_nodes", strength=0.0, label="x" * 2000)["strength"] == 0.0
    assert make(alice, "memory_nodes", strength=1.0)["strength"] == 1.0
    assert make(alice, "skills", score=1.0, name="x" * 500, template_prompt="x" * 20_000)["score"] == 1.0
    assert make(alice, "messages", content="x" * 200_000, role="assistant")["role"] == "assistant"
    for provider in ("hermes", "openrouter", "nous", "custom"):
        for status in ("online", "offline", "error"):
            make(alice, "agent_connections", provider=provider, status=status, base_url="", model="")
    for status in ("suggested", "accepted", "testing", "promoted", "archived"):
        make(alice, "skills", status=status)
    for status in ("pending", "in_progress", "done"):
        make(alice, "tasks", status=status)
    template = make(alice, "templates", payload=_payload(extra={"kept": True}))
    assert template["payload"]["extra"] == {"kept": True}
    report = make(alice, "mirror_reports", strengths=["clear"], weaknesses=[], recommendations=[{"text": "x"}])
    assert report["strengths"] == ["clear"]
    assert (report["details"], report["previous_prompt"], report["applied_at"]) == ({}, None, None)
    claim = {"text": "Answers are short", "evidence": [{"quote": "ok", "verified": True}], "verified": True}
    report = make(alice, "mirror_reports", strengths=[claim], details={"memory_used": []},
                  previous_prompt="x" * 200_000, applied_at="2026-11-30T16:00:00+00:00")
    assert report["strengths"] == [claim] and report["details"] == {"memory_used": []}
    assert report["applied_at"].isoformat() == "2026-11-30T16:00:00+00:00"
