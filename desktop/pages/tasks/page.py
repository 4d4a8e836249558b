"""VI. Tasks — a board of Pending / In progress / Done (agent.tasks.board).

Add with the line at the top (Enter); edit with a double click, Enter or F2; delete with Delete; move
by dragging a task to another column or with Ctrl+Left / Ctrl+Right. The connection filter shows the
tasks scoped to one connection (a new task then gets that scope too). Every change is one background
op, and the board is redrawn from the database after it — and after a sync brought other devices'
changes. Tasks never run by themselves.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QMenu, QMessageBox

from desktop.bus import bus
from desktop.ops import Op
from desktop.pages.protocol import PageHooks
from desktop.pages.tasks.view import ALL, UNSCOPED, TasksView
from desktop.safe_text import ask
from desktop.widgets.task_list import TaskList


def load_board(db, scope: str):
    """Runs on a pool thread: the tasks shown for the filter, and the live connections."""
    from agent.connections.rows import live_connections
    from agent.tasks.board import list_tasks

    connections = [(c.id, c.name) for c in live_connections(db)]
    tasks = list_tasks(db, connection_id=None if scope in (ALL, UNSCOPED) else scope)
    if scope == UNSCOPED:
        tasks = [t for t in tasks if t.connection_id is None]
    return tasks, connections


class TasksPage(TasksView, PageHooks):
    """The controller over TasksView (view.py): loading the board, adding, editing, moving, deleting."""

    changed = Signal(str)  # a task id that was added, edited, moved or deleted

    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.tasks: list = []
        self.connections: list[tuple[str, str]] = []
        self._focus_after: str | None = None  # select this task once the board is redrawn
        self._move_focus = True  # ... and put the focus on it (not after an add: typing goes on)
        self._wire()
        self.refresh()

    def _wire(self) -> None:
        self.filter_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.new_title.returnPressed.connect(self.add_from_input)
        self.add_button.clicked.connect(self.add_from_input)
        for task_list in self.lists.values():
            task_list.dropped.connect(self.move)
            task_list.step.connect(self.step)
            task_list.edit_requested.connect(self.edit)
            task_list.delete_requested.connect(lambda task_id: self.delete(task_id, confirm=True))
            task_list.customContextMenuRequested.connect(lambda pos, tl=task_list: self._menu(tl, pos))
        bus.changed.connect(self._on_changed)

    # --- data ---------------------------------------------------------------------------------------
    def scope(self) -> str:
        return self.filter_combo.currentData() or ALL

    def refresh(self) -> None:
        scope = self.scope()
        Op(self, lambda: load_board(self.ctx.db, scope), "Loading tasks").success(self._show).run()

    def _on_changed(self, tables, initiator) -> None:
        if initiator is not self and {"tasks", "agent_connections"} & set(tables):  # own ops refresh themselves
            self.refresh()

    def _show(self, result) -> None:
        from agent.tasks.board import STATUS_LABELS

        self.tasks, self.connections = result
        self._fill_filter()
        focused = self._focus_after or self.current_task_id()
        for status, task_list in self.lists.items():
            task_list.clear()
            column = [t for t in self.tasks if t.status == status]
            for task in column:
                task_list.add_task_item(task)
            self.headers[status].setText(f"{STATUS_LABELS[status]}  ·  {len(column)}")
        if focused:
            for task_list in self.lists.values():
                if task_list.select_task(focused):
                    if self._focus_after and self._move_focus:
                        task_list.setFocus()
                    break
        self._focus_after, self._move_focus = None, True

    def _fill_filter(self) -> None:
        current = self.scope()
        self.filter_combo.blockSignals(True)
        self.filter_combo.clear()
        self.filter_combo.addItem("All connections", ALL)
        self.filter_combo.addItem("No connection", UNSCOPED)
        for cid, name in self.connections:
            self.filter_combo.addItem(name, cid)
        index = self.filter_combo.findData(current)
        self.filter_combo.setCurrentIndex(index if index >= 0 else 0)
        self.filter_combo.blockSignals(False)
        if index < 0 and current != ALL:  # the filtered connection was deleted
            self.refresh()

    def current_task_id(self) -> str | None:
        for task_list in self.lists.values():
            if task_list.hasFocus() and task_list.current_task_id():
                return task_list.current_task_id()
        return next((tl.current_task_id() for tl in self.lists.values() if tl.current_task_id()), None)

    def task(self, task_id: str):
        return next((t for t in self.tasks if t.id == task_id), None)

    # --- actions ------------------------------------------------------------------------------------
    def _run(self, fn, label: str, focus: str | None = None, move_focus: bool = True) -> None:
        def done(result) -> None:
            self.error.hide()
            task_id = getattr(result, "id", None) or focus
            if task_id:
                self._focus_after, self._move_focus = task_id, move_focus
                self.changed.emit(task_id)
            self.refresh()

        Op(self, fn, label).success(done).failure(self._failed).run()

    def _failed(self, exc: BaseException) -> None:
        self.error.setText(str(exc))
        self.error.show()
        self.refresh()

    def add_from_input(self) -> None:
        from agent.tasks.board import add_task

        title = self.new_title.text()
        if not title.strip():
            self.new_title.setFocus()
            return
        scope = self.scope()
        connection = None if scope in (ALL, UNSCOPED) else scope
        self.new_title.clear()
        # The new task is selected, the focus stays in the entry: Enter, type, Enter adds several in a row.
        self._run(lambda: add_task(self.ctx.db, title, connection_id=connection), "Adding a task", move_focus=False)

    def move(self, task_id: str, status: str) -> None:
        from agent.tasks.board import move_task

        task = self.task(task_id)
        if task is not None and task.status == status:
            return
        self._run(lambda: move_task(self.ctx.db, task_id, status), "Moving a task", focus=task_id)

    def step(self, task_id: str, direction: int) -> None:
        from agent.tasks.board import next_status

        task = self.task(task_id)
        target = next_status(task.status, direction) if task else None
        if target is not None:
            self.move(task_id, target)

    def edit(self, task_id: str, changes: dict | None = None) -> None:
        """Open the editor (or apply `changes` directly, as tests do) and save what it returns."""
        from agent.tasks.board import edit_task

        task = self.task(task_id)
        if task is None:
            return
        if changes is None:
            from desktop.dialogs.task_dialog import TaskDialog

            dialog = TaskDialog(self, task, self.connections)
            if dialog.exec() != TaskDialog.DialogCode.Accepted:
                return
            changes = dialog.changes()
        self._run(lambda: edit_task(self.ctx.db, task_id, **changes), "Saving a task", focus=task_id)

    def delete(self, task_id: str, confirm: bool = True) -> None:
        from agent.tasks.board import delete_task

        task = self.task(task_id)
        if task is None:
            return
        if confirm:
            answer = ask(self, "Delete task", f"Delete “{task.title}”?",
                         QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                         QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._run(lambda: delete_task(self.ctx.db, task_id), "Deleting a task")

    def _menu(self, task_list: TaskList, pos) -> None:
        from agent.tasks.board import STATUS_LABELS

        item = task_list.itemAt(pos)
        if item is None:
            return
        task_id = task_list.current_task_id() if task_list.currentItem() is item else None
        task_id = task_id or item.data(Qt.ItemDataRole.UserRole + 1)
        menu = QMenu(self)
        for status, label in STATUS_LABELS.items():
            if status != task_list.status:
                menu.addAction(f"Move to {label}", lambda s=status: self.move(task_id, s))
        menu.addSeparator()
        menu.addAction("Edit…", lambda: self.edit(task_id))
        menu.addAction("Delete…", lambda: self.delete(task_id, confirm=True))
        menu.exec(task_list.viewport().mapToGlobal(pos))
