"""Console threads and message actions: new/rename/delete and ordering, promote to the Atlas, copy a code
block, preview the system prompt, search across threads and jump, export Markdown and JSON."""

import json
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel, QMessageBox, QPlainTextEdit
from sqlmodel import select

from local_schema.models import Conversation, MemoryNode
from standin.demo.seed import CODE_REPLY, add_thread, long_messages
from tests.desktop.helpers import bind_fake, click_action, click_copy_code, finish_turn


def _reload(console, settle):
    console.refresh_threads()
    settle()


def test_threads_new_rename_delete_sorted_by_recent_activity(qtbot, window, settle):
    db = window.ctx.db
    now = datetime.now(UTC)
    old = add_thread(db, "Old thread", [("user", "hi")], start=now - timedelta(days=3))
    recent = add_thread(db, "Recent thread", [("user", "hello")], start=now - timedelta(hours=1))
    console = window.pages["console"]
    window.show_page("console")
    _reload(console, settle)
    assert [t.title for t in console.threads.rows()] == ["Recent thread", "Old thread"]

    # (built on first show, the Console opened the newest thread itself: wait for the one clicked)
    with qtbot.waitSignal(console.thread_opened, timeout=5000, check_params_cb=lambda cid: cid == old):
        console.thread_view.setCurrentIndex(console.threads.index(1))
    assert console.conversation_id == old and console.transcript.rows()[0].content == "hi"

    qtbot.mouseClick(console.new_button, Qt.MouseButton.LeftButton)
    settle()
    titles = [t.title for t in console.threads.rows()]
    assert titles[0] == "New thread" and len(titles) == 3  # a new thread is the most recent
    new_id = console.conversation_id
    assert new_id not in (old, recent)

    from desktop.pages.console import actions

    actions.rename_thread(console, old, "  Renamed   thread ")
    settle()
    with db.session() as s:
        assert s.get(Conversation, old).title == "Renamed thread"
    assert "Renamed thread" in [t.title for t in console.threads.rows()]

    def confirm():
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        box.button(QMessageBox.StandardButton.Yes).click()

    QTimer.singleShot(50, confirm)
    console.delete_thread(recent, confirm=True)
    settle()
    with db.session() as s:
        assert s.get(Conversation, recent) is None
    assert recent not in [t.id for t in console.threads.rows()]


def test_empty_rename_is_refused_with_a_message(qtbot, window, settle):
    from desktop.bus import bus
    from desktop.pages.console import actions

    cid = add_thread(window.ctx.db, "Keep me", [("user", "x")])
    console = window.pages["console"]
    with qtbot.waitSignal(bus.error, timeout=5000) as err:
        actions.rename_thread(console, cid, "   ")
    assert "empty" in err.args[0]
    with window.ctx.db.session() as s:
        assert s.get(Conversation, cid).title == "Keep me"


def test_promote_opens_an_editor_with_the_fact_and_enter_saves(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    console = window.pages["console"]
    fake_llm.reply(text="You prefer **tea** over `coffee`.\n\n```\nbrew()\n```")
    finish_turn(qtbot, console, "Remember: I like tea")
    settle()
    reply = console.transcript.rows()[-1]
    click_action(qtbot, console, reply.id, "promote")
    qtbot.waitUntil(lambda: getattr(console, "promote_editor", None) is not None
                    and console.promote_editor.isVisible(), timeout=5000)
    editor = console.promote_editor
    assert editor.label_edit.toPlainText() == "You prefer tea over coffee. brew()"  # Markdown stripped
    assert editor.category.currentText() == "fact"
    editor.label_edit.selectAll()
    qtbot.keyClicks(editor.label_edit, "Prefers tea over coffee")
    qtbot.keyClick(editor.label_edit, Qt.Key.Key_Return)  # Enter saves
    qtbot.waitUntil(lambda: not editor.isVisible(), timeout=5000)
    settle()
    with window.ctx.db.session() as s:
        (node,) = s.exec(select(MemoryNode)).all()
    assert (node.label, node.category, node.strength, node.source) == (
        "Prefers tea over coffee", "fact", 0.5, f"conversation:{console.conversation_id}#{reply.id}")
    assert "Added to the Atlas" in window.statusBar().currentMessage()

    # promoting the same fact again reinforces the node instead of adding a duplicate, and says so
    click_action(qtbot, console, reply.id, "promote")
    qtbot.waitUntil(lambda: console.promote_editor is not editor and console.promote_editor.isVisible(), timeout=5000)
    again = console.promote_editor
    again.label_edit.setPlainText("prefers tea over coffee")
    again.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: not again.isVisible(), timeout=5000)
    with window.ctx.db.session() as s:
        (node,) = s.exec(select(MemoryNode)).all()
    assert node.strength == 0.55 and "reinforced it" in window.statusBar().currentMessage()


