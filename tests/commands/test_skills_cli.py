"""`mirari skills …` driven as a user would, against the fake OpenAI endpoint: suggest, list, move,
edit, test, delete, threshold — one-line errors, non-zero exits, JSON keyed by the table's columns."""

import json
import os
import subprocess
import sys
from pathlib import Path

from local_schema.models import all_columns
from tests.commands.conftest import one_error_line
from tests.portable import needs_posix_signals

SKILL_PROMPT = "Answer with bullets that start with •."
DRAFT = {"name": "Bullet answers", "description": "For summaries.", "category": "writing",
         "template_prompt": SKILL_PROMPT,
         "test_cases": [{"prompt": "Summarise: tea is nice.", "expectations": [{"kind": "contains", "value": "•"}]},
                        {"prompt": "Say hi.", "expectations": [{"kind": "max_chars", "value": 30}]}]}


def skill_aware(request):
    """Drafts for Suggest Skill; test replies that follow the skill only when its prompt is present."""
    if "response_format" in request.body or "design reusable skills" in request.messages[0]["content"]:
        return json.dumps(DRAFT)
    system = next((m["content"] for m in request.messages if m["role"] == "system"), "")
    return "• tea\n• nice" if SKILL_PROMPT in system else "Tea is nice."


def connection(mirari, fake_llm) -> str:
    result = mirari("connections", "add", "--name", "Fake Hermes", "--base-url", fake_llm.base_url,
                    "--model", "fake-model")
    assert result.code == 0, result.err
    return result.out.strip()


def only_skill(mirari) -> dict:
    [row] = json.loads(mirari("skills", "list", "--json").out)
    return row


def test_the_whole_forge_from_the_command_line(mirari, fake_llm):
    fake_llm.responder = skill_aware
    cid = connection(mirari, fake_llm)
    suggested = mirari("skills", "suggest", "--connection", cid[:8], "--context", "I ask for summaries a lot.")
    assert suggested.code == 0, suggested.err
    assert suggested.out.startswith("suggested ") and "Bullet answers (writing, 2 test case(s))" in suggested.out
    assert "I ask for summaries a lot." in fake_llm.chat_requests[-1].messages[-1]["content"]

    row = only_skill(mirari)
    assert set(row) == set(all_columns("skills")) | {"test_state", "next_status"}
    assert (row["status"], row["version"], row["test_state"], row["next_status"]) == ("suggested", 1, "none",
                                                                                     "accepted")
    assert row["test_cases"] == DRAFT["test_cases"] and row["last_test"] is None
    sid = row["id"][:8]

    assert "can move only to accepted" in one_error_line(mirari("skills", "move", sid, "promoted"))
    assert mirari("skills", "move", sid, "accepted").out.startswith(f"{sid} is now accepted")
    assert "Run the skill's tests first" in one_error_line(mirari("skills", "move", sid, "testing"))

    before = len(fake_llm.chat_requests)
    tested = mirari("skills", "test", sid, "--connection", cid, "--runs", "2")
    assert tested.code == 0, tested.err
    assert len(fake_llm.chat_requests) - before == 2 * 2 * 2
    assert "with the skill 100%, without 50% (+50 points) over 2 case(s) × 2 run(s); score 1.00" in tested.out
    assert "test 1: 2/2 with, 0/2 without" in tested.out
    row = only_skill(mirari)
    assert (row["score"], row["test_state"]) == (1.0, "current")
    assert (row["last_test"]["with_rate"], row["last_test"]["without_rate"], row["last_test"]["delta"]) == (1.0, 0.5,
                                                                                                        0.5)
    mirari("skills", "move", sid, "testing")
    promoted = mirari("skills", "move", sid, "promoted")
    assert (promoted.code, promoted.err) == (0, "")
    assert only_skill(mirari)["status"] == "promoted"

    edited = mirari("skills", "edit", sid, "--prompt", SKILL_PROMPT + " Keep it short.", "--category", "style")
    assert edited.out.strip().endswith("version 2")
    row = only_skill(mirari)
    assert (row["version"], row["category"], row["test_state"]) == (2, "style", "stale")
    assert "Keep it short." in mirari("skills", "show", sid).out
    assert "Only a suggested skill can be dismissed" in one_error_line(mirari("skills", "delete", sid))


