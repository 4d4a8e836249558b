"""Installing a template's payload: skills through the Forge as `suggested`, memory through the Atlas's
no-duplicates rule, both marked template:<id>; all in one transaction, or nothing when anything is wrong."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlmodel import select

from agent import memory, template_install, templates
from agent.memory_sources import describe_sources
from agent.template_payload import TemplateInvalid
from desktop.cli import main
from local_schema.models import InstalledTemplate, MemoryNode, Skill

TEMPLATE_ID = str(uuid.uuid4())
PAYLOAD = {
    "skills": [{"name": "Summarise", "description": "Short summaries", "category": "writing",
                "template_prompt": "Answer in three bullet points."},
               {"name": "Cite", "template_prompt": "Name your sources.", "unknown_key": "ignored",
                "test_cases": [{"prompt": "Who said it?", "expectations": [{"kind": "contains", "value": "source"}]}]}],
    "seed_memory": [{"label": "Prefers metric units", "category": "preference", "strength": 0.8},
                    {"label": "Works in Python", "strength": 0.6}],
}


def _snapshot(db) -> dict:
    with db.engine.connect() as conn:
        return {table: conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1").all()
                for table in ("skills", "memory_nodes", "installed_templates", "sync_outbox")}


def test_install_brings_suggested_skills_and_sourced_memory(db):
    existing = memory.add_node(db, "prefers metric units", "preference", 0.5).node  # a duplicate, reinforced
    result = template_install.install_payload(db, TEMPLATE_ID, "Writer pack", PAYLOAD, author_id="author")
    assert (len(result.skills_added), len(result.nodes_added), result.nodes_reinforced) == (2, 1, [existing.id])
    with db.session() as s:
        skills = {k.name: k for k in s.exec(select(Skill)).all()}
        nodes = {n.label: n for n in s.exec(select(MemoryNode)).all()}
        record = s.get(InstalledTemplate, TEMPLATE_ID)
    assert {k.status for k in skills.values()} == {"suggested"}
    assert {k.source for k in skills.values()} == {f"template:{TEMPLATE_ID}"}
    assert skills["Cite"].test_cases == PAYLOAD["skills"][1]["test_cases"]  # the Forge's rules accepted them
    assert nodes["Works in Python"].source == f"template:{TEMPLATE_ID}"
    assert nodes["Works in Python"].strength == pytest.approx(0.6)
    assert nodes["prefers metric units"].source == "manual" and nodes["prefers metric units"].strength > 0.5
    assert "Prefers metric units" not in nodes  # no duplicate node
    assert (record.name, record.author_id, record.origin) == ("Writer pack", "author", "catalogue")
    assert result.summary().startswith("Installed “Writer pack”: 2 skill(s) added as suggested")


def test_installing_again_adds_nothing_twice(db):
    template_install.install_payload(db, TEMPLATE_ID, "Writer pack", PAYLOAD)
    before = _snapshot(db)
    again = template_install.install_payload(db, TEMPLATE_ID, "Writer pack", PAYLOAD)
    assert (again.skills_added, len(again.skills_present), again.nodes_added) == ([], 2, [])
    assert len(again.nodes_reinforced) == 2  # the Atlas reinforces what it already knows
    after = _snapshot(db)
    assert len(after["skills"]) == len(before["skills"]) and len(after["memory_nodes"]) == len(before["memory_nodes"])


@pytest.mark.parametrize("payload", [
    {"skills": [{"name": "No prompt"}], "seed_memory": []},
    {"skills": [], "seed_memory": [{"label": "ok"}, {"label": "x" * 2001}]},
    {**PAYLOAD, "skills": [*PAYLOAD["skills"], {"name": "Bad test", "template_prompt": "p",
                                                 "test_cases": [{"prompt": "p", "expectations": [{"kind": "eval"}]}]}]},
    {"skills": "everything", "seed_memory": []},
], ids=["no prompt", "label too long", "a test case the Forge refuses", "bad shape"])
def test_a_payload_breaking_any_rule_writes_nothing(db, payload):
    before = _snapshot(db)
    with pytest.raises(ValueError):
        template_install.install_payload(db, TEMPLATE_ID, "Bad", payload)
    assert _snapshot(db) == before


def test_import_file_and_what_it_brought(db, tmp_path):
    path = tmp_path / "pack.mirari-template.json"
    path.write_text(json.dumps({"format": "mirari-template", "version": 1, "id": TEMPLATE_ID, "name": "From a file",
                                "payload": PAYLOAD}), encoding="utf-8")
    result = template_install.import_file(db, path)
    assert result.name == "From a file" and len(result.skills_added) == 2
    [view] = template_install.installed(db)
    assert (view.template_id, view.name, view.origin) == (TEMPLATE_ID, "From a file", "file")
    assert sorted((i.kind, i.text) for i in view.items) == [
        ("memory", "Prefers metric units"), ("memory", "Works in Python"), ("skill", "Cite"), ("skill", "Summarise")]
    assert template_install.installed_from(db, f"template:{TEMPLATE_ID}") == "Installed from From a file"
    with db.session() as s:  # the Atlas names the template too, though it is another author's
        assert describe_sources(s, [f"template:{TEMPLATE_ID}"]) == {f"template:{TEMPLATE_ID}": "Template · From a file"}


@pytest.mark.parametrize("content", [
    "{not json",
    json.dumps({"format": "mirari-template", "version": 1, "name": "Big",
                "payload": {"skills": [{"name": f"s{i}", "template_prompt": "p" * 19_000} for i in range(60)],
                            "seed_memory": []}}),
    json.dumps({"format": "mirari-template", "version": 1, "name": "Half good",
                "payload": {"skills": [PAYLOAD["skills"][0], {"name": 7}], "seed_memory": PAYLOAD["seed_memory"]}}),
], ids=["malformed", "oversized", "one bad skill"])
def test_a_malformed_or_oversized_import_is_refused_with_nothing_written(db, tmp_path, content):
    path = tmp_path / "bad.mirari-template.json"
    path.write_text(content, encoding="utf-8")
    before = _snapshot(db)
    with pytest.raises(TemplateInvalid):
        template_install.import_file(db, path)
    assert _snapshot(db) == before


def test_publish_export_import_round_trip_between_two_databases(db, tmp_path):
    from local_schema.database import open_database

    with db.write() as s:
        skill = Skill(name="Summarise", template_prompt="Be brief.", status="promoted")
        node = MemoryNode(label="Likes tea", category="preference", strength=0.9)
        s.add_all([skill, node])
    template = templates.publish(db, "Mine", None, None, [skill.id], [node.id])
    path = templates.export_template(db, template.id, tmp_path / "mine")
    other = open_database(tmp_path / "other" / "local.sqlite3")
    try:
        result = template_install.import_file(other, path)
        assert result.template_id == template.id
        with other.session() as s:
            [copy] = s.exec(select(Skill)).all()
        assert (copy.name, copy.status, copy.source) == ("Summarise", "suggested", f"template:{template.id}")
    finally:
        other.close()


def test_import_command(tmp_path, capsys):
    path = tmp_path / "pack.mirari-template.json"
    path.write_text(json.dumps({"format": "mirari-template", "version": 1, "name": "Pack", "payload": PAYLOAD}),
                    encoding="utf-8")
    code = main(["--data-dir", str(tmp_path / "d"), "templates", "import", str(path)])
    out, err = capsys.readouterr()
    assert code == 0 and "Installed “Pack”" in out, err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "mirari-template", "version": 1, "name": "",
                               "payload": {"skills": 1, "seed_memory": []}}), encoding="utf-8")
    code = main(["--data-dir", str(tmp_path / "d"), "templates", "import", str(bad)])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "was not imported (nothing was written): the name is empty (and 1 more problem)" in err
