"""A dream report synced with odd field types (numbers where text is expected, nulls, nested lists) is
read in the shape its readers expect, and applying a malformed proposal is a sentence, never a database
library's error; the row itself is not rewritten by reading it."""

from __future__ import annotations

import json

import pytest
from mirari.main import main

from agent.dream import decide
from agent.dream.report_shape import proposal_problem, readable
from agent.dream.reports import DreamError, get_report, list_reports
from local_schema.database import open_database
from local_schema.models import DreamReport, MemoryNode
from sync.accounts import active_database_path

ODD_FINDINGS = [
    {"kind": "weak", "text": 42, "node_ids": [1, None, ["x"]]},
    {"kind": "replay", "verdict": ["better"], "question": None, "old": 3.5, "new": {"a": 1}, "reason": 7},
    {"kind": "stress", "text": None, "failures": [["nested"], 5, "original: contains \"•\"",
                                                   "original: contains \"•\""], "rate": "high",
     "rates": {"original": "2/2"}},
    "a bare sentence",
    17,
    None,
    [["deep", ["deeper"]]],
]


def odd_proposals(node_id: str) -> list:
    return [
        {"id": "p1", "kind": "delete", "state": "open", "title": 5, "node_id": [node_id], "label": None},
        {"id": "p2", "kind": "merge", "state": "open", "title": ["Merge"], "keep_id": 12, "drop_ids": "abc",
         "labels": [1, None, "text"], "reason": {"why": "x"}},
        {"id": "p3", "kind": "reword", "state": "open", "title": "Reword it", "node_id": node_id, "label": 3,
         "old_label": 99},
        {"id": "p4", "kind": "edit", "state": "open", "title": None, "skill_id": None, "template_prompt": 1.5,
         "old_template_prompt": ["x"], "reason": 1e300},
        {"id": "p5", "kind": "delete", "state": "open", "title": "Delete the weak one", "node_id": node_id},
        {"id": "p6", "kind": "delete", "state": "open", "title": "x", "node_id": {"x": 1}},  # was InvalidRequestError
    ]


def plant(db) -> tuple[str, str]:
    with db.write() as s:
        node = MemoryNode(label="Once asked about knitting", strength=0.1)
        s.add(node)
        report = DreamReport(kind="consolidate", status="done", started_at="2026-11-30T12:00:00.000000+00:00",
                             summary="Odd", budget={"requests": "two", "max_requests": None, "chars": [1],
                                                    "max_chars": 10, "device": 5},
                             findings=ODD_FINDINGS, proposals=odd_proposals(node.id))
        s.add(report)
    return report.id, node.id


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path / "local.sqlite3")
    yield database
    database.close()


def test_reading_shapes_every_field_and_writes_nothing(db):
    report_id, node_id = plant(db)
    report = get_report(db, report_id)
    assert report.budget == {"max_chars": 10}
    weak, replay, stress, sentence, number = report.findings
    assert weak == {"kind": "weak", "text": "42", "node_ids": ["1"]}
    assert replay == {"kind": "replay", "old": "3.5", "reason": "7"}
    assert stress["failures"] == ["5", 'original: contains "•"', 'original: contains "•"']
    assert "rate" not in stress and "rates" not in stress and "text" not in stress
    assert (sentence, number) == ({"kind": "note", "text": "a bare sentence"}, {"kind": "note", "text": "17"})
    p1, p2, p3, p4, p5, _p6 = report.proposals
    assert p1 == {"id": "p1", "kind": "delete", "state": "open", "title": "5"}  # a list is no id
    assert p2["keep_id"] == "12" and p2["drop_ids"] == ["abc"] and p2["labels"] == ["1", "text"]
    assert "reason" not in p2 and "title" not in p2
    assert (p3["label"], p3["old_label"]) == ("3", "99")
    assert "skill_id" not in p4 and p4["template_prompt"] == "1.5" and "old_template_prompt" not in p4
    assert p5["node_id"] == node_id
    assert [r.id for r in list_reports(db)] == [report_id]
    with db.session() as s:  # the stored row is untouched
        stored = s.get(DreamReport, report_id)
        assert stored.findings == ODD_FINDINGS and stored.proposals[0]["node_id"] == [node_id]