def test_promotion_threshold_is_a_setting_and_a_weak_skill_warns(mirari, fake_llm):
    fake_llm.responder = skill_aware
    cid = connection(mirari, fake_llm)
    mirari("skills", "suggest", "--connection", cid)
    sid = only_skill(mirari)["id"]
    fake_llm.responder = lambda request: "• the same reply, with or without the skill"  # 1 of 2 cases
    mirari("skills", "move", sid, "accepted")
    assert mirari("skills", "test", sid, "--connection", cid).code == 0
    mirari("skills", "move", sid, "testing")
    assert mirari("skills", "threshold").out == "0.70\n"
    assert mirari("skills", "threshold", "1.5").code != 0
    assert mirari("skills", "threshold", "0.95").out == "0.95\n"
    assert "at least 0.95" in one_error_line(mirari("skills", "move", sid, "promoted"))
    weak = mirari("skills", "move", sid, "promoted", "--min-score", "0.5")
    assert weak.code == 0 and weak.err.startswith("mirari: warning: The skill does not beat")


def test_failures_are_one_line_and_store_nothing(mirari, fake_llm, tmp_path):
    cid = connection(mirari, fake_llm)
    fake_llm.enqueue({"text": "A skill about summaries would be nice."}, {"text": '{"name": "No prompt"}'})
    message = one_error_line(mirari("skills", "suggest", "--connection", cid))
    assert '"template_prompt" is missing or empty' in message and "Nothing was stored" in message
    assert json.loads(mirari("skills", "list", "--json").out) == []
    assert one_error_line(mirari("skills", "suggest", "--connection", "nope")) == "no connection nope"
    assert one_error_line(mirari("skills", "move", "abcd", "accepted")) == "no skill abcd"

    fake_llm.enqueue({"text": json.dumps(DRAFT)})
    mirari("skills", "suggest", "--connection", cid)
    sid = only_skill(mirari)["id"]
    bad = tmp_path / "tests.json"
    bad.write_text('[{"prompt": "x", "expectations": [{"kind": "regex", "value": "(("}]}]')
    assert "does not compile" in one_error_line(mirari("skills", "edit", sid, "--tests", str(bad)))
    bad.write_text("[not json")
    assert "not valid JSON" in one_error_line(mirari("skills", "edit", sid, "--tests", str(bad)))
    assert "nothing to change" in one_error_line(mirari("skills", "edit", sid))
    assert "limit is 20,000" in one_error_line(mirari("skills", "edit", sid, "--prompt", "x" * 20_001))
    fake_llm.enqueue({"status": 500})
    assert "A test request failed" in one_error_line(mirari("skills", "test", sid, "--connection", cid))
    row = only_skill(mirari)
    assert (row["version"], row["last_test"], row["test_cases"]) == (1, None, DRAFT["test_cases"])

    assert mirari("skills", "delete", sid[:8]).out.startswith(f"deleted {sid[:8]}")
    assert json.loads(mirari("skills", "list", "--json").out) == []
    assert mirari("skills", "list").out == "no skills yet: try `mirari skills suggest --connection ID`\n"


def test_a_real_process_exits_non_zero_with_one_line(tmp_path):
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "mirari", "--data-dir", str(tmp_path / "d"), "skills", "move",
                           "abcdef", "promoted"], cwd=root, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == "mirari: error: no skill abcdef\n"


@needs_posix_signals
def test_ctrl_c_cancels_a_test_run_and_stores_nothing(mirari, fake_llm):
    import signal

    fake_llm.responder = skill_aware
    cid = connection(mirari, fake_llm)
    mirari("skills", "suggest", "--connection", cid)
    sid = only_skill(mirari)["id"]
    fake_llm.responder = lambda request: {"text": "• a slow reply", "token_delay": 0.5}
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "mirari", "--data-dir", str(mirari.data_dir), "skills",
                             "test", sid, "--connection", cid], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    try:
        fake_llm.wait_for_requests(len(fake_llm.requests) + 1, timeout=30)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert (proc.returncode, out) == (130, "")
    assert err == "mirari: error: cancelled; nothing was stored\n"
    row = only_skill(mirari)
    assert (row["last_test"], row["score"]) == (None, 0.0)
