"""IV. Skill Forge — skills grouped by status on the left, the selected skill on the right.

Reads run in Ops (actions.load), edits and moves in Ops through agent.skills.forge, and the two
long things — Suggest Skill and Run tests — are jobs on the app's long-job runner (progress, Cancel;
a cancelled job stores nothing). The page refreshes whenever the change bus says `skills` (or the
connections) changed, whoever changed them: this page, a job, another page, or a sync.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Signal

from desktop.bus import bus
from desktop.models.skill_model import SKILL_ROLE, SkillTreeModel
from desktop.ops import Op
from desktop.pages.protocol import PageHooks
from desktop.pages.skills import actions
from desktop.pages.skills.view import SkillsView

WATCHED = frozenset({"skills", "agent_connections", "mcp_servers", "mcp_tools"})


class SkillsPage(SkillsView, PageHooks):
    """The controller over SkillsView (view.py): loading, selection, the suggest and test jobs."""

    loaded = Signal()  # a refresh has been shown
    job_done = Signal(str, object)  # "suggest" | "test", the job's result (or exception) — for tests

    def __init__(self, ctx):
        self.ctx = ctx  # before the view: SkillDetail is built with the page
        self.selected_id: str | None = None
        self._pending: str | None = None  # asked for by select() before a load had it
        self.job = None  # the suggest or test job this page started and is showing
        self.snapshot: actions.Snapshot | None = None
        super().__init__()
        self.model = SkillTreeModel(self)
        self.set_tree_model(self.model)
        self._wire()
        self.refresh()

    def _wire(self) -> None:
        self.cancel_suggest_button.clicked.connect(self.cancel_job)
        self.new_button.clicked.connect(self.open_new)
        self.suggest_button.clicked.connect(self.open_suggest)
        self.tree.selectionModel().currentChanged.connect(self._on_current)
        self.model.modelReset.connect(self._after_reset)
        self.detail.run_requested.connect(self.run_tests)
        self.detail.cancel_requested.connect(self.cancel_job)
        self.detail.threshold_changed.connect(self.set_threshold)
        bus.changed.connect(self._on_changed)
        bus.theme_changed.connect(self._on_theme)

    # --- loading ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        db, data_dir = self.ctx.db, self.ctx.data_dir
        Op(self, lambda: actions.load(db, data_dir), "Loading skills").success(self._show).run()

    def _on_changed(self, tables, _initiator) -> None:
        if WATCHED & set(tables):
            self.refresh()

    def _on_theme(self, _colors) -> None:
        self.refresh()  # the rows' colours are chosen when they are loaded

    def _show(self, snapshot: actions.Snapshot) -> None:
        self.snapshot = snapshot
        self.model.set_rows(snapshot.rows)  # _after_reset re-selects
        self.detail.set_connections(snapshot.connections, self.ctx.settings.active_connection or None)
        self.detail.set_threshold(snapshot.min_score)
        self.loaded.emit()

    def _after_reset(self) -> None:
        self.tree.expandAll()
        for group in range(self.model.rowCount()):
            self.tree.setFirstColumnSpanned(group, QModelIndex(), True)
        index = self.model.index_of(self._pending)
        if index.isValid():
            self._pending = None
        else:
            index = self.model.index_of(self.selected_id)
        if not index.isValid() and self.model.rows():
            index = self.model.index_of(self.model.rows()[0].id)
        selection = self.tree.selectionModel()
        selection.blockSignals(True)
        self.tree.setCurrentIndex(index)
        selection.blockSignals(False)
        if index.isValid():
            self._show_current(index)
        else:  # nothing to show yet; a skill asked for by select() is picked when the next load has it
            self.detail.show_row(None)

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = current.data(SKILL_ROLE) if current.isValid() else None
        if row is None:
            return  # a group row: keep showing the skill that was selected
        self._pending = None  # the user chose
        if self.detail.row is not None and row.id != self.detail.row.id and self.detail.has_unsaved_edits():
            self.detail.save()  # moving to another skill keeps the edits of this one
        self._show_current(current)

    def _show_current(self, index: QModelIndex) -> None:
        row = index.data(SKILL_ROLE) if index.isValid() else None
        self.selected_id = row.id if row else None
        self.detail.show_row(row)

    def select(self, skill_id: str | None) -> None:
        """Show this skill; one not loaded yet (just written elsewhere) is shown when a load has it."""
        self._pending = skill_id
        self.selected_id = skill_id
        self._after_reset()

    def moved(self, moved) -> None:
        self.selected_id = moved.skill.id
        for warning in moved.warnings:
            bus.notice.emit(warning)
        bus.notice.emit(f"{moved.skill.name} is now {moved.skill.status}")

    def show_problem(self, text: str) -> None:
        self.problem_label.setText(text)
        self.problem_label.setVisible(bool(text))

    def set_threshold(self, value: float) -> None:
        from agent.skills.settings import save_min_score

        data_dir = self.ctx.data_dir
        Op(self, lambda: save_min_score(data_dir, value), "Saving the promotion threshold").success(
            lambda _v: self.refresh()).failure(lambda e: self.show_problem(str(e))).run()

    # --- a skill written by hand -----------------------------------------------------------------
    def open_new(self) -> None:
        from desktop.dialogs.skill_new import NewSkillDialog

        dialog = NewSkillDialog(self)
        if dialog.exec():
            self.create(**dialog.values())

    def create(self, **fields) -> None:
        """Store a skill written by hand (agent.skills.forge.create_skill: the checks of a save), then show it."""
        from agent.skills.forge import create_skill

        db = self.ctx.db

        def created(skill) -> None:
            self.select(skill.id)
            bus.notice.emit(f"Added: {skill.name} (suggested; accept it to start testing)")

        Op(self, lambda: create_skill(db, **fields), "Adding the skill").success(created) \
            .failure(lambda exc: self.show_problem(str(exc))).run()

    # --- long jobs -------------------------------------------------------------------------------
    def open_suggest(self) -> None:

        db = self.ctx.db
        connections = self.snapshot.connections if self.snapshot else []
        Op(self, lambda: actions.load_threads(db), "Loading threads").success(
            lambda threads: self._ask_suggest(connections, threads)).run()

    def _ask_suggest(self, connections, threads) -> None:
        from desktop.dialogs.skill_dialogs import SuggestDialog

        dialog = SuggestDialog(self, connections, threads, self.detail.connection_combo.currentData())
        if dialog.exec():
            self.suggest(**dialog.values())

    def suggest(self, connection_id: str, context: str | None = None, conversation_id: str | None = None):
        from agent.skills.suggest import suggest_skill

        db, secrets = self.ctx.db, self.ctx.secrets

        def job(ctx):
            key = secrets.get_key(connection_id) if secrets is not None else ""
            return suggest_skill(db, connection_id, key, context=context, conversation_id=conversation_id, ctx=ctx)

        return self._start("suggest", "Suggesting a skill", job)

    def run_tests(self, skill_id: str, connection_id: str, runs: int, approval: str = "never"):
        """The test job; a skill that names tools runs them in the window's ToolHost, approved by `approval`
        (the card's one-time confirmation: "all" or "never"; tools marked Always run either way)."""
        from agent.skills.runner import run_skill_tests
        from desktop.tools_runtime import tool_host

        db, secrets = self.ctx.db, self.ctx.secrets
        name = self.detail.row.skill.name if self.detail.row else "skill"
        host = tool_host(self.ctx)  # cheap; made here so the window closes it with its pages

        def job(ctx):
            key = secrets.get_key(connection_id) if secrets is not None else ""
            return run_skill_tests(db, skill_id, connection_id, key, runs=runs, ctx=ctx, host=host,
                                   approval=approval, secrets=secrets)

        return self._start("test", f"Testing “{name}”", job)

    def _start(self, kind: str, label: str, fn):
        self.show_problem("")
        job = self.ctx.jobs.submit(label, fn, initiator=self)  # it announces what it stored
        self.job = job
        self._set_busy(kind, True, label)
        job.state_changed.connect(lambda state: state == "running" and self._set_busy(kind, True, label + "…"))
        job.progressed.connect(self._progress if kind == "test" else
                               lambda _d, _t, text: self.job_label.setText(text + "…"))
        job.finished.connect(lambda result: self._ended(kind, result, None))
        job.failed.connect(lambda error: self._ended(kind, None, error))
        job.cancelled.connect(lambda: self._ended(kind, None, "cancelled"))
        return job

    def _set_busy(self, kind: str, busy: bool, text: str = "") -> None:
        if kind == "suggest":
            self.suggest_button.setEnabled(not busy)
            self.cancel_suggest_button.setVisible(busy)
            self.job_label.setText(text if busy else "")
        else:
            self.detail.set_running(busy, text)

    def _progress(self, done: int, total: int, text: str) -> None:
        self.detail.show_progress(done, total, text)

    def cancel_job(self) -> None:
        if self.job is not None and self.job.active:
            self.ctx.jobs.cancel(self.job)

    def _ended(self, kind: str, result, error) -> None:
        self.job = None
        self._set_busy(kind, False)
        if error == "cancelled":
            bus.notice.emit("Cancelled — nothing was stored")
        elif error is not None:
            self.show_problem(str(error))
        elif kind == "suggest":
            self._pending = self.selected_id = result.id
            bus.notice.emit(f"Suggested: {result.name}")
        else:
            bus.notice.emit(result.summary())
        self.job_done.emit(kind, error if error is not None else result)

    def shutdown(self) -> None:
        """Closing the window cancels this page's job (it stores nothing) and stops the tool servers a test
        run started (the pages go together; closing the shared host twice is harmless)."""
        from desktop.tools_runtime import close_tool_host

        self.cancel_job()
        close_tool_host(self.ctx)
