"""III. Memory Atlas in the real window: ranked rows with glyphs, search, + Add, inline edits, delete,
"What the agent sees", source links into the Console, and live updates from the change bus."""

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from agent.memory.atlas import add_node, add_nodes, get_node, list_nodes
from agent.memory.sources import conversation_source
from agent.prompt import memory_block
from desktop.bus import bus
from desktop.models.memory_model import CATEGORY, GLYPH, LABEL, LAST, SOURCE, STRENGTH
from local_schema.models import MemoryNode
from local_schema.timestamps import format_timestamp
from standin.demo.seed import add_connection, add_thread
from tests.desktop.helpers import bind_fake, finish_turn

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def open_atlas(qtbot, window, now=NOW):
    page = window.show_page("memory")
    page.clock = lambda: now
    reload(qtbot, page)
    return page


def reload(qtbot, page):
    with qtbot.waitSignal(page.loaded, timeout=5000):
        page.refresh()


def shown(page):
    """The table as the user reads it: one tuple of cell texts per visible row."""
    proxy = page.proxy
    return [tuple(proxy.index(r, c).data() for c in (GLYPH, LABEL, STRENGTH, CATEGORY, SOURCE, LAST))
            for r in range(proxy.rowCount())]


def backdate(db, node_id, days):
    with db.write() as s:
        node = s.get(MemoryNode, node_id)
        node.created_at = format_timestamp(NOW - timedelta(days=days))


def test_the_page_follows_the_console_in_the_navigation(window):
    labels = [window.nav.item(i).text() for i in range(window.nav.count())]
    assert labels.index("III Memory Atlas") == labels.index("II  Console") + 1


def test_rows_ranked_by_effective_strength_with_glyphs_and_search(qtbot, window):
    db = window.ctx.db
    decayed = add_node(db, "Prefers Python for data work", "preference", 0.9, now=NOW).node
    backdate(db, decayed.id, 29)  # two full 14-day periods: 0.90 -> 0.80
    add_node(db, "Name is Ana", "fact", 0.85, now=NOW)
    add_node(db, "Learning Portuguese", "goal", 0.5, now=NOW)
    add_node(db, "Writes short answers", "style", 0.2, now=NOW)
    page = open_atlas(qtbot, window)
    assert shown(page) == [
        ("✶", "Name is Ana", "0.85", "fact", "manual", "never"),
        ("✶", "Prefers Python for data work", "0.80", "preference", "manual", "never"),
        ("◌", "Learning Portuguese", "0.50", "goal", "manual", "never"),
        ("·", "Writes short answers", "0.20", "style", "manual", "never"),
    ]
    assert page.summary.text() == "4 nodes · 2 injected"
    qtbot.keyClicks(page.search, "portug")
    assert [row[1] for row in shown(page)] == ["Learning Portuguese"]
    page.search.setText("nothing like this")
    assert page.empty.isVisible() and "No node matches" in page.empty.text()
    page.search.clear()
    assert len(shown(page)) == 4

    # the same page a month later: decay is computed from the clock, nothing was written
    page.clock = lambda: NOW + timedelta(days=28)
    reload(qtbot, page)
    assert [(row[0], row[1], row[2]) for row in shown(page)][:2] == [
        ("✶", "Name is Ana", "0.75"), ("◌", "Prefers Python for data work", "0.70")]


