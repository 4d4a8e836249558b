"""Data that looks like HTML is shown as text everywhere in the window, and nothing it names is read.

Every string here could come from outside: a connection's last error (a server's reply), a thread
title and a message (a model, or another device through sync), a memory label, a skill, a task, a
template name (another user's). Each one is an `<img>` tag, or a Markdown image, pointing at a named
pipe: if Qt ever treated it as rich text it would open the pipe (and, with a real endless device, read
until memory runs out). The pipe's other end notes every open, so "opened 0 times" is the proof.
"""

from __future__ import annotations

import html

import pytest
from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer
from PySide6.QtGui import Qt as QtGui
from PySide6.QtWidgets import QAbstractItemView, QApplication, QLabel, QMessageBox, QToolTip, QWidget

from desktop.safe_text import HtmlLabel
from standin.demo.seed import add_connection, add_thread
from tests.desktop.helpers import tip_text

pytestmark = pytest.mark.timeout(120)  # a pipe opened without the trap would block for ever: fail instead


def _tag(trap) -> str:
    return f'<img src="{trap.path}" width="24">'


def _seed(db, trap) -> dict:
    """Hostile text in every kind of row a page shows."""
    from agent.connections.check import CheckResult, record_check
    from agent.memory.atlas import add_node
    from agent.tasks.board import add_task
    from agent.templates.publish import publish
    from local_schema.models import Skill

    tag = _tag(trap)
    ids = {"connection": add_connection(db, f"{tag}Hermes", "http://127.0.0.1:9/v1", "model", status="error")}
    record_check(db, ids["connection"], CheckResult(status="error", reason=f"{tag} the server said no",
                                                    checked_at="2026-01-02T03:04:05.000000+00:00"))
    ids["thread"] = add_thread(db, f"{tag} a title", [
        ("user", f"{tag} hello"),
        ("assistant", f"A chart: ![chart]({trap.path}) ![x]({trap.path.as_uri()})\n\n{tag}\n\n"
                      f"<div>{tag}</div>"),
    ], connection_id=ids["connection"])
    node = add_node(db, f"{tag} likes tea", category=f"{tag}").node
    with db.write() as session:
        skill = Skill(name=f"{tag} skill", description=f"{tag} what it does", category="x",
                      template_prompt=f"{tag} answer in bullets",
                      test_cases=[{"prompt": f"{tag} case", "expectations": []}])
        session.add(skill)
    ids["task"] = add_task(db, f"{tag} a task", description=f"{tag} details").id
    ids["template"] = publish(db, f"{tag} template", description=f"{tag} shared", skill_ids=[skill.id],
                              memory_ids=[node.id]).id
    return ids


def _show_every_tooltip(window: QWidget) -> int:
    """Show each widget's tooltip and each item's ToolTipRole text the way Qt would on hover."""
    shown = 0
    for widget in [window, *window.findChildren(QWidget)]:
        if widget.toolTip():
            QToolTip.showText(QPoint(10, 10), widget.toolTip(), widget)
            shown += 1
        if isinstance(widget, QAbstractItemView) and widget.model() is not None:
            model = widget.model()
            stack = [QModelIndex()]
            while stack:
                parent = stack.pop()
                for row in range(min(model.rowCount(parent), 50)):
                    column, index = 0, model.index(row, 0, parent)
                    while index.isValid():  # (a list model's columnCount is not callable from Python)
                        text = index.data(Qt.ItemDataRole.ToolTipRole)
                        if text:
                            QToolTip.showText(QPoint(10, 10), str(text), widget.viewport())
                            shown += 1
                        column += 1
                        index = model.index(row, column, parent)
                    if model.rowCount(model.index(row, 0, parent)):  # a tree's children
                        stack.append(model.index(row, 0, parent))
    QToolTip.hideText()
    return shown


def _labels_showing_markup(window: QWidget, tag: str) -> list[str]:
    """Labels that would show the hostile tag as HTML (the same test Qt makes: Qt.mightBeRichText)."""
    bad = []
    for label in window.findChildren(QLabel):
        label.grab()  # paint it: a rich label would lay out (and load) its image now
        rich = label.textFormat() == Qt.TextFormat.RichText or (
            label.textFormat() == Qt.TextFormat.AutoText and QtGui.mightBeRichText(label.text()))
        if rich and tag in label.text():
            bad.append(f"{type(label).__name__} {label.objectName()!r}: {label.text()[:80]!r}")
    return bad


