"""V Mirror: grounded self-reviews. The reports on the left (open, delete); on the right either the
"New review" form (form.py) or the open report (report_view.py).

Reads and the one-click actions are `Op`s; a review runs as a long job on the window's JobRunner
(ctx.jobs) with progress and Cancel. The rules are in agent/mirror/review.py; this page only shows and asks.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QMessageBox

from desktop.bus import bus
from desktop.models.mirror_model import ReportDelegate, ReportListModel
from desktop.models.record_list_model import RECORD_ROLE
from desktop.ops import Op
from desktop.pages.mirror.report_view import ReportData
from desktop.pages.mirror.view import MirrorView
from desktop.pages.protocol import PageHooks
from desktop.safe_text import ask, warn


def describe_failure(exc: BaseException) -> str:
    """One sentence for a review that did not produce a report (nothing was stored in any case)."""
    from agent.llm.errors import LLMError
    from agent.llm.structured import StructuredOutputError
    from agent.mirror.review import MirrorError, ReviewError
    from sync.secrets import SecretsUnavailable

    if isinstance(exc, LLMError):
        return f"The reviewer could not be asked: {exc.message} Nothing was stored."
    if isinstance(exc, StructuredOutputError | ReviewError | MirrorError | SecretsUnavailable):
        return str(exc)
    return f"The review failed ({type(exc).__name__}: {exc}). Nothing was stored."


class MirrorPage(MirrorView, PageHooks):
    """The controller over MirrorView (view.py): models, loading, the review job, the report's actions."""

    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.job = None
        self._selected: str | None = None
        self._preview_seq = 0
        self._sources_seq = 0
        self.model = ReportListModel(self)
        self.list.setModel(self.model)
        self.list.setItemDelegate(ReportDelegate(self.list))
        self._wire()
        self._listening = True
        self.refresh()
        self.load_sources(initial=True)

    def _wire(self) -> None:
        self.new_button.clicked.connect(self.new_review)
        self.list.selectionModel().currentChanged.connect(self._on_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.form.changed.connect(self.update_preview)
        self.form.run_clicked.connect(self.run)
        self.form.cancel_clicked.connect(self.cancel)
        self.form.budget_edited.connect(self._save_budget)
        self.report.apply_clicked.connect(self.apply_prompt)
        self.report.undo_clicked.connect(self.undo_prompt)
        self.report.to_memory.connect(lambda rid, n: self.recommend(rid, n, "memory"))
        self.report.to_skill.connect(lambda rid, n: self.recommend(rid, n, "skill"))
        bus.changed.connect(self._on_changed)
        bus.theme_changed.connect(self._on_theme)

    # -- loading ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        from agent.mirror.review import list_reports

        db = self.ctx.db
        Op(self, lambda: list_reports(db), "Loading mirror reports").success(self._show_reports).run()

    def _show_reports(self, reports) -> None:
        self.model.set_rows(reports)
        self.empty.setVisible(not reports)
        row = self.model.row_of(self._selected) if self._selected else None
        selection = self.list.selectionModel()
        selection.blockSignals(True)
        if row is not None:
            selection.setCurrentIndex(self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)
        else:
            selection.clearSelection()
        selection.blockSignals(False)
        self.delete_button.setEnabled(row is not None)
        if row is None and self.stack.currentWidget() is self.report:
            self.new_review()  # the open report was deleted (here or on another device)
        elif row is not None:
            self.open_report(self._selected)

    def load_sources(self, initial: bool = False) -> None:
        """Connections and threads for the form (and, the first time, the budget setting)."""
        from agent.mirror.settings import load_budget

        db, data_dir = self.ctx.db, self.ctx.data_dir

        def load():
            from agent.chat.threads import list_threads
            from agent.connections.rows import live_connections

            return ([(c.id, c.name, c.model) for c in live_connections(db)], list_threads(db),
                    load_budget(data_dir) if initial else None)

        self._sources_seq += 1
        seq = self._sources_seq
        Op(self, load, "Loading connections and threads").success(lambda r: self._show_sources(r, seq)).run()

    def _show_sources(self, result, seq: int) -> None:
        connections, threads, budget = result
        if seq != self._sources_seq:  # an older load finishing late must not undo a newer one
            if budget is not None:
                self.form.budget.setValue(budget)
            return
        if budget is not None:
            self.form.budget.setValue(budget)
        self.form.set_connections(connections)
        self.form.set_threads(threads)
        if not connections:
            self.form.show_problem("No connection yet: bind one under I. Bind, then review its Console threads.")

    def update_preview(self) -> None:
        from agent.mirror.review import ReviewError, preview

        spec, db = self.form.spec(), self.ctx.db
        self._preview_seq += 1
        seq = self._preview_seq

        def measure():
            # "Pick a thread first" is an answer, not a failure: returned, so it is not logged as an error
            # with a traceback each time the form or the data changes (a sync cycle re-measures).
            try:
                return preview(db, spec)
            except ReviewError as exc:
                return exc

        def shown(request) -> None:
            if seq != self._preview_seq:
                return
            if isinstance(request, ReviewError):
                self.form.show_problem(str(request))
            else:
                self.form.show_preview(request)

        def problem(exc) -> None:
            if seq == self._preview_seq:
                self.form.show_problem(describe_failure(exc))

        Op(self, measure, "Measuring the review").success(shown).failure(problem).run()

    def open_report(self, report_id: str) -> None:
        from agent.mirror import review
        from local_schema.models import AgentConnection

        db = self.ctx.db

        def load():
            with db.session() as session:
                report = review.get_report_in(session, report_id)
                connection = (session.get(AgentConnection, report.agent_connection_id)
                              if report.agent_connection_id else None)
                return ReportData(report, connection.name if connection else "",
                                  review.current_prompt_in(session, report))

        def show(data: ReportData) -> None:
            if self._selected == report_id:
                self.report.show_report(data)
                self.stack.setCurrentWidget(self.report)

        Op(self, load, "Opening the report").success(show).failure(lambda _e: self.refresh()).run()

    # -- navigation -------------------------------------------------------------------------------
    def _on_selected(self, current, _previous) -> None:
        report = current.data(RECORD_ROLE) if current.isValid() else None
        if report is None:
            return
        self._selected = report.id
        self.delete_button.setEnabled(True)
        self.open_report(report.id)

    def new_review(self) -> None:
        self._selected = None
        self.list.selectionModel().clearSelection()
        self.list.selectionModel().setCurrentIndex(self.model.index(-1), QItemSelectionModel.SelectionFlag.Clear)
        self.delete_button.setEnabled(False)
        self.report.show_report(None)
        self.stack.setCurrentWidget(self.form)
        self.form.title.setFocus()

    def _on_changed(self, tables, initiator) -> None:
        if initiator is self:
            return
        if "mirror_reports" in tables or "agent_connections" in tables:
            self.refresh()
        if tables & {"agent_connections", "conversations", "messages"}:
            self.load_sources()
        elif tables & {"memory_nodes", "skills"}:
            self.update_preview()  # the memory block and the skills are part of what is sent

    def _on_theme(self, _colors) -> None:
        if self.report.data is not None:
            self.report.show_report(self.report.data)  # colours baked into the rich text

    # -- running a review -------------------------------------------------------------------------
    def run(self) -> None:
        from agent.mirror import review

        if self.job is not None and self.job.active:
            return
        spec, db, secrets = self.form.spec(), self.ctx.db, self.ctx.secrets
        reviewer_id = spec.reviewer_id or spec.connection_id

        def work(job_ctx):
            key = secrets.get_key(reviewer_id) if secrets is not None and reviewer_id else ""
            return review.run_review(db, spec, api_key=key, ctx=job_ctx)

        self.form.set_running(True, "Waiting for the job queue…")
        # What the review wrote (the report; memory and skills it changed) is announced by the job.
        self.job = self.ctx.jobs.submit(f"Mirror review “{spec.title or 'untitled'}”", work, initiator=self)
        self.job.progressed.connect(self.form.show_progress)
        self.job.finished.connect(self._finished)
        self.job.failed.connect(self._failed)
        self.job.cancelled.connect(lambda: self.form.set_running(False, "Cancelled; nothing was stored."))

    def cancel(self) -> None:
        if self.job is not None and self.job.active:
            self.ctx.jobs.cancel(self.job)

    def _finished(self, result) -> None:
        self.form.set_running(False, "")
        bus.notice.emit(result.summary())
        self._selected = result.report_id
        self.refresh()

    def _failed(self, exc) -> None:
        self.form.set_running(False)
        self.form.show_error(describe_failure(exc))

    def _save_budget(self, value: int) -> None:
        from agent.mirror.settings import save_budget

        data_dir = self.ctx.data_dir
        Op(self, lambda: save_budget(data_dir, value), "Saving the review budget").run()

    # -- one-click actions ------------------------------------------------------------------------
    def _act(self, fn, label: str, report_id: str, done=None) -> None:
        def ok(result) -> None:
            if done is not None:
                done(result)
            self.open_report(report_id)
            self.refresh()

        Op(self, fn, label).success(ok).failure(
            lambda exc: warn(self, "Mirror Mode", describe_failure(exc))).run()

    def apply_prompt(self, report_id: str) -> None:
        from agent.mirror import review

        db = self.ctx.db
        self._act(lambda: review.apply_prompt(db, report_id), "Applying the suggested prompt", report_id,
                  lambda _r: bus.notice.emit("Suggested prompt applied; Undo restores the previous one."))

    def undo_prompt(self, report_id: str, force: bool = False) -> None:
        from agent.mirror import review

        db = self.ctx.db

        def failed(exc) -> None:
            if isinstance(exc, review.PromptChanged) and not force:
                answer = ask(self, "Undo the applied prompt", f"{exc}",
                             QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                             QMessageBox.StandardButton.Cancel)
                if answer == QMessageBox.StandardButton.Yes:
                    self.undo_prompt(report_id, force=True)
                return
            warn(self, "Mirror Mode", describe_failure(exc))

        def ok(_result) -> None:
            bus.notice.emit("Previous prompt restored.")
            self.open_report(report_id)
            self.refresh()

        Op(self, lambda: review.undo_prompt(db, report_id, force=force), "Restoring the previous prompt") \
            .success(ok).failure(failed).run()

    def recommend(self, report_id: str, number: int, kind: str) -> None:
        from agent.mirror import review

        db = self.ctx.db
        fn = review.recommendation_to_memory if kind == "memory" else review.recommendation_to_skill
        self._act(lambda: fn(db, report_id, number), "Acting on a recommendation", report_id,
                  lambda result: bus.notice.emit(result.message))

    def delete_selected(self) -> None:
        from agent.mirror.review import delete_report

        if not self._selected:
            return
        report_id, db = self._selected, self.ctx.db
        self._selected = None
        Op(self, lambda: delete_report(db, report_id), "Deleting the report") \
            .success(lambda _r: (self.new_review(), self.refresh())).run()

    def shutdown(self) -> None:
        """The window is closing (its database is about to close): a running review is cancelled (it
        stores nothing), and the page stops listening to the app-wide bus."""
        self.cancel()
        if self._listening:
            self._listening = False
            bus.changed.disconnect(self._on_changed)
            bus.theme_changed.disconnect(self._on_theme)