def test_code_block_copy_button_puts_the_code_on_the_clipboard(qtbot, window, settle):
    cid = add_thread(window.ctx.db, "Code", [("user", "retry helper?"), ("assistant", CODE_REPLY)])
    console = window.pages["console"]
    window.show_page("console")
    with qtbot.waitSignal(console.thread_opened, timeout=5000):
        console.refresh_threads(select=cid)
    reply = console.transcript.rows()[-1]
    rendered = console.view.delegate.rendered(reply)
    assert rendered.code_blocks and rendered.code_blocks[0].language == "python"
    # pygments coloured the keyword `def`
    doc = rendered.doc
    block = doc.findBlockByNumber(rendered.code_blocks[0].first_block + 2)
    assert block.text().startswith("def retry")
    cursor = QTextCursor(doc)
    colours = set()
    for pos in range(block.position() + 1, block.position() + block.length()):
        cursor.setPosition(pos)
        colours.add(cursor.charFormat().foreground().color().name())
    assert len(colours) > 1
    QApplication.clipboard().clear()
    click_copy_code(qtbot, console, reply.id)
    assert QApplication.clipboard().text() == rendered.code_blocks[0].text
    assert QApplication.clipboard().text().startswith("import time\n\ndef retry(fn")


def test_system_prompt_preview_shows_exactly_what_is_sent(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle, system_prompt="You are Hermes, concise.")
    with window.ctx.db.session() as s:
        s.add(MemoryNode(label="Likes green tea", category="preference", strength=0.9))
        s.commit()
    console = window.pages["console"]
    qtbot.mouseClick(console.prompt_button, Qt.MouseButton.LeftButton)
    settle()
    qtbot.waitUntil(lambda: getattr(console, "prompt_dialog", None) is not None, timeout=3000)
    text = console.prompt_dialog.findChild(QPlainTextEdit).toPlainText()
    assert text.startswith("You are Hermes, concise.")
    assert "Likes green tea (preference)" in text
    console.prompt_dialog.close()


