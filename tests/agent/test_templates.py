"""Publishing, the preview of what is shared, export files, and imports that are refused whole."""

from __future__ import annotations

import json

import pytest
from mirari.main import main

from agent.templates import publish
from agent.templates.payload import TemplateInvalid, payload_problems, template_problems
from agent.templates.publish import TemplateError
from local_schema.models import AgentConnection, MemoryNode, Skill, Template


def _rows(db):
    with db.write() as s:
        connection = AgentConnection(name="Work", provider="custom", base_url="https://secret.example/v1",
                                     model="m", system_prompt="internal prompt")
        skill = Skill(name="Summarise", description="Short summaries", category="writing", status="promoted",
                      score=0.9, template_prompt="Answer in three bullet points.")
        node = MemoryNode(label="Prefers metric units", category="preference", strength=0.8,
                          source="conversation:0b7f5c2e-3f6a-4d1e-9a53-6c1d2e3f4a5b")
        s.add_all([connection, skill, node])
    return connection, skill, node


def test_preview_is_exactly_what_publish_writes_and_shares_nothing_else(db):
    connection, skill, node = _rows(db)
    doc = publish.preview(db, " Writer ", "For writing", "writing", [skill.id], [node.id], True)
    assert doc == {
        "name": "Writer", "description": "For writing", "category": "writing", "is_public": True,
        "payload": {"skills": [{"name": "Summarise", "description": "Short summaries", "category": "writing",
                                "template_prompt": "Answer in three bullet points."}],
                    "seed_memory": [{"label": "Prefers metric units", "category": "preference", "strength": 0.8}]}}
    text = json.dumps(doc)
    for private in (connection.id, connection.base_url, "internal prompt", skill.id, node.id, "promoted",
                    "conversation:", "0.9"):
        assert private not in text
    template = publish.publish(db, " Writer ", "For writing", "writing", [skill.id], [node.id], True)
    with db.session() as s:
        stored = s.get(Template, template.id)
    assert {"name": stored.name, "description": stored.description, "category": stored.category,
            "is_public": stored.is_public, "payload": stored.payload} == doc
    [info] = publish.list_templates(db)
    assert (info.name, info.skill_count, info.memory_count, info.is_public, info.waiting) == ("Writer", 1, 1, True, True)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": ""}, "the name is empty"),
    ({"name": "x" * 501}, "the name is longer than 500"),
    ({"category": "c" * 501}, "the category is longer than 500"),
    ({"skill_ids": ["missing"]}, "There is no skill missing"),
    ({"skill_ids": [], "memory_ids": []}, "Pick at least one"),
])
def test_publish_refusals_write_nothing(db, kwargs, message):
    _connection, skill, node = _rows(db)
    args = {"name": "T", "skill_ids": [skill.id], "memory_ids": [node.id], **kwargs}
    with pytest.raises(ValueError, match=message):
        publish.publish(db, **args)
    assert publish.list_templates(db) == []


def test_publish_is_capped_at_200_skills_and_2000_memories(db):
    with db.write() as s:
        skills = [Skill(name=f"Skill {i}", template_prompt="p") for i in range(201)]
        nodes = [MemoryNode(label=f"Fact {i}") for i in range(2001)]
        s.add_all(skills + nodes)
    with pytest.raises(TemplateInvalid, match="201 skills; a template holds at most 200"):
        publish.publish(db, "Too many", skill_ids=[k.id for k in skills])
    with pytest.raises(TemplateInvalid, match="2,001 memories; a template holds at most 2,000"):
        publish.publish(db, "Too many", memory_ids=[n.id for n in nodes])
    assert publish.list_templates(db) == []
    at_caps = publish.publish(db, "At the caps", skill_ids=[k.id for k in skills[:200]],
                                memory_ids=[n.id for n in nodes[:2000]])
    assert (len(at_caps.payload["skills"]), len(at_caps.payload["seed_memory"])) == (200, 2000)


def test_a_skill_the_catalogue_could_not_install_is_refused_at_publish(db):
    with db.write() as s:
        long = Skill(name="Long", template_prompt="x" * 20_001)  # over the server's skills limit
        s.add(long)
    with pytest.raises(TemplateInvalid, match=r"skills\[0\]\.template_prompt is longer than 20,000"):
        publish.publish(db, "T", skill_ids=[long.id])


