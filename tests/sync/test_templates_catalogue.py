"""Templates between two users on the stand-in: A publishes a public and a private template, B sees
only the public one, installs it (counted once per user, after the rows are written; the rows are B's),
cannot install the private one; ids by prefix as everywhere;
the catalogue pages, searches, filters and sorts; offline it says so. Tasks sync between two devices."""

from __future__ import annotations

import json
import uuid

import pytest
from mirari.main import main

from agent.tasks import board
from agent.templates import publish
from local_schema.models import MemoryNode, Skill
from sync.catalogue import Catalogue, CatalogueUnavailable, TemplateNotFound
from tests.sync.helpers import Device, server_rows


@pytest.fixture
def people(supabase_stack, tmp_path):
    """make(name) -> a signed-in Device of a fresh user (own data dir); .user_id set."""
    made = []

    def make(name: str) -> Device:
        email, password, user_id = supabase_stack.new_user()
        device = Device(supabase_stack, tmp_path / name)
        device.engine.sign_in(email, password)
        device.user_id = user_id
        made.append(device)
        return device

    yield make
    for device in made:
        device.close()


def _skills_and_memory(db, tag: str) -> tuple[str, str]:
    with db.write() as s:
        skill = Skill(name=f"{tag} skill", description="does a thing", category="writing", status="promoted",
                      template_prompt=f"Always {tag}.")
        node = MemoryNode(label=f"The user likes {tag}", category="preference", strength=0.8)
        s.add_all([skill, node])
    return skill.id, node.id


def test_b_sees_only_the_public_template_and_cannot_install_the_private_one(people, supabase_stack):
    a, b = people("a"), people("b")
    skill, node = _skills_and_memory(a.db, "tea")
    public = publish.publish(a.db, "Tea lover", "Public one", "lifestyle", [skill], [node], is_public=True)
    private = publish.publish(a.db, "Secret", "Private one", "lifestyle", [skill], [], is_public=False)
    a.sync()
    catalogue = Catalogue.for_engine(b.engine)
    entries = [e for e in catalogue.all() if e.author_id == a.user_id]  # the stand-in is shared by tests
    assert [e.id for e in entries] == [public.id]
    [entry] = entries
    assert (entry.name, entry.mine, entry.skill_count, entry.memory_count) == ("Tea lover", False, 1, 1)
    assert catalogue.get(private.id) is None
    with pytest.raises(TemplateNotFound, match="does not exist, was deleted, or is private to its author"):
        catalogue.install(private.id)
    # A's own catalogue view marks it as A's.
    assert [e.mine for e in Catalogue.for_engine(a.engine).all() if e.author_id == a.user_id] == [True]
    [row] = [r for r in server_rows(supabase_stack, "templates", a.user_id) if str(r["id"]) == private.id]
    assert row["installs"] == 0  # the refused install counted nothing


def test_b_installs_the_public_template_into_rows_of_its_own(people, supabase_stack):
    from agent.templates.install import install_from_catalogue

    a, b = people("a"), people("b")
    skill, node = _skills_and_memory(a.db, "jazz")
    public = publish.publish(a.db, "Jazz fan", None, "music", [skill], [node], is_public=True)
    a.sync()
    result = install_from_catalogue(b.db, Catalogue.for_engine(b.engine), public.id)
    assert (len(result.skills_added), len(result.nodes_added), result.counted) == (1, 1, True)
    assert installs(supabase_stack, a, public.id) == 1
    for _ in range(3):  # B installing again and again does not inflate the count (issue 19)
        again = install_from_catalogue(b.db, Catalogue.for_engine(b.engine), public.id)
        assert (again.skills_added, again.nodes_added, again.counted) == ([], [], False)
    assert installs(supabase_stack, a, public.id) == 1
    b.sync()
    source = f"template:{public.id}"
    [b_skill] = server_rows(supabase_stack, "skills", b.user_id)
    [b_node] = server_rows(supabase_stack, "memory_nodes", b.user_id)
    assert (b_skill["name"], b_skill["status"], b_skill["source"]) == ("jazz skill", "suggested", source)
    assert (b_node["label"], b_node["source"]) == ("The user likes jazz", source)
    assert str(b_skill["id"]) != skill and str(b_node["id"]) != node  # copies, not A's rows
    # A's own rows are untouched, and A's device learns the install count with its next sync.
    assert [r["status"] for r in server_rows(supabase_stack, "skills", a.user_id)] == ["promoted"]
    a.sync()
    assert publish.list_templates(a.db)[0].installs == 1


