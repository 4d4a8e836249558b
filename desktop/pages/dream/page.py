"""VII Dream: the dreams list, each report with its proposals (Accept / Reject, one click each), the
dream settings, and "Dream now". The automatic part lives in `desktop.dream_controller`."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel

from desktop.bus import bus
from desktop.dream_controller import DreamController
from desktop.models.dream_model import STATUS_WORDS, DreamDelegate, DreamListModel
from desktop.models.record_list_model import RECORD_ROLE
from desktop.ops import Op
from desktop.pages.dream.view import DreamView
from desktop.pages.protocol import PageHooks
from desktop.safe_text import inform, warn


class DreamPage(DreamView, PageHooks):
    """The controller over DreamView (view.py): models, loading, settings, decisions."""

    def __init__(self, ctx, controller: DreamController | None = None):
        super().__init__()
        self.ctx = ctx
        self.controller = controller or ctx.dream  # app-wide: the window starts and stops it
        self._selected: str | None = None
        self.model = DreamListModel(self)
        self.list.setModel(self.model)
        self.list.setItemDelegate(DreamDelegate(self.list))
        self.state_label.setText(self.controller.state)
        self._wire()
        self.refresh()
        self._load_settings()

    def _wire(self) -> None:
        for kind, action in self.dream_now_actions.items():
            action.triggered.connect(lambda _checked=False, k=kind: self.start(k))
        self.list.selectionModel().currentChanged.connect(self._on_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.report.decide.connect(self.decide)
        self.enabled.toggled.connect(self._save_settings)
        self.connection.activated.connect(self._save_settings)
        for spin in self.settings_spins():
            spin.editingFinished.connect(self._save_settings)
        self.controller.state_changed.connect(self.state_label.setText)
        self.controller.dream_ended.connect(self._show_ended)
        bus.changed.connect(self._on_changed)
        bus.theme_changed.connect(self._on_theme)

    # -- settings ---------------------------------------------------------------------------------
    def _load_settings(self) -> None:
        from agent.dream.settings import load_settings

        data_dir, db = self.ctx.data_dir, self.ctx.db

        def load():
            from agent.connections.rows import live_connections

            return load_settings(data_dir), [(c.id, c.name, c.model) for c in live_connections(db, order="name")]

        Op(self, load, "Loading dream settings").success(self._show_settings).run()

    def _show_settings(self, result) -> None:
        settings, connections = result
        self._loading = True
        self.enabled.setChecked(settings.enabled)
        self.connection.clear()
        self.connection.addItem("— none —", "")
        for cid, name, model in connections:
            self.connection.addItem(f"{name} · {model}", cid)
        index = self.connection.findData(settings.connection_id)
        self.connection.setCurrentIndex(max(0, index))
        self.idle.setValue(settings.idle_minutes)
        self.new_messages.setValue(settings.min_new_messages)
        self.max_requests.setValue(settings.max_requests)
        self.max_chars.setValue(settings.max_chars)
        self.replay_turns.setValue(settings.replay_turns)
        self._loading = False

    def current_settings(self):
        from agent.dream.settings import DreamSettings

        return DreamSettings(enabled=self.enabled.isChecked(), connection_id=self.connection.currentData() or "",
                             idle_minutes=self.idle.value(), min_new_messages=self.new_messages.value(),
                             max_requests=self.max_requests.value(), max_chars=self.max_chars.value(),
                             replay_turns=self.replay_turns.value())

    def _save_settings(self, *_args) -> None:
        if getattr(self, "_loading", True):
            return
        from agent.dream.settings import save_settings

        settings, data_dir = self.current_settings(), self.ctx.data_dir
        Op(self, lambda: save_settings(data_dir, settings), "Saving dream settings") \
            .success(lambda _s: bus.notice.emit("Dream settings saved")).run()

    # -- reports ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        from agent.dream.reports import list_reports

        db = self.ctx.db
        Op(self, lambda: list_reports(db), "Loading dreams").success(self._show_reports).run()

    def _show_reports(self, reports) -> None:
        keep = self._selected
        self.model.set_rows(reports)
        self.empty.setVisible(not reports)
        self.delete_button.setEnabled(bool(reports))
        row = self.model.row_of(keep) if keep else (0 if reports else None)
        if row is not None:
            self.list.selectionModel().setCurrentIndex(self.model.index(row),
                                                       QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.report.show_report(self.model.rows()[row], self._connection_name)
        else:
            self.report.show_report(None, self._connection_name)

    def _connection_name(self, connection_id: str | None) -> str:
        index = self.connection.findData(connection_id) if connection_id else -1
        return self.connection.itemText(index) if index > 0 else "a deleted connection"

    def _on_selected(self, current, _previous) -> None:
        report = current.data(RECORD_ROLE) if current.isValid() else None
        self._selected = report.id if report is not None else None
        self.report.show_report(report, self._connection_name)

    def _on_changed(self, tables, _origin) -> None:
        if "dream_reports" in tables:
            self.refresh()
        if "agent_connections" in tables:
            self._load_settings()

    def _on_theme(self, _colors) -> None:
        if self.report.report is not None:
            self.report.show_report(self.report.report, self._connection_name)  # the diff's colours

    def _show_ended(self, job) -> None:
        """A dream just ended: show its report (a cancelled or failed one is kept too, so the newest)."""
        outcome = job.result
        self._selected = getattr(outcome, "report_id", None)
        self.refresh()

    def start(self, kind: str) -> None:
        try:
            self.controller.dream_now(kind, self.connection.currentData() or None)
        except (RuntimeError, ValueError) as exc:
            inform(self, "Dream Mode", str(exc))
            return
        self.state_label.setText(self.controller.state)

    def decide(self, report_id: str, proposal_id: str, accept: bool) -> None:
        from agent.dream import decide

        db = self.ctx.db
        fn = decide.accept if accept else decide.reject
        Op(self, lambda: fn(db, report_id, proposal_id), "Applying the proposal") \
            .success(bus.notice.emit) \
            .failure(lambda exc: warn(self, "Dream Mode", str(exc))).run()

    def delete_selected(self) -> None:
        from agent.dream.reports import delete_report

        if not self._selected:
            return
        report_id, db = self._selected, self.ctx.db
        self._selected = None
        Op(self, lambda: delete_report(db, report_id), "Deleting the report").run()



__all__ = ["DreamPage", "STATUS_WORDS"]