def test_payload_rules_name_every_problem():
    problems = payload_problems({"skills": [{"name": 3, "template_prompt": "p"}, "text",
                                            {"name": "ok", "category": ["x"]}],
                                 "seed_memory": [{"label": ""}, {"label": "fine", "strength": 1.5},
                                                 {"label": "b", "strength": True}]})
    assert problems == [
        "skills[0].name must be text, not a number", "skills[1] must be an object with a name, not text",
        "skills[2].category must be text, not a list", "skills[2].template_prompt is missing",
        "seed_memory[0].label is empty",
        "seed_memory[1].strength must be from 0 to 1 (it is 1.5)",
        "seed_memory[2].strength must be a number from 0 to 1, not a boolean"]
    assert payload_problems([]) == ["the payload must be an object, not a list"]
    assert payload_problems({"skills": []}) == ["the payload has no 'seed_memory' list"]
    assert template_problems("n", None, None, {"skills": [], "seed_memory": []}, is_public="yes") == [
        "is_public must be true or false, not text"]


def test_export_then_read_round_trips(db, tmp_path):
    _connection, skill, node = _rows(db)
    template = publish.publish(db, "Writer", None, "writing", [skill.id], [node.id])
    path = publish.export_template(db, template.id, tmp_path / "writer")
    assert path.name == "writer.mirari-template.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert set(doc) == {"format", "version", "exported_at", "id", "name", "description", "category", "payload"}
    read = publish.read_template_file(path)
    assert (read.name, read.category, read.payload) == ("Writer", "writing", template.payload)
    assert doc["id"] == template.id and not hasattr(read, "id")  # written for the reader; never read back


def _write(path, doc) -> str:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return str(path)


GOOD = {"format": "mirari-template", "version": 1, "name": "Shared",
        "payload": {"skills": [{"name": "S", "template_prompt": "Be S."}],
                    "seed_memory": [{"label": "L", "strength": 0.6}]}}
BAD_FILES = [
    ("not json", "{oops", "not valid JSON"),
    ("NaN", json.dumps(GOOD).replace("0.6", "NaN"), "not valid JSON"),
    ("not a template", {"hello": "world"}, "not a MIRARI template"),
    ("newer format", {**GOOD, "version": 9}, "newer MIRARI"),
    ("no name", {**GOOD, "name": " "}, "the name is empty"),
    ("bad shape", {**GOOD, "payload": {"skills": "all of them", "seed_memory": []}}, "must be a list"),
    ("label too long", {**GOOD, "payload": {"skills": [], "seed_memory": [{"label": "x" * 2001}]}},
     "longer than 2,000"),
    ("no prompt", {**GOOD, "payload": {"skills": [{"name": "S"}], "seed_memory": []}},
     r"skills\[0\]\.template_prompt is missing"),
    ("too many skills", {**GOOD, "payload": {"skills": [{"name": f"s{i}", "template_prompt": "p"} for i in range(201)],
                                            "seed_memory": []}}, "201 skills; a template holds at most 200"),
    ("too many memories", {**GOOD, "payload": {"skills": [], "seed_memory": [{"label": f"m{i}"} for i in range(2001)]}},
     "2,001 memories; a template holds at most 2,000"),
    ("oversized payload", {**GOOD, "payload": {"skills": [{"name": f"s{i}", "description": "d" * 19_000,
                                                           "template_prompt": "p"}
                                                          for i in range(60)], "seed_memory": []}},
     "templates are limited to 1,000,000"),
]


