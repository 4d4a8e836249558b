"""Dream reports stay within what the server stores and what a person reads: proposals bounded when made
(count and jsonb bytes, whole or not at all), findings oldest-first out, a stress failure listed once
with its count. (The server's own check on a real PostgreSQL: tests/server/test_dream_report_size.py.)"""

from __future__ import annotations

from agent.dream.reports import (
    DECISION_BYTES,
    MAX_PROPOSALS,
    PROPOSALS_BYTES,
    REPORT_BYTES,
    DreamProgress,
    _fit,
    get_report,
)
from agent.dream.run import run_dream
from agent.dream.stress import count_lines
from agent.storable import jsonb_text_size
from standin.demo.dream import NOW, add_promoted_skill, plant_node
from tests.agent.test_dream import _connection, _settings, db  # noqa: F401


def test_count_lines_keeps_order_and_counts():
    assert count_lines(["b", "a", "b", "c", "b", "a"]) == ["b (×3)", "a (×2)", "c"]
    assert count_lines([]) == []


def test_proposals_past_the_count_or_the_bytes_are_left_out_whole():
    progress = DreamProgress()
    for i in range(MAX_PROPOSALS + 5):
        progress.propose("delete", f"Delete {i}", node_id=f"n{i}")
    assert len(progress.proposals) == MAX_PROPOSALS and progress.left_out == 5
    assert "5 more proposals were left out" in progress.size_note()

    big = DreamProgress()
    label = "ü" * 2000  # 4,000 bytes
    while big.left_out == 0:
        big.propose("reword", "Reword", node_id="n", old_label=label, label=label)
    assert all(p["label"] == label for p in big.proposals)  # never cut
    room = jsonb_text_size(big.proposals) + DECISION_BYTES * len(big.proposals)
    assert room <= PROPOSALS_BYTES
    assert big.propose("delete", "small", node_id="n") is not None  # a small one still fits
    assert big.size_note().startswith("1 more proposal was left out")


def test_findings_fill_what_is_left_and_the_oldest_go_first():
    findings = [{"kind": "replay", "n": i, "new": "中" * 2000} for i in range(100)]  # ~6 kB each
    proposals = [{"id": "p1", "kind": "delete", "state": "open", "node_id": "x", "label": "ä" * 2000}]
    kept, same = _fit(findings, proposals, {"requests": 1})
    assert same == proposals and kept == findings[-len(kept):] and 50 < len(kept) < 100
    total = sum(jsonb_text_size(v) for v in (kept, proposals, {"requests": 1}))
    assert total + DECISION_BYTES <= REPORT_BYTES
    unstorable = [{"kind": "x", "text": "bad\x00"}, {"kind": "y", "text": "fine"}]
    assert _fit(unstorable, [], {})[0] == [{"kind": "y", "text": "fine"}]


def test_a_stress_failure_repeated_over_cases_is_one_line_with_its_count(db, fake_llm):  # noqa: F811
    add_promoted_skill(db)

    def model(req):
        prompt = req.messages[-1]["content"]
        if "test prompts, numbered" in prompt:
            return '{"variations": []}'
        if "Rewrite the skill's instructions" in prompt:
            return '{"template_prompt": "Use bullets."}'
        return "no bullets here"  # both cases fail the same check

    fake_llm.responder = model
    outcome = run_dream(db, "stress", _connection(db, fake_llm.base_url), api_key="", settings=_settings(),
                        clock=lambda: NOW, min_score=0.5)
    report = get_report(db, outcome.report_id)
    (finding,) = report.findings
    assert finding["failures"] == ['original: contains "•" (×2)']
    assert [p["reason"] for p in report.proposals] == ['original: contains "•" (×2)'] * 2  # demote, edit
    revision = next(r for r in fake_llm.chat_requests if "Rewrite the skill" in r.messages[-1]["content"])
    assert revision.messages[-1]["content"].count('contains "•"') == 1


def test_a_dream_proposes_at_most_fifty_weak_deletions(db, fake_llm):  # noqa: F811
    for i in range(60):
        plant_node(db, f"Forgotten thing {i} {chr(65 + i % 26)}", 0.05, days_ago=120)
    fake_llm.responder = lambda req: '{"pairs": [], "contradictions": [], "unclear": []}'
    outcome = run_dream(db, "consolidate", _connection(db, fake_llm.base_url), api_key="", settings=_settings(),
                        clock=lambda: NOW)
    report = get_report(db, outcome.report_id)
    assert [p["kind"] for p in report.proposals] == ["delete"] * 50
    assert "10 more weak memories are left for the next dream." in report.summary


def test_a_hand_edited_dream_json_with_nan_or_infinity_gets_defaults(tmp_path):
    from agent.dream.settings import DreamSettings, load_settings

    (tmp_path / "dream.json").write_text('{"max_requests": Infinity, "max_chars": 1e400, "idle_minutes": NaN, '
                                         '"replay_turns": -Infinity}')
    settings = load_settings(tmp_path).validated()
    defaults = DreamSettings()
    assert (settings.max_requests, settings.max_chars, settings.idle_minutes, settings.replay_turns) == (
        defaults.max_requests, defaults.max_chars, defaults.idle_minutes, defaults.replay_turns)
