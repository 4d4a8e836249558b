"""The Memory Atlas's Pause toggle and the access log of outside apps, in the real window."""

from __future__ import annotations

from agent.mcp_server.access import READ, WRITE, log_access
from agent.memory.atlas import add_node, get_node
from tests.desktop.test_memory_page import NOW, open_atlas, shown


def select(qtbot, page, node_id):
    with qtbot.waitSignal(page.access_loaded, timeout=5000):
        page.select(node_id)


def test_pause_keeps_the_fact_out_of_the_prompt_and_resume_brings_it_back(qtbot, window, settle):
    db = window.ctx.db
    node = add_node(db, "Has a tea allergy", "fact", 0.9, now=NOW).node
    page = open_atlas(qtbot, window)
    select(qtbot, page, node.id)
    assert page.pause_button.text() == "Pause"
    with qtbot.waitSignal(page.loaded, timeout=5000):
        page.pause_button.click()
    assert get_node(db, node.id, NOW).node.paused
    assert shown(page)[0][:2] == ("‖", "Has a tea allergy")
    assert "tea allergy" not in page.panel.block.block
    assert page.pause_button.text() == "Resume"
    with qtbot.waitSignal(page.loaded, timeout=5000):
        page.pause_button.click()
    assert not get_node(db, node.id, NOW).node.paused and shown(page)[0][0] == "✶"
    assert "tea allergy" in page.panel.block.block


def test_a_facts_access_log_is_shown_as_plain_text(qtbot, window, settle):
    db = window.ctx.db
    tea = add_node(db, "Prefers green tea", "preference", 0.9, now=NOW).node
    other = add_node(db, "Works from Lisbon", "fact", 0.8, now=NOW).node
    log_access(db, "Claude Desktop", READ, "search_memory", [tea.id, other.id], "tea")
    log_access(db, "<b>Evil</b> app", WRITE, "add_fact", [tea.id], "Prefers green tea")
    page = open_atlas(qtbot, window)
    select(qtbot, page, tea.id)
    items = [page.panel.access.item(i).text() for i in range(page.panel.access.count())]
    assert len(items) == 2 and items[0].startswith("<b>Evil</b> app — write (add_fact)\n")  # plain text
    assert items[0].endswith(" · “Prefers green tea”")
    assert items[1].startswith("Claude Desktop — read (search_memory)\n") and items[1].endswith(" · “tea”")
    assert page.panel.access_title.text() == "Used by other apps (2):"
    select(qtbot, page, other.id)
    assert page.panel.access.count() == 1
    fresh = add_node(db, "Learning Portuguese", "goal", 0.5, now=NOW).node
    page = open_atlas(qtbot, window)
    select(qtbot, page, fresh.id)
    assert page.panel.access_title.text() == "No other app has used “Learning Portuguese”."
    assert not page.panel.access.isVisible()