def installs(supabase_stack, author, template_id) -> int:
    [row] = [r for r in server_rows(supabase_stack, "templates", author.user_id) if str(r["id"]) == template_id]
    return row["installs"]


def test_an_install_is_counted_only_once_it_is_written(people, supabase_stack, monkeypatch):
    """Issue 19: the server counted an install before the client wrote anything, so a killed or failed
    install counted too. Now the count comes after the last chunk is written."""
    from agent.templates import install

    a, b = people("a"), people("b")
    skill, node = _skills_and_memory(a.db, "flute")
    public = publish.publish(a.db, "Flute fan", None, "music", [skill], [node], is_public=True)
    a.sync()

    def disk_full(*_args, **_kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(install, "install_payload", disk_full)
    with pytest.raises(OSError):
        install.install_from_catalogue(b.db, Catalogue.for_engine(b.engine), public.id)
    assert installs(supabase_stack, a, public.id) == 0
    monkeypatch.undo()
    supabase_stack.faults.fail_next("POST", "/rest/v1/rpc/record_template_install", 503, times=5)
    result = install.install_from_catalogue(b.db, Catalogue.for_engine(b.engine), public.id)
    supabase_stack.faults.clear()
    assert (len(result.nodes_added), result.counted) == (1, None)  # written; the count could not be made
    assert result.note.startswith("(The server did not count this install")
    assert installs(supabase_stack, a, public.id) == 0


def test_a_template_is_found_by_a_prefix_of_its_id(people):
    a, b = people("a"), people("b")
    skill, node = _skills_and_memory(a.db, "oboe")
    public = publish.publish(a.db, "Oboe fan", None, "music", [skill], [node], is_public=True)
    private = publish.publish(a.db, "Oboe secret", None, "music", [skill], [node])
    a.sync()
    catalogue = Catalogue.for_engine(b.engine)
    assert catalogue.resolve(public.id[:8]) == public.id
    assert catalogue.resolve(public.id[:13].upper()) == public.id
    assert catalogue.resolve(public.id) == public.id
    with pytest.raises(TemplateNotFound, match="no template .* that you can install"):
        catalogue.resolve(private.id[:8])  # another author's private template stays undiscoverable
    for bad in ("abc", "zzzzzzzz", "1234567890", public.id[:8] + "x"):
        with pytest.raises(TemplateNotFound, match="give its id or the start of it"):
            catalogue.resolve(bad)
    assert Catalogue.for_engine(a.engine).resolve(private.id[:8]) == private.id  # the author's own


def test_paging_search_category_and_sort(people):
    a, b = people("a"), people("b")
    skill, _node = _skills_and_memory(a.db, "x")
    tag = uuid.uuid4().hex[:10]  # the stand-in's catalogue is shared by every test: search within ours
    made = {}
    for i in range(7):
        category = f"writing-{tag}" if i % 2 == 0 else f"coding-{tag}"
        made[i] = publish.publish(a.db, f"Pack {i} {tag} {'100% pure' if i == 3 else ''}".strip(),
                                    f"has_under_score {tag}" if i == 5 else f"description {i}", category, [skill],
                                    is_public=True)
    a.sync()
    catalogue = Catalogue.for_engine(b.engine)
    first = catalogue.page(search=tag, sort="recent", offset=0, limit=3)
    assert (len(first.entries), first.total, first.has_more) == (3, 7, True)
    last = catalogue.page(search=tag, sort="recent", offset=6, limit=3)
    assert (len(last.entries), last.has_more) == (1, False)
    everything = catalogue.all(search=tag, sort="recent", page_size=3)
    assert [e.id for e in everything] == [made[i].id for i in reversed(range(7))]  # newest first, no repeats
    assert {e.id for e in catalogue.all(category=f"coding-{tag}")} == {made[i].id for i in (1, 3, 5)}
    # Search is literal: '%' and '_' are not wildcards, text matches name, description or category.
    assert [e.id for e in catalogue.all(search=f"{tag} 100%")] == [made[3].id]
    assert [e.id for e in catalogue.all(search=f"under_score {tag}")] == [made[5].id]
    assert [e.id for e in catalogue.all(search=f"under_s_ore {tag}")] == []
    assert len(catalogue.all(search=f"CODING-{tag}")) == 3
    assert catalogue.all(search=f'{tag} quote " and, comma (paren) \\ back') == []


def test_the_catalogue_says_plainly_when_it_cannot_be_reached(people, supabase_stack, tmp_path):
    b = people("b")
    supabase_stack.faults.fail_next("*", "/rest/v1/templates", 503, times=5)
    with pytest.raises(CatalogueUnavailable, match="Could not read the catalogue"):
        Catalogue.for_engine(b.engine).page()
    supabase_stack.faults.clear()
    offline = Catalogue(b.engine.rest(), b.user_id, "http://127.0.0.1:9")
    from sync.rest import RestClient

    offline.rest = RestClient("http://127.0.0.1:9", supabase_stack.anon_key, lambda: "token", lambda t: t)
    with pytest.raises(CatalogueUnavailable, match="^Offline: the public catalogue needs a connection to 127.0.0.1"):
        offline.page()
    signed_out = Device(supabase_stack, tmp_path / "nobody")
    try:
        with pytest.raises(CatalogueUnavailable, match="Sign in"):
            Catalogue.for_engine(signed_out.engine)
    finally:
        signed_out.close()


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_browse_and_install_commands(people, capsys):
    a, b = people("a"), people("b")
    skill, node = _skills_and_memory(a.db, "cli")
    public = publish.publish(a.db, "Public pack", None, "misc", [skill], [node], is_public=True)
    private = publish.publish(a.db, "Private pack", None, "misc", [skill], [node])
    a.sync()
    code, out, err = run(capsys, "--data-dir", str(b.data_dir), "templates", "browse", "--json")
    assert code == 0, err
    assert [e["id"] for e in json.loads(out) if e["author_id"] == a.user_id] == [public.id]
    code, out, err = run(capsys, "--data-dir", str(b.data_dir), "templates", "browse", "--search", "nothing like it")
    assert (code, out.strip()) == (0, "no public templates match")
    code, out, err = run(capsys, "--data-dir", str(b.data_dir), "templates", "install", private.id)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "cannot be installed: it does not exist, was deleted, or is private to its author" in err
    code, out, err = run(capsys, "--data-dir", str(b.data_dir), "templates", "install", public.id[:8])
    assert code == 0 and out == "Installed “Public pack”: 1 skill added as suggested, 1 memory added.\n", err
    code, out, err = run(capsys, "--data-dir", str(b.data_dir), "templates", "install", public.id[:8])
    assert code == 0 and out.splitlines() == [
        "Installed “Public pack”: 0 skills added as suggested, 0 memories added; 2 skipped (already here).",
        "Skipped 2 items:", "  • Skill “cli skill”: you already have this skill",
        "  • Memory “The user likes cli”: already in your Atlas"], err
    code, out, err = run(capsys, "--data-dir", str(b.data_dir), "templates", "install", private.id[:8])
    assert code == 1 and out == "" and "There is no template" in err and err.count("\n") == 1


def test_tasks_sync_between_two_devices(devices):
    one, two = devices("one"), devices("two")
    first = board.add_task(one.db, "Plan the week")
    second = board.add_task(one.db, "Write the report")
    one.sync()
    two.sync()
    assert {t.title: t.status for t in board.list_tasks(two.db)} == {"Plan the week": "pending",
                                                                     "Write the report": "pending"}
    board.move_task(two.db, first.id, "done")
    board.delete_task(two.db, second.id)
    two.sync()
    one.sync()
    assert [(t.id, t.status) for t in board.list_tasks(one.db)] == [(first.id, "done")]
    assert one.snapshot()["tasks"] == two.snapshot()["tasks"]
