"""`mirari skills add`: a skill written by hand from the command line — the same function and checks as
the Forge's New skill (agent.skills.forge.create_skill), one-line errors, nothing stored on a problem."""

from __future__ import annotations

import io
import json

import pytest

from agent.skills.forge import SkillError, check_new_skill, create_skill
from local_schema.database import open_database
from tests.commands.conftest import one_error_line

CASES = [{"prompt": "Summarise: tea is nice.", "expectations": [{"kind": "contains", "value": "•"}]}]


def _listed(mirari) -> list[dict]:
    return json.loads(mirari("skills", "list", "--json").out)


def test_add_stores_a_suggestion_with_its_test_cases(mirari, tmp_path):
    tests = tmp_path / "cases.json"
    tests.write_text(json.dumps(CASES))
    added = mirari("skills", "add", "--name", "Bullet  summaries", "--prompt", "Answer in bullets starting with •.",
                   "--description", "For summaries.", "--category", "writing", "--tests", str(tests))
    assert added.code == 0, added.err
    [row] = _listed(mirari)
    assert added.out == f"added {row['id'][:8]}: Bullet summaries (suggested, 1 test case(s))\n"
    assert (row["name"], row["status"], row["version"], row["category"], row["description"], row["source"],
            row["test_cases"], row["next_status"]) == (
        "Bullet summaries", "suggested", 1, "writing", "For summaries.", None, CASES, "accepted")
    assert mirari("skills", "move", row["id"][:8], "accepted").code == 0


def test_add_reads_the_prompt_from_standard_input_and_prints_json(mirari, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("Be brief.\nAlways.\n"))
    added = mirari("skills", "add", "--name", "Brief", "--prompt", "-", "--json")
    assert added.code == 0, added.err
    row = json.loads(added.out)
    assert row["template_prompt"] == "Be brief.\nAlways." and row["test_cases"] == [] and row["category"] is None


def test_add_refuses_what_a_save_refuses_and_stores_nothing(mirari, tmp_path):
    assert "name" in one_error_line(mirari("skills", "add", "--name", "  ", "--prompt", "p"))
    assert "template prompt" in one_error_line(mirari("skills", "add", "--name", "N", "--prompt", " "))
    assert "20,000" in one_error_line(mirari("skills", "add", "--name", "N", "--prompt", "x" * 20_001))
    bad = tmp_path / "bad.json"
    bad.write_text('[{"prompt": "p", "expectations": [{"kind": "max_chars", "value": NaN}]}]')
    assert "max_chars needs a whole number" in one_error_line(
        mirari("skills", "add", "--name", "N", "--prompt", "p", "--tests", str(bad)))
    bad.write_text("[{")
    assert "not valid JSON" in one_error_line(mirari("skills", "add", "--name", "N", "--prompt", "p", "--tests", str(bad)))
    assert "cannot both read standard input" in one_error_line(
        mirari("skills", "add", "--name", "N", "--prompt", "-", "--tests", "-"))
    assert _listed(mirari) == []


@pytest.mark.parametrize("fields, says", [
    (dict(name="n\x00", template_prompt="p"), "NUL character"),
    (dict(name="n", template_prompt="p", category="c" * 501), '"category" is 501 characters'),
    (dict(name="n", template_prompt="p", test_cases=[{"prompt": ""}]), "Test case 1 needs a"),
])
def test_the_agent_function_checks_like_edit(fields, says):
    with pytest.raises(SkillError, match=says):
        check_new_skill(**fields)


def test_the_agent_function_stores_cleaned_fields(tmp_path):
    db = open_database(tmp_path / "local.sqlite3")
    try:
        skill = create_skill(db, " Tidy\n name ", " Keep answers tidy. ", "", " style ")
        assert (skill.name, skill.template_prompt, skill.description, skill.category, skill.status) == (
            "Tidy name", "Keep answers tidy.", None, "style", "suggested")
    finally:
        db.close()
