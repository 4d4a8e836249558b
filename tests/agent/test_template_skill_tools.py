"""A template carries the tools its skills need (names only, bounded like skills.tools): published when a
skill names any, installed as names that enable nothing on this device, refused whole when out of bounds."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select

from agent.templates import install, publish
from agent.templates.payload import TemplateInvalid, payload_problems, skill_entry
from agent.templates.text import describe_skills
from agent.tools.config import add_stdio_server, list_servers
from local_schema.models import McpServer, McpTool, Skill

TEMPLATE_ID = str(uuid.uuid4())


def _skill(**extra) -> dict:
    return {"name": "Reader", "template_prompt": "Read the file first.", **extra}


def test_publish_shares_the_names_and_a_skill_without_tools_shares_what_it_did_before(db):
    with db.write() as s:
        reader = Skill(name="Reader", template_prompt="Read the file first.", tools=["files/read_file"])
        plain = Skill(name="Plain", template_prompt="Be brief.")
        s.add_all([reader, plain])
    doc = publish.preview(db, "Pack", skill_ids=[reader.id, plain.id])
    entries = {e["name"]: e for e in doc["payload"]["skills"]}
    assert entries["Reader"]["tools"] == ["files/read_file"]
    assert "tools" not in entries["Plain"] and entries["Plain"] == skill_entry("Plain", None, None, "Be brief.")


def test_install_brings_the_names_and_enables_nothing(db):
    add_stdio_server(db, "files", "true")
    servers_before = list_servers(db)
    payload = {"skills": [_skill(tools=["files/read_file", "web/search"])], "seed_memory": []}
    install.install_payload(db, TEMPLATE_ID, "Pack", payload)
    with db.session() as s:
        [skill] = s.exec(select(Skill)).all()
        assert [m.name for m in s.exec(select(McpServer)).all()] == ["files"]
        assert s.exec(select(McpTool)).all() == []
    assert skill.tools == ["files/read_file", "web/search"] and skill.status == "suggested"
    assert list_servers(db) == servers_before
    assert "      needs tools: files/read_file, web/search" in describe_skills(payload, prompts=False, heading="")


@pytest.mark.parametrize("tools", ["files/read_file", [7], ["no-slash"], ["files/" + "t" * 123],
                                   [f"s/t{i}" for i in range(33)]],
                         ids=["not a list", "a number", "no server", "too long", "too many"])
def test_out_of_bounds_tools_refuse_the_payload_and_write_nothing(db, tools):
    payload = {"skills": [_skill(tools=tools)], "seed_memory": []}
    assert any(p.startswith("skills[0].tools: ") for p in payload_problems(payload))
    with pytest.raises(TemplateInvalid):
        install.install_payload(db, TEMPLATE_ID, "Bad", payload)
    with db.session() as s:
        assert s.exec(select(Skill)).all() == []