@pytest.mark.parametrize(("label", "doc", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_are_refused_with_the_reason(tmp_path, label, doc, message):
    path = _write(tmp_path / "t.mirari-template.json", doc)
    with pytest.raises(TemplateInvalid, match=message):
        publish.read_template_file(path)


def test_a_file_too_large_to_be_a_template_is_not_even_parsed(tmp_path, monkeypatch):
    monkeypatch.setattr(publish, "FILE_BYTES_LIMIT", 100)
    path = _write(tmp_path / "big.json", {**GOOD, "description": "x" * 200})
    with pytest.raises(TemplateInvalid, match="larger than 100 bytes"):
        publish.read_template_file(path)


def test_a_file_with_or_without_an_id_reads_the_same(tmp_path):
    claimed = {**GOOD, "id": "0f8fad5b-d9cb-469f-a165-70867728950e"}
    assert publish.read_template_file(_write(tmp_path / "a.json", GOOD)) == \
        publish.read_template_file(_write(tmp_path / "b.json", claimed))


def test_withdraw_and_visibility(db):
    _connection, skill, _node = _rows(db)
    template = publish.publish(db, "T", skill_ids=[skill.id])
    assert publish.set_public(db, template.id, True).is_public
    publish.delete_template(db, template.id)
    assert publish.list_templates(db) == []
    with pytest.raises(TemplateError, match="no template"):
        publish.get_template(db, template.id)


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_publish_list_and_export_commands(tmp_path, capsys):
    from local_schema.database import open_database

    d = tmp_path / "data"
    db = open_database(d / "local.sqlite3")
    try:
        _connection, skill, node = _rows(db)
    finally:
        db.close()
    code, out, err = run(capsys, "--data-dir", str(d), "templates", "publish", "--name", "Writer", "--skill", skill.id,
                         "--memory", node.id, "--public", "--preview")
    assert code == 0 and json.loads(out)["payload"]["skills"][0]["name"] == "Summarise", err
    code, out, _ = run(capsys, "--data-dir", str(d), "templates", "list", "--json")
    assert json.loads(out) == []  # --preview published nothing
    code, out, err = run(capsys, "--data-dir", str(d), "templates", "publish", "--name", "Writer", "--skill", skill.id,
                         "--memory", node.id, "--public")
    template_id = out.strip()
    assert code == 0 and len(template_id) == 36, err
    code, out, _ = run(capsys, "--data-dir", str(d), "templates", "list", "--json")
    [row] = json.loads(out)
    assert (row["id"], row["is_public"], row["skill_count"]) == (template_id, True, 1)
    code, out, err = run(capsys, "--data-dir", str(d), "templates", "show", template_id[:8])
    assert code == 0 and out.splitlines() == [
        "Writer", "Public · no category", "No description.", "",
        "Skills (1), each shared with its name, description, category and prompt:",
        "  • Summarise — Short summaries (writing)", "      Answer in three bullet points.", "",
        "Memory (1), each shared with its fact, category and strength:",
        "  • Prefers metric units (preference, 0.80)"], err
    code, out, _ = run(capsys, "--data-dir", str(d), "templates", "show", template_id, "--json")
    assert json.loads(out)["payload"]["seed_memory"] == [{"label": "Prefers metric units", "category": "preference",
                                                          "strength": 0.8}]
    code, out, _ = run(capsys, "--data-dir", str(d), "templates", "export", template_id, str(tmp_path / "w.json"))
    assert code == 0 and out.strip().endswith("w.mirari-template.json")
    code, out, err = run(capsys, "--data-dir", str(d), "templates", "publish", "--name", "x" * 501, "--skill", skill.id)
    assert code == 1 and out == "" and err.count("\n") == 1 and "longer than 500" in err


def test_the_readable_text_takes_any_payload_without_failing():
    from agent.templates.text import PROMPT_LINES, describe_template

    prompt = "\n".join(f"line {i}" for i in range(PROMPT_LINES + 5))
    text = describe_template({"name": "  Odd\npack ", "is_public": False, "category": "c", "payload": {
        "skills": [{"name": "Long", "template_prompt": prompt}, "not a skill", {"name": 7}],
        "seed_memory": [{"label": "<b>not bold</b>", "strength": True}, {"label": "x", "strength": 0.123456}]}})
    lines = text.splitlines()
    assert lines[:3] == ["Odd pack", "Private · category: c", "No description."]
    assert "  • Long" in lines and f"      line {PROMPT_LINES - 1}" in lines and "      … (5 more lines)" in lines
    assert "  • (no name)" in lines and "not a skill" not in text
    assert "  • <b>not bold</b> (fact, no strength)" in lines and "  • x (fact, 0.12)" in lines
    assert describe_template({}).splitlines()[-1] == "No memory."