def test_search_across_threads_jumps_to_the_hit(qtbot, window, settle):
    db = window.ctx.db
    add_thread(db, "Short", [("user", "nothing to see")])
    long_id = add_thread(db, "Long", long_messages(1500, marker_at=200, marker="zanzibarite"),
                         start=datetime.now(UTC) - timedelta(days=2))
    console = window.pages["console"]
    window.show_page("console")
    _reload(console, settle)
    qtbot.keyClicks(console.search_box, "zanzibar")
    qtbot.waitUntil(lambda: console.search_results.list.count() == 1, timeout=5000)
    assert console.left_stack.currentIndex() == 1
    item = console.search_results.list.item(0)
    assert "zanzibarite" in item.text() and "Long" in item.text()
    with qtbot.waitSignal(console.jumped, timeout=5000) as jumped:
        rect = console.search_results.list.visualItemRect(item)
        qtbot.mouseClick(console.search_results.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    message_id = jumped.args[0]
    assert console.conversation_id == long_id
    row = console.transcript.row_of(message_id)
    assert row is not None and "zanzibarite" in console.transcript.row_at(row).content
    assert console.transcript.has_older()  # only a window around the hit was loaded, not the whole thread
    # the hit is on screen (the scroll lands once the view has laid out the loaded rows)
    qtbot.waitUntil(lambda: console.view.viewport().rect().intersects(
        console.view.visualRect(console.transcript.index(row))), timeout=5000)
    assert console.view.delegate.highlight_id == message_id
    assert console.threads.rows()[console.thread_view.currentIndex().row()].id == long_id


def test_export_thread_as_markdown_and_json(qtbot, window, settle, tmp_path):
    cid = add_thread(window.ctx.db, "Exported", [("user", "Q1"), ("assistant", "A1 with `code`")])
    console = window.pages["console"]
    with qtbot.waitSignal(console.thread_opened, timeout=5000):
        console.refresh_threads(select=cid)
    from desktop.pages.console import actions

    md_path, json_path = tmp_path / "out" / "t.md", tmp_path / "out" / "t.json"
    md_path.parent.mkdir()
    actions.export_thread(console, "markdown", md_path)
    actions.export_thread(console, "json", json_path)
    settle()
    md = md_path.read_text("utf-8")
    assert "Exported" in md and "Q1" in md and "A1 with `code`" in md
    data = json.loads(json_path.read_text("utf-8"))
    flat = json.dumps(data)
    assert "Q1" in flat and "A1 with `code`" in flat
    assert "Exported to" in window.statusBar().currentMessage()


def test_opening_a_thread_selects_the_connection_it_talks_to(qtbot, window, settle, fake_llm):
    from standin.demo.seed import add_connection

    first = bind_fake(window, fake_llm, settle)
    second = add_connection(window.ctx.db, "Second", fake_llm.base_url, "other-model")
    console = window.pages["console"]
    console.refresh_connections()
    settle()
    thread = add_thread(window.ctx.db, "Uses second", [("user", "hi")], connection_id=second)
    console.connection_combo.setCurrentIndex(console.connection_combo.findData(first))
    with qtbot.waitSignal(console.thread_opened, timeout=5000):
        console.refresh_threads(select=thread)
    assert console.current_connection_id() == second
    assert console.view.delegate.assistant_name == "Second"


def test_message_context_menu_copies_the_message(qtbot, window, settle):
    from PySide6.QtWidgets import QMenu

    cid = add_thread(window.ctx.db, "Menu", [("user", "copy me please"), ("assistant", "done")])
    console = window.pages["console"]
    with qtbot.waitSignal(console.thread_opened, timeout=5000):
        console.refresh_threads(select=cid)
    QApplication.clipboard().clear()
    seen = []

    def pick():
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu)
        seen.extend(a.text() for a in menu.actions())
        next(a for a in menu.actions() if a.text() == "Copy message").trigger()
        menu.close()

    QTimer.singleShot(50, pick)
    rect = console.view.visualRect(console.transcript.index(0))
    console.view.customContextMenuRequested.emit(rect.center())
    assert QApplication.clipboard().text() == "copy me please"
    assert seen == ["Copy message", "Promote to Atlas", "Edit…", "Fork from here"]  # a question: no regenerate


def test_promoting_a_very_long_message_says_the_label_was_shortened(qtbot, window, settle):
    long_text = "Notes: " + " ".join(f"point{i}" for i in range(800))
    cid = add_thread(window.ctx.db, "Long notes", [("user", long_text)])
    console = window.pages["console"]
    with qtbot.waitSignal(console.thread_opened, timeout=5000):
        console.refresh_threads(select=cid)
    click_action(qtbot, console, console.transcript.rows()[0].id, "promote")
    qtbot.waitUntil(lambda: getattr(console, "promote_editor", None) is not None, timeout=5000)
    editor = console.promote_editor
    assert len(editor.text()) <= 2000 and editor.text().endswith("…")  # a row the server accepts
    assert "shortened" in editor.findChild(QLabel, "EditorNote").text()
    qtbot.keyClick(editor.label_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not editor.isVisible(), timeout=5000)
    with window.ctx.db.session() as s:
        (node,) = s.exec(select(MemoryNode)).all()
    assert len(node.label) <= 2000


def test_search_hits_name_the_speaker_as_the_transcript_does(qtbot, window, settle, fake_llm):
    cid = bind_fake(window, fake_llm, settle)  # "Fake Hermes"
    add_thread(window.ctx.db, "Tea talk", [("user", "what about oolong"), ("assistant", "oolong is partly oxidised")],
               connection_id=cid)
    console = window.pages["console"]
    _reload(console, settle)
    qtbot.keyClicks(console.search_box, "oolong")
    qtbot.waitUntil(lambda: console.search_results.list.count() == 2, timeout=5000)
    metas = sorted(console.search_results.list.item(i).text().splitlines()[-1] for i in range(2))
    assert metas == ["Fake Hermes · Tea talk", "You · Tea talk"]
