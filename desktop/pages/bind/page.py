"""I. Bind — the controller over BindView (view.py): the list of agent connections and the form that
creates, edits, tests and deletes them.

Validation and presets come from agent.connections.presets, the reachability test from agent.connections.check,
keys go to the key store (sync.secrets) — never into the database. Every one of those runs in an Op.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import QMessageBox

from desktop.bus import bus
from desktop.models.connection_model import CONNECTION_ROLE, ConnectionInfo, ConnectionListModel
from desktop.ops import Op
from desktop.pages.bind import actions
from desktop.pages.bind.view import BindView
from desktop.pages.protocol import PageHooks
from desktop.safe_text import ask


class BindPage(BindView, PageHooks):
    saved = Signal(str)  # connection id
    tested = Signal(str, str)  # connection id, status
    deleted = Signal(str)

    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.editing_id: str | None = None  # None = a new, unsaved connection
        self._key_stored = False
        self._loaded: dict | None = None  # the form as last loaded; differences are unsaved edits
        self.model = ConnectionListModel(self)
        self.list.setModel(self.model)
        self._wire()
        from agent.connections.presets import PRESETS

        self.start_from_preset(PRESETS[0], focus=False)
        self.refresh()
        self._update_key_note()

    def _wire(self) -> None:
        from agent.connections.presets import PRESETS

        self.list.selectionModel().currentChanged.connect(self._on_selected)
        for preset in PRESETS:
            self.preset_buttons[preset.label].clicked.connect(
                lambda _=False, p=preset: self.start_from_preset(p, ask=True))
        self.test_button.clicked.connect(self.test_current)
        self.delete_button.clicked.connect(lambda: self.delete_current(confirm=True))
        self.save_button.clicked.connect(lambda: self.save())
        for edit in (self.name_edit, self.url_edit, self.model_edit):
            edit.textEdited.connect(self._clear_error_of)
        bus.changed.connect(self._on_changed)
        bus.keys_changed.connect(self._update_key_note)
        bus.theme_changed.connect(self.status.recolour)

    # --- list ----------------------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        Op(self, lambda: actions.load_connections(self.ctx.db), "Loading connections").success(
            lambda rows: self._show_rows(rows, select)).run()

    def _show_rows(self, rows: list[ConnectionInfo], select: str | None) -> None:
        target = select or self.editing_id
        selection = self.list.selectionModel()
        selection.blockSignals(True)
        self.model.set_rows(rows)
        self.empty_note.setVisible(not rows)
        row = self.model.row_of(target)
        if row is None and rows and self.editing_id is None and select is None and not self.has_unsaved_edits():
            row = 0
        if row is not None:
            self.list.setCurrentIndex(self.model.index(row))
        selection.blockSignals(False)
        if row is not None:
            conn = rows[row]
            if conn.id == self.editing_id and self.has_unsaved_edits():
                # A refresh (a test finished, a sync) must not wipe what the user is typing.
                self.status.show_check(conn.status, conn.check_error, conn.checked_at)
            else:
                self.edit(conn)

    def _on_selected(self, current, previous) -> None:
        if not current.isValid():
            return
        conn = current.data(CONNECTION_ROLE)
        if conn.id != self.editing_id and not self._may_discard():
            selection = self.list.selectionModel()
            selection.blockSignals(True)
            self.list.setCurrentIndex(previous)
            selection.blockSignals(False)
            return
        self.edit(conn)

    def has_unsaved_edits(self) -> bool:
        return self._loaded is not None and (self.form_values() != self._loaded or bool(self.key_edit.text()))

    def _may_discard(self) -> bool:
        """True when there is nothing unsaved, or the user agrees to drop it."""
        if not self.has_unsaved_edits():
            return True
        name = self.name_edit.text().strip() or "the new connection"
        answer = ask(self, "Unsaved changes",
                     f"Discard your unsaved changes to “{name}”?",
                     QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                     QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Discard

    # --- form ----------------------------------------------------------------------------------
    def start_from_preset(self, preset, focus: bool = True, ask: bool = False) -> None:
        if ask and not self._may_discard():
            return
        self.editing_id = None
        # No current item (not just no selection), so clicking the same connection again reloads it.
        self.list.setCurrentIndex(QModelIndex())
        self.form_title.setText(f"New connection · {preset.label}")
        self.name_edit.setText(preset.label if preset.key != "custom" else "")
        self.provider_combo.setCurrentText(preset.provider)
        self.url_edit.setText(preset.base_url)
        self.model_edit.setText(preset.model)
        self.key_edit.clear()
        self._key_stored = False
        self.prompt_edit.setPlainText("")
        self.images_check.setChecked(False)
        self.status.clear()
        self.delete_button.setEnabled(False)
        self._clear_errors()
        self._update_key_note()
        # A preset form counts as edited once a URL, model or key is typed (not for the name alone).
        self._loaded = self.form_values()
        if focus:
            (self.url_edit if not preset.base_url else self.name_edit).setFocus()

    def edit(self, conn: ConnectionInfo) -> None:
        self.editing_id = conn.id
        self.form_title.setText(conn.name)
        self.name_edit.setText(conn.name)
        self.provider_combo.setCurrentText(conn.provider)
        self.url_edit.setText(conn.base_url)
        self.model_edit.setText(conn.model)
        self.key_edit.clear()
        self.prompt_edit.setPlainText(conn.system_prompt or "")
        self.images_check.setChecked(conn.accepts_images)
        self.status.show_check(conn.status, conn.check_error, conn.checked_at)
        self.delete_button.setEnabled(True)
        self._clear_errors()
        self._loaded = self.form_values()
        secrets = self.ctx.secrets
        Op(self, lambda: secrets.has_key(conn.id), "Looking up the key").success(
            lambda has: self._set_key_stored(conn.id, has)).run()

    def _set_key_stored(self, connection_id: str, stored: bool) -> None:
        if connection_id == self.editing_id:
            self._key_stored = stored
            self._update_key_note()

    def _update_key_note(self, _mode: str = "") -> None:
        where = actions.key_location(self.ctx.secrets)
        if self._key_stored:
            self.key_edit.setPlaceholderText("A key is stored — type to replace it")
            self.key_note.setText(f"Key stored in {where}. Keys never enter the database or sync.")
        else:
            self.key_edit.setPlaceholderText("Optional — local runners need none")
            self.key_note.setText(f"A key you enter is stored in {where}, never in the database or sync.")

    def form_values(self) -> dict:
        return {
            "name": self.name_edit.text().strip(),
            "provider": self.provider_combo.currentText(),
            "base_url": self.url_edit.text().strip(),
            "model": self.model_edit.text().strip(),
            "system_prompt": self.prompt_edit.toPlainText().strip() or None,
            "accepts_images": self.images_check.isChecked(),
        }

    def _clear_errors(self) -> None:
        for label in self.errors.values():
            label.hide()
            label.setText("")
        for edit in (self.name_edit, self.url_edit, self.model_edit):
            edit.setProperty("invalid", False)
            edit.style().polish(edit)

    def _clear_error_of(self, *_args) -> None:
        edit = self.sender()
        for field, widget in (("name", self.name_edit), ("base_url", self.url_edit), ("model", self.model_edit)):
            if widget is edit:
                self.errors[field].hide()
                widget.setProperty("invalid", False)
                widget.style().polish(widget)

    def show_errors(self, problems: dict[str, str]) -> None:
        self._clear_errors()
        widgets = {"name": self.name_edit, "base_url": self.url_edit, "model": self.model_edit}
        for field, message in problems.items():
            label = self.errors.get(field)
            if label is not None:
                label.setText(message)
                label.show()
            widget = widgets.get(field)
            if widget is not None:
                widget.setProperty("invalid", True)
                widget.style().polish(widget)

    # --- actions -------------------------------------------------------------------------------
    def save(self, then=None) -> bool:
        """Validate, then write the row and the key in the background. False if the form is invalid."""
        from agent.connections.validation import clean_base_url, validate_connection

        values = self.form_values()
        problems = validate_connection(values["name"], values["base_url"], values["model"], values["provider"])
        if problems:
            self.show_errors(problems)
            return False
        values["base_url"] = clean_base_url(values["base_url"])
        key = self.key_edit.text().strip()
        actions.save_connection(self, self.editing_id, values, key or None, then)
        return True

    def _saved(self, connection_id: str, then) -> None:
        self.editing_id = connection_id
        self.key_edit.clear()
        self._loaded = None  # saved: the refresh below reloads the stored values into the form
        self.refresh(select=connection_id)
        bus.notice.emit("Connection saved")
        self.saved.emit(connection_id)
        if then is not None:
            then(connection_id)

    def test_current(self) -> None:
        """Save first when the form has edits (a test always checks what is stored), then test."""
        self.status.show_testing()
        self.test_button.setEnabled(False)
        if not self.save(then=lambda cid: actions.test_connection(self, cid)):
            self.status.clear()
            self.test_button.setEnabled(True)

    def _tested(self, connection_id: str, result) -> None:
        self.test_button.setEnabled(True)
        if connection_id == self.editing_id:
            self.status.show_check(result.status, result.reason, result.checked_at)
        self.refresh(select=connection_id)
        self.tested.emit(connection_id, result.status)

    def delete_current(self, confirm: bool = True) -> None:
        if self.editing_id is None:
            return
        if confirm:
            answer = ask(
                self, "Delete connection",
                f"Delete “{self.name_edit.text()}”? Its stored key is removed too; threads keep their messages.")
            if answer != QMessageBox.StandardButton.Yes:
                return
        actions.delete_connection(self, self.editing_id)

    def _deleted(self, connection_id: str) -> None:
        from agent.connections.presets import PRESETS

        self.editing_id = None
        self.start_from_preset(PRESETS[0], focus=False)
        self.refresh()
        self.deleted.emit(connection_id)

    def _on_changed(self, tables, initiator) -> None:
        if initiator is not self and tables & {"agent_connections", "connection_checks"}:
            self.refresh()  # (a Console turn is a check too: agent.connections.check.record_turn)