def test_add_with_the_editor_and_a_duplicate_reinforces(qtbot, window, settle):
    page = open_atlas(qtbot, window)
    assert page.empty.isVisible() and "Nothing remembered yet" in page.empty.text()
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    editor = page.editor
    qtbot.waitUntil(editor.isVisible, timeout=3000)
    save = editor.buttons.button(QDialogButtonBox.StandardButton.Save)
    assert not save.isEnabled()  # nothing typed yet
    qtbot.keyClicks(editor.label_edit, "Prefers tea over coffee")
    editor.category.setCurrentText("preference")
    with qtbot.waitSignal(page.loaded, timeout=5000):
        qtbot.keyClick(editor.label_edit, Qt.Key.Key_Return)
    assert not editor.isVisible()
    assert shown(page)[0][1:4] == ("Prefers tea over coffee", "0.50", "preference")
    assert page.selected_id() == page.model.node_at(0).id
    assert "Added to the Atlas" in window.statusBar().currentMessage()

    page.open_add()
    again = page.editor
    qtbot.keyClicks(again.label_edit, "prefers TEA over coffee!")
    with qtbot.waitSignal(page.loaded, timeout=5000):
        qtbot.keyClick(again.label_edit, Qt.Key.Key_Enter)
    assert len(shown(page)) == 1 and shown(page)[0][2] == "0.55"
    assert "reinforced it, 0.50 → 0.55" in window.statusBar().currentMessage()

    page.open_add()
    long = page.editor
    long.label_edit.setPlainText("x " * 1001)
    assert not long.buttons.button(QDialogButtonBox.StandardButton.Save).isEnabled()
    assert "2,001 / 2,000" in long.count.text()
    long.reject()


def test_inline_edits_are_stored_and_a_refused_edit_keeps_the_row(qtbot, window, settle):
    db = window.ctx.db
    tea = add_node(db, "Likes tea", "preference", 0.6, now=NOW).node
    add_node(db, "Likes coffee", "fact", 0.5, now=NOW)
    page = open_atlas(qtbot, window)
    proxy = page.proxy
    with qtbot.waitSignal(page.loaded, timeout=5000):
        assert not proxy.setData(proxy.index(0, LABEL), "Likes green tea")  # stored, then reloaded
    with qtbot.waitSignal(page.loaded, timeout=5000):
        proxy.setData(proxy.index(0, CATEGORY), "style")
    with qtbot.waitSignal(page.loaded, timeout=5000):
        proxy.setData(proxy.index(0, STRENGTH), 0.8)
    view = get_node(db, tea.id, NOW)
    assert (view.node.label, view.node.category, view.effective) == ("Likes green tea", "style", 0.8)
    assert shown(page)[0][:4] == ("✶", "Likes green tea", "0.80", "style")

    # F2 (or a double-click) opens the cell's editor, like a user would
    page.table.setFocus()
    page.table.setCurrentIndex(proxy.index(1, LABEL))
    qtbot.keyClick(page.table, Qt.Key.Key_F2)
    assert page.table.state() == page.table.State.EditingState
    qtbot.keyClick(page.table.focusWidget(), Qt.Key.Key_Escape)

    with qtbot.waitSignal(bus.error, timeout=5000) as err:
        proxy.setData(proxy.index(1, LABEL), "likes green tea")  # would duplicate the first node
    assert "would duplicate" in err.args[0]
    assert sorted(v.node.label for v in list_nodes(db, NOW)) == ["Likes coffee", "Likes green tea"]


def test_a_hidden_page_waits_and_a_closed_window_stops_listening(qtbot, window, settle):
    page = open_atlas(qtbot, window)
    window.show_page("bind")
    add_node(window.ctx.db, "Added elsewhere", now=NOW)
    bus.changed.emit(frozenset({"memory_nodes"}), None)
    settle()
    assert shown(page) == []
    with qtbot.waitSignal(page.loaded, timeout=5000):
        window.show_page("memory")
    assert [row[1] for row in shown(page)] == ["Added elsewhere"]
    page.shutdown()  # what closing the window does: its database closes next
    with qtbot.assertNotEmitted(page.loaded, wait=200):
        bus.changed.emit(frozenset({"memory_nodes"}), None)


def test_delete_removes_the_row(qtbot, window, settle):
    db = window.ctx.db
    node = add_node(db, "Temporary", now=NOW).node
    page = open_atlas(qtbot, window)
    page.select(node.id)
    with qtbot.waitSignal(page.loaded, timeout=5000):
        page.delete_selected(confirm=False)
    assert shown(page) == [] and list_nodes(db, NOW) == []
    assert "Deleted from the Atlas" in window.statusBar().currentMessage()
    assert not page.delete_button.isEnabled()


