"""The Templates page in the real window: publish with a preview of exactly what is shared, your list,
export and import (a bad file writes nothing), what was installed from where, and the catalogue —
offline it says so; on the stand-in it browses and installs."""

from __future__ import annotations

import json
import uuid

from PySide6.QtCore import Qt

from agent.templates import publish
from agent.templates.text import describe_template
from local_schema.models import AgentConnection, MemoryNode, Skill


def _rows(db):
    with db.write() as s:
        s.add(AgentConnection(name="Secret gateway", provider="custom", base_url="https://private.example/v1",
                              model="m"))
        skill = Skill(name="Summarise", description="Short", category="writing", status="promoted",
                      template_prompt="Three bullets.")
        node = MemoryNode(label="Prefers metric units", category="preference", strength=0.8)
        s.add_all([skill, node])
    return skill.id, node.id


def test_publish_shows_exactly_what_is_shared(qtbot, window, settle):
    skill, node = _rows(window.ctx.db)
    page = window.show_page("templates")
    tab = page.publish_tab
    page.tabs.setCurrentWidget(tab)
    tab.refresh()
    settle()
    assert not tab.publish_button.isEnabled() and "Pick at least one" in tab.problem.text()
    tab.check([skill], [node])
    qtbot.keyClicks(tab.name_edit, "Writer")
    tab.public_box.setChecked(True)
    tab.update_preview()
    settle()
    document = publish.preview(window.ctx.db, "Writer", None, None, [skill], [node], True)
    text = tab.preview.toPlainText()
    assert text == describe_template(document)  # readable text, not JSON (issue 18)
    assert text.splitlines() == [
        "Writer", "Public · no category", "No description.", "",
        "Skills (1), each shared with its name, description, category and prompt:",
        "  • Summarise — Short (writing)", "      Three bullets.", "",
        "Memory (1), each shared with its fact, category and strength:",
        "  • Prefers metric units (preference, 0.80)"]
    assert "private.example" not in text and "Secret gateway" not in text and skill not in text
    assert tab.publish_button.isEnabled()
    qtbot.mouseClick(tab.publish_button, Qt.MouseButton.LeftButton)
    settle()
    [info] = publish.list_templates(window.ctx.db)
    assert (info.name, info.is_public, info.skill_count, info.memory_count) == ("Writer", True, 1, 1)
    assert page.tabs.currentIndex() == 0 and page.own_list.count() == 1
    assert "waiting to sync" in page.own_list.item(0).text()
    detail = page.own_detail.toPlainText().splitlines()  # "Yours" reads the same way
    assert detail[:2] == ["Writer", "Public · 0 installs · waiting to sync"]
    assert detail[3:] == text.splitlines()[3:] and "{" not in page.own_detail.toPlainText()


def test_a_name_over_the_limit_cannot_be_published(qtbot, window, settle):
    skill, _node = _rows(window.ctx.db)
    tab = window.show_page("templates").publish_tab
    tab.refresh()
    settle()
    tab.check([skill])
    tab.name_edit.setText("x" * 501)
    tab.update_preview()
    settle()
    assert not tab.publish_button.isEnabled() and "longer than 500" in tab.problem.text()


def test_export_then_import_and_installed_from(qtbot, window, settle, tmp_path):
    db = window.ctx.db
    skill, node = _rows(db)
    template = publish.publish(db, "Mine", None, None, [skill], [node])
    page = window.show_page("templates")
    page.refresh()
    settle()
    page.export(template.id, str(tmp_path / "mine"))
    settle()
    exported = tmp_path / "mine.mirari-template.json"
    assert exported.exists() and str(exported) in page.notice.text()

    bad = tmp_path / "bad.mirari-template.json"
    bad.write_text(json.dumps({"format": "mirari-template", "version": 1, "name": "Bad",
                               "payload": {"skills": [{"name": "x" * 501, "template_prompt": "p"}],
                                           "seed_memory": []}}), encoding="utf-8")
    with db.engine.connect() as conn:
        before = conn.exec_driver_sql("SELECT count(*) FROM skills").scalar()
    page.import_file(str(bad))
    settle()
    assert page.notice.text().startswith("Not imported — nothing was written.") and "longer than 500" in page.notice.text()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM skills").scalar() == before

    other = tmp_path / "other.mirari-template.json"
    other.write_text(json.dumps({"format": "mirari-template", "version": 1, "id": str(uuid.uuid4()),
                                 "name": "Friend's pack",
                                 "payload": {"skills": [{"name": "Haiku", "template_prompt": "Answer in haiku."}],
                                             "seed_memory": [{"label": "Likes poetry", "strength": 0.7}]}}),
                     encoding="utf-8")
    page.import_file(str(other))
    settle()
    assert page.notice.text().startswith("Installed “Friend's pack”")
    assert page.tabs.currentWidget() is page.installed_tree
    top = page.installed_tree.topLevelItem(0)
    assert top.text(0) == "Friend's pack" and "from a file" in top.text(1)
    children = sorted(top.child(i).text(1) for i in range(top.childCount()))
    assert children == ["Memory: Likes poetry", "Skill: Haiku"]
    assert top.child(0).text(0) == "Installed from Friend's pack"


