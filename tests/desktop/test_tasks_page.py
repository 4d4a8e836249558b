"""The Tasks board in the real window: add, move by keyboard and by drag and drop, edit, delete, filter."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from agent.tasks import board
from standin.demo.seed import add_connection


def _titles(page, status):
    task_list = page.lists[status]
    return [task_list.item(i).text().split("\n")[0] for i in range(task_list.count())]


def _stored(db):
    return {t.title: t.status for t in board.list_tasks(db)}


def _add(qtbot, page, settle, title):
    page.new_title.setFocus()
    qtbot.keyClicks(page.new_title, title)
    qtbot.keyClick(page.new_title, Qt.Key.Key_Return)
    settle()


def test_add_and_move_with_the_keyboard(qtbot, window, settle):
    page = window.show_page("tasks")
    _add(qtbot, page, settle, "Plan the week")
    _add(qtbot, page, settle, "Write the report")
    assert _titles(page, "pending") == ["Plan the week", "Write the report"]
    pending = page.lists["pending"]
    pending.setFocus()
    pending.setCurrentRow(1)
    qtbot.keyClick(pending, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    settle()
    assert _stored(window.ctx.db) == {"Plan the week": "pending", "Write the report": "in_progress"}
    # The moved task stays selected and focused in its new column, so it can go on moving.
    progress = page.lists["in_progress"]
    assert progress.hasFocus() and progress.current_task_id() is not None
    qtbot.keyClick(progress, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    settle()
    qtbot.keyClick(page.lists["done"], Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)  # past the end
    settle()
    assert _titles(page, "done") == ["Write the report"]
    qtbot.keyClick(page.lists["done"], Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)
    settle()
    assert _stored(window.ctx.db)["Write the report"] == "in_progress"
    assert page.headers["in_progress"].text().endswith("1")


def test_drag_and_drop_between_columns(qtbot, window, settle):
    page = window.show_page("tasks")
    task = board.add_task(window.ctx.db, "Drag me")
    page.refresh()
    settle()
    source, target = page.lists["pending"], page.lists["done"]
    mime = source.mimeData([source.item(0)])  # exactly what a drag out of the column carries
    drop = QDropEvent(target.viewport().rect().center().toPointF(), Qt.DropAction.MoveAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    target.dropEvent(drop)
    assert drop.isAccepted()
    settle()
    assert _stored(window.ctx.db) == {"Drag me": "done"}
    assert _titles(page, "done") == ["Drag me"] and _titles(page, "pending") == []
    # Dropping something that is not a task does nothing.
    from PySide6.QtCore import QMimeData

    other = QMimeData()
    other.setText(task.id)
    foreign = QDropEvent(QPoint(5, 5).toPointF(), Qt.DropAction.MoveAction, other, Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier)
    page.lists["pending"].dropEvent(foreign)
    settle()
    assert _stored(window.ctx.db) == {"Drag me": "done"}


def test_edit_delete_and_filter_by_connection(qtbot, window, settle, monkeypatch):
    db = window.ctx.db
    hermes = add_connection(db, "Hermes", "http://127.0.0.1:9/v1", "hermes3")
    add_connection(db, "Other", "http://127.0.0.1:9/v1", "m")
    scoped = board.add_task(db, "Tune Hermes", connection_id=hermes)
    board.add_task(db, "Unscoped")
    page = window.show_page("tasks")
    page.refresh()
    settle()
    assert page.filter_combo.count() == 4  # all, no connection, Hermes, Other
    page.filter_combo.setCurrentIndex(page.filter_combo.findData(hermes))
    settle()
    assert _titles(page, "pending") == ["Tune Hermes"]
    from desktop.widgets.task_list import DETAIL_ROLE

    assert page.lists["pending"].item(0).data(DETAIL_ROLE) == "↳ Hermes"
    _add(qtbot, page, settle, "Also for Hermes")  # the filter's connection becomes the new task's scope
    assert [t.title for t in board.list_tasks(db, connection_id=hermes)] == ["Tune Hermes", "Also for Hermes"]

    page.edit(scoped.id, {"title": "Tune Hermes well", "description": "lower temperature", "connection_id": None,
                          "status": "in_progress"})
    settle()
    assert _titles(page, "in_progress") == []  # unscoped now: not shown under the Hermes filter
    page.filter_combo.setCurrentIndex(page.filter_combo.findData("__all__"))
    settle()
    assert _titles(page, "in_progress") == ["Tune Hermes well"]

    monkeypatch.setattr("desktop.pages.tasks.page.ask", lambda *a, **k: QMessageBox.StandardButton.Yes)
    progress = page.lists["in_progress"]
    progress.setFocus()
    progress.setCurrentRow(0)
    qtbot.keyClick(progress, Qt.Key.Key_Delete)
    settle()
    assert "Tune Hermes well" not in _stored(db)


def test_a_refused_change_is_shown_and_the_board_stays_true(qtbot, window, settle):
    page = window.show_page("tasks")
    task = board.add_task(window.ctx.db, "Keep")
    page.refresh()
    settle()
    page.edit(task.id, {"title": "x" * 501})
    settle()
    assert page.error.isVisible() and "too long" in page.error.text()
    assert _titles(page, "pending") == ["Keep"]