def test_what_the_agent_sees_for_a_connection_with_the_cap(qtbot, window, settle):
    db = window.ctx.db
    cid = add_connection(db, "Hermes", "http://127.0.0.1:9/v1", "hermes3", system_prompt="You are Hermes.")
    add_nodes(db, [{"label": f"fact {i:02d}", "strength": 0.76 + i / 1000} for i in range(42)], now=NOW)
    page = open_atlas(qtbot, window)
    panel = page.panel
    expected = memory_block(db, cid, NOW)
    assert panel.connection_id() == cid and panel.text.toPlainText() == expected.block
    assert f"40 nodes · {expected.chars:,} chars · ≈{expected.tokens:,} tokens" in panel.sizes.text()
    assert f"System message — {expected.system_chars:,} chars" in panel.sizes.text()
    assert [panel.over_cap.item(i).text() for i in range(panel.over_cap.count())] == ["0.76  fact 01", "0.76  fact 00"]
    assert "Left out by the cap of 40 (2)" in panel.over_title.text()
    assert page.summary.text() == "42 nodes · 40 injected · 2 over the cap of 40"
    cap_tip = page.proxy.index(41, GLYPH).data(Qt.ItemDataRole.ToolTipRole)
    assert "outside the 40 strongest" in cap_tip
    panel.whole.setChecked(True)
    assert panel.text.toPlainText() == expected.system and expected.system.startswith("You are Hermes.\n\n## Memory")


def test_empty_block_and_switching_connection(qtbot, window, settle):
    db = window.ctx.db
    add_connection(db, "Plain", "http://127.0.0.1:9/v1", "m")
    second = add_connection(db, "Prompted", "http://127.0.0.1:9/v1", "m", system_prompt="Be brief.")
    add_node(db, "Weak", strength=0.3, now=NOW)
    page = open_atlas(qtbot, window)
    panel = page.panel
    assert "no memory block" in panel.text.toPlainText() and "0 nodes" in panel.sizes.text()
    panel.whole.setChecked(True)
    panel.connection.setCurrentIndex(panel.connection.findData(second))
    qtbot.waitUntil(lambda: panel.text.toPlainText() == "Be brief.", timeout=5000)


def test_source_link_opens_the_console_at_the_message(qtbot, window, settle):
    db = window.ctx.db
    thread = add_thread(db, "Tea talk", [("user", "I like tea"), ("assistant", "Noted: you like tea.")])
    with db.session() as s:
        from agent.chat.threads import thread_messages_in

        reply = thread_messages_in(s, thread)[-1]
    add_node(db, "Likes tea", source=conversation_source(thread, reply.id), now=NOW)
    add_node(db, "Typed by hand", now=NOW)
    page = open_atlas(qtbot, window)
    sources = {row[1]: row[4] for row in shown(page)}
    assert sources == {"Likes tea": "Console · Tea talk", "Typed by hand": "manual"}
    row = next(r for r in range(page.proxy.rowCount()) if page.proxy.index(r, LABEL).data() == "Likes tea")
    index = page.proxy.index(row, SOURCE)
    assert index.data(Qt.ItemDataRole.FontRole).underline()
    console = window.pages["console"]
    with qtbot.waitSignal(console.jumped, timeout=5000) as jumped:
        qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=page.table.visualRect(index).center())
    assert jumped.args == [reply.id] and window.stack.currentWidget() is console
    assert console.conversation_id == thread


def test_a_chat_turn_that_uses_a_node_updates_the_atlas_live(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    node = add_node(window.ctx.db, "Lives in Lisbon Portugal", strength=0.8).node
    page = window.pages["memory"]
    reload(qtbot, page)
    assert shown(page)[0][2] == "0.80"
    fake_llm.reply(text="Since you live in Lisbon, Portugal has great trams.")
    finish_turn(qtbot, window.pages["console"], "Where should I go?")
    settle()
    assert shown(page)[0][2] == "0.80"  # hidden behind the Console: no reload yet...
    window.show_page("memory")  # ...but the bus marked it stale: it reloads as it is shown (no refresh call)
    qtbot.waitUntil(lambda: shown(page)[0][2] == "0.85", timeout=10_000)
    assert shown(page)[0][5] == "just now"
    assert get_node(window.ctx.db, node.id).node.strength == 0.85