def test_applying_a_malformed_proposal_is_a_sentence_and_rejecting_it_works(db):
    report_id, node_id = plant(db)
    for ref, says in (("1", 'its "node_id" is not text'), ("p2", 'its "keep_id" is not text'),
                      ("3", 'its "label" is not text'), ("4", 'its "skill_id" is missing'),
                      ("6", 'its "node_id" is not text')):
        with pytest.raises(DreamError, match=f"Cannot apply proposal p{ref.lstrip('p')}: {says}.*reject it instead"):
            decide.accept(db, report_id, ref)
    assert decide.reject(db, report_id, "1") == "Rejected: 5"
    assert decide.reject(db, report_id, "p2") == "Rejected: the proposal"
    assert decide.accept(db, report_id, "5") == "Deleted “Once asked about knitting”."
    states = [p["state"] for p in get_report(db, report_id).proposals]
    assert states == ["rejected", "rejected", "open", "open", "accepted", "open"]


def test_proposal_problem_accepts_what_a_dream_writes():
    assert proposal_problem({"kind": "merge", "keep_id": "a", "drop_ids": ["b"], "label": "x"}) is None
    assert proposal_problem({"kind": "keep_one", "keep_id": "a", "drop_ids": ["b"]}) is None
    assert proposal_problem({"kind": "demote", "skill_id": "s", "to": "archived"}) is None
    assert proposal_problem({"kind": "edit", "skill_id": "s", "template_prompt": "p"}) is None
    assert proposal_problem({"kind": "tomorrows_kind"}) is None  # decide says it does not know it
    assert proposal_problem({"kind": 3}) == "it does not say what kind of change it is"


def test_a_report_whose_columns_are_not_lists_reads_as_empty(db):
    with db.write() as s:
        report = DreamReport(kind="replay", status="done", started_at="2026-11-30T12:00:00.000000+00:00",
                             budget=["x"], findings={"a": 1}, proposals="text")
        s.add(report)
    shaped = readable(report)
    assert (shaped.budget, shaped.findings, shaped.proposals) == ({}, [], [])
    assert get_report(db, report.id).proposals == []


def _cli(capsys, data_dir, *argv):
    code = main(["--data-dir", str(data_dir), "dream", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_line_shows_and_decides_odd_reports_with_sentences(tmp_path, capsys, memory_keyring):
    data_dir = tmp_path / "profile"
    data_dir.mkdir()
    db = open_database(active_database_path(data_dir))
    try:
        report_id, _node_id = plant(db)
    finally:
        db.close()
    code, out, err = _cli(capsys, data_dir, "show", report_id[:8])
    assert code == 0, err
    assert "1. [open] 5" in out and "• 42" in out and "a bare sentence" in out
    code, out, err = _cli(capsys, data_dir, "list", "--json")
    assert code == 0 and json.loads(out)[0]["budget"] == {"max_chars": 10}
    code, out, err = _cli(capsys, data_dir, "accept", report_id[:8], "1")
    assert code != 0 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mirari: error: Cannot apply proposal p1: its \"node_id\"")
    assert "sqlalchemy" not in err.lower() and "sqlite" not in err.lower()
    code, out, err = _cli(capsys, data_dir, "reject", report_id[:8], "1")
    assert code == 0 and out.strip() == "Rejected: 5"


def test_show_prints_a_revised_prompt_as_a_diff(tmp_path, capsys, memory_keyring):
    data_dir = tmp_path / "profile"
    data_dir.mkdir()
    db = open_database(active_database_path(data_dir))
    try:
        with db.write() as s:
            report = DreamReport(kind="stress", status="done", started_at="2026-11-30T12:00:00.000000+00:00",
                                 proposals=[{"id": "p1", "kind": "edit", "state": "open", "title": "Revise “Bullets”",
                                             "skill_id": "s1", "old_template_prompt": "Use bullets.\nBe brief.",
                                             "template_prompt": "Use bullets, always.\nBe brief."}])
            s.add(report)
    finally:
        db.close()
    code, out, err = _cli(capsys, data_dir, "show", report.id)
    assert code == 0, err
    assert "  1. [open] Revise “Bullets”\n       - Use bullets.\n       + Use bullets, always.\n         Be brief.\n" in out