def test_every_page_shows_hostile_data_as_text_and_reads_no_file(fifo_trap, window, settle, qtbot):
    tag = _tag(fifo_trap)
    ids = _seed(window.ctx.db, fifo_trap)
    from desktop.bus import bus

    bus.changed.emit(frozenset({"agent_connections", "conversations", "messages", "memory_nodes", "skills",
                                "tasks", "templates"}), None)
    settle(100)
    console = window.pages["console"]
    console.refresh_threads(select=ids["thread"])
    settle(50)
    for key in window.pages:
        window.show_page(key)
        settle(60)
        window.grab()  # everything on the page painted: labels, delegates, the transcript's Markdown
    window.pages["skills"].select(window.pages["skills"].model.rows()[0].id)
    window.pages["bind"].refresh(select=ids["connection"])
    settle(50)
    window.show_page("bind")
    window.grab()
    bus.error.emit(f"{tag} failed")  # the status line (server errors reach it)
    window.grab()

    assert _show_every_tooltip(window) > 10
    assert _labels_showing_markup(window, tag) == []
    assert fifo_trap.opens() == 0
    # ... and the text is there, as text: in Bind's status reason, the Console title and its tooltip
    bind = window.pages["bind"]
    assert bind.status.reason.text() == f"{tag} the server said no"
    assert console.title_label.text() == f"{tag} a title"
    assert tip_text(console.title_label.toolTip()) == f"{tag} a title"
    assert tag in window.statusBar().currentMessage()


def test_the_transcript_shows_a_hostile_message_as_text(fifo_trap, window, settle, qtbot):
    tag = _tag(fifo_trap)
    ids = _seed(window.ctx.db, fifo_trap)
    console = window.pages["console"]
    window.show_page("console")
    with qtbot.waitSignal(console.thread_opened, timeout=5000):
        console.refresh_threads(select=ids["thread"])
    console.view.viewport().grab()
    reply = console.transcript.row_at(1)
    text = console.view.delegate.rendered(reply).doc.toPlainText()
    assert f"▣ chart ({fifo_trap.path})" in text and f"<div>{tag}</div>" in text
    assert fifo_trap.opens() == 0


def _answer_next_box(qtbot, seen: list, button=QMessageBox.StandardButton.Cancel) -> None:
    """When the next message box is up: note what it shows (painted), then press `button`."""

    def look() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, look)
            return
        box.grab()
        seen.append((box.textFormat(), box.text()))
        box.button(button).click()

    QTimer.singleShot(0, look)


def test_the_task_delete_box_shows_the_title_as_text(fifo_trap, window, settle, qtbot):
    tag = _tag(fifo_trap)
    ids = _seed(window.ctx.db, fifo_trap)
    tasks = window.show_page("tasks")
    tasks.refresh()
    settle(30)
    seen: list = []
    _answer_next_box(qtbot, seen)
    tasks.delete(ids["task"], confirm=True)
    assert seen == [(Qt.TextFormat.PlainText, f"Delete “{tag} a task”?")]
    assert fifo_trap.opens() == 0
    assert tasks.task(ids["task"]) is not None  # Cancel: still there


def test_template_notices_show_a_template_name_as_text(fifo_trap, window, settle, qtbot, tmp_path):
    """The import notice (Templates) and the install notice (the catalogue) both name the template."""
    from agent.templates.install import import_file
    from agent.templates.publish import export_template

    tag = _tag(fifo_trap)
    ids = _seed(window.ctx.db, fifo_trap)
    path = export_template(window.ctx.db, ids["template"], tmp_path / "shared.mirari-template.json")
    templates = window.show_page("templates")
    templates.import_file(str(path))
    settle(50)
    assert tag in templates.notice.text()
    result = import_file(window.ctx.db, path)
    templates.catalogue._installed(result)
    assert tag in templates.catalogue.notice.text()
    templates.grab()
    templates.catalogue.grab()
    assert _labels_showing_markup(window, tag) == []
    assert fifo_trap.opens() == 0


def test_formatted_labels_escape_whatever_text_they_are_given(qapp, fifo_trap):
    from desktop.safe_text import Html

    tag = _tag(fifo_trap)
    label = HtmlLabel(Html("<b>{}</b> said").format(tag))
    label.grab()
    plain = HtmlLabel(tag)  # a str, not Html: shown literally
    plain.grab()
    assert "&lt;img" in label.text() and plain.text() == html.escape(tag, quote=True)
    assert fifo_trap.opens() == 0


def test_a_window_starts_on_data_holding_a_hostile_message(fifo_trap, qtbot, tmp_path, memory_keyring):
    """The message was synced in before the start: the window opens, the Console opens that thread
    (the newest) and paints it, and nothing is read — no hang, no crash, every start."""
    from local_schema.database import open_database
    from local_schema.paths import database_path
    from sync.secrets import SecretStore
    from tests.desktop.conftest import close_window, open_window

    db = open_database(database_path(tmp_path))
    tid = add_thread(db, "Chart", [("user", "the chart?"),
                                   ("assistant", f"![chart]({fifo_trap.path}) {_tag(fifo_trap)}")])
    db.close()

    window = open_window(qtbot, tmp_path, SecretStore(tmp_path, backend=memory_keyring))
    try:
        console = window.pages["console"]
        qtbot.waitUntil(lambda: console.conversation_id == tid and console.transcript.rowCount() == 2,
                        timeout=5000)
        window.show_page("console")
        window.grab()
        assert fifo_trap.opens() == 0
        assert "▣ chart" in console.view.delegate.rendered(console.transcript.row_at(1)).doc.toPlainText()
    finally:
        close_window(window)