def test_an_import_lists_what_it_skipped_and_why(qtbot, window, settle, tmp_path):
    """Issue 18: importing your own template duplicated its skills; now nothing is duplicated and the
    window says, item by item, what was skipped and why."""
    db = window.ctx.db
    skill, node = _rows(db)
    mine = publish.publish(db, "Mine", None, None, [skill], [node])
    page = window.show_page("templates")
    page.refresh()
    settle()
    page.export(mine.id, str(tmp_path / "mine"))
    settle()
    path = tmp_path / "mine.mirari-template.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["payload"]["seed_memory"].append({"label": "Cycles to work", "category": "fact", "strength": 0.9})
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert not page.skipped_view.isVisible()
    page.import_file(str(path))
    settle()
    assert page.notice.text() == "Installed “Mine”: 0 skills added as suggested, 1 memory added; 2 skipped (already here)."
    assert page.skipped_view.isVisible()
    assert page.skipped_view.toPlainText().splitlines() == [
        "Skipped from “Mine” (2):",
        "  • Skill “Summarise”: you already have this skill",
        "  • Memory “Prefers metric units”: already in your Atlas"]
    with db.session() as s:
        from sqlmodel import select

        assert len(s.exec(select(Skill)).all()) == 1
        nodes = {n.label: n.strength for n in s.exec(select(MemoryNode)).all()}
    assert nodes == {"Prefers metric units": 0.8, "Cycles to work": 0.5}  # nothing reinforced; new at 0.50
    page.import_file(str(path))  # again: all three skipped, still plain text
    settle()
    assert page.skipped_view.toPlainText().splitlines()[0] == "Skipped from “Mine” (3):"


def test_the_catalogue_says_plainly_that_it_needs_a_sign_in(qtbot, window, settle):
    page = window.show_page("templates")
    page.tabs.setCurrentWidget(page.catalogue)  # the first visit loads the first page
    settle()
    assert page.catalogue.notice.text().startswith("Sign in to use the public catalogue")
    assert page.catalogue.list.count() == 0 and not page.catalogue.install_button.isEnabled()


def test_the_catalogue_on_the_stand_in(qtbot, supabase_stack, tmp_path, memory_keyring, settle):
    from sync.secrets import SecretStore
    from tests.desktop.conftest import close_window, open_window
    from tests.sync.helpers import Device

    author = Device(supabase_stack, tmp_path / "author")
    author.engine.sign_in(*supabase_stack.new_user()[:2])
    tag = uuid.uuid4().hex[:10]
    with author.db.write() as s:
        skill = Skill(name=f"Jazz {tag}", template_prompt="Talk like a jazz critic.", status="promoted")
        s.add(skill)
    public = publish.publish(author.db, f"Jazz pack {tag}", "For jazz fans", "music", [skill.id], is_public=True)
    author.sync()
    author.close()

    reader = Device(supabase_stack, tmp_path / "reader")
    reader.engine.sign_in(*supabase_stack.new_user()[:2])
    reader.close()
    window = open_window(qtbot, tmp_path / "reader", SecretStore(tmp_path / "reader", backend=memory_keyring))
    try:
        page = window.show_page("templates")
        catalogue = page.catalogue
        catalogue.search_edit.setText(tag)
        with qtbot.waitSignal(catalogue.page_shown, timeout=10_000):
            page.tabs.setCurrentWidget(catalogue)  # the first visit loads the first page of the search
        assert catalogue.list.count() == 1 and catalogue.current_entry().id == public.id
        assert "Talk like a jazz critic" not in catalogue.detail.toPlainText()  # names, not prompts
        assert f"Jazz {tag}" in catalogue.detail.toPlainText()
        with qtbot.waitSignal(catalogue.installed, timeout=10_000):
            qtbot.mouseClick(catalogue.install_button, Qt.MouseButton.LeftButton)
        settle()
        assert catalogue.notice.text().startswith(f"Installed “Jazz pack {tag}”")
        with window.ctx.db.session() as s:
            from sqlmodel import select

            [installed] = s.exec(select(Skill)).all()
        assert (installed.status, installed.source) == ("suggested", f"template:{public.id}")
        assert page.installed_tree.topLevelItem(0).text(0) == f"Jazz pack {tag}"
    finally:
        close_window(window)
