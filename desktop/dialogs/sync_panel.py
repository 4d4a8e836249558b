"""The Sync panel (opened from the status chip): account and project, the last cycle, the changes still
waiting, and every change the server refused — with the server's reason, what it tried to write, and
Retry / Discard. Discard first shows what the server has, which is what the row becomes.

Reads and actions run in Ops (sync.parked does the work); the panel refreshes after every cycle.
"""

from __future__ import annotations

import json
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.bus import bus
from desktop.ops import Op
from desktop.safe_text import Label, message_box, tip
from desktop.widgets.sync_footer import chip_text
from sync.restored import RESTORED_CODE

VALUE_CHARS = 300  # a long message is shown shortened; the row itself is untouched


_NOUNS = {"conversations": "thread", "messages": "message", "agent_connections": "connection",
          "memory_nodes": "memory", "skills": "skill", "mirror_reports": "mirror report", "tasks": "task",
          "templates": "template", "dream_reports": "dream report", "attachments": "attachment"}
_KINDS = {"insert": "New", "update": "Edit of", "delete": "Deletion of"}


def describe_change(kind: str, table: str, row_id: str) -> str:
    """"Edit of a thread · 4a54694e" rather than "update · conversations · 4a54694e"."""
    noun = _NOUNS.get(table, table)
    article = "" if kind == "insert" else ("an " if noun[0] in "aeiou" else "a ")
    return f"{_KINDS.get(kind, kind)} {article}{noun} · {row_id[:8]}"


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS] + f"… ({len(text):,} characters)"


def describe_row(values: dict) -> str:
    if not values:
        return "(nothing: the change deletes the row)"
    return "\n".join(f"{col}: {_short(value)}" for col, value in values.items())


def _live_text(status, controller) -> str:
    if not status.signed_in:
        return ""
    if status.live:
        return (f"Live: connected — changes from your other devices arrive within a second; a check every "
                f"{controller.live_interval:.0f} s as a backstop.")
    why = f" ({status.live_detail})" if status.live_detail else ""
    return f"Live: not connected{why} — checking for changes every {controller.interval:.0f} s."


def _load(db):
    from sync.parked import attempted_write, list_parked, list_waiting

    refused = [(change, attempted_write(db, change)) for change in list_parked(db)]
    return list_waiting(db), refused


class SyncPanel(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.window, self.ctx = window, window.ctx
        self.setObjectName("SyncPanel")
        self.setWindowTitle("Sync")
        self.resize(760, 560)
        col = QVBoxLayout(self)
        self.account_label = Label("", objectName="PageTitle")
        col.addWidget(self.account_label)
        self.project_label = Label("", objectName="Muted")
        self.project_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.project_label)
        self.state_label = Label("")
        self.state_label.setWordWrap(True)
        col.addWidget(self.state_label)
        self.cycle_label = Label("", objectName="Muted")
        col.addWidget(self.cycle_label)
        self.live_label = Label("", objectName="Muted")  # the detail may quote the server
        self.live_label.setWordWrap(True)
        col.addWidget(self.live_label)

        split = QSplitter(Qt.Orientation.Vertical)
        waiting_box = QWidget()
        wcol = QVBoxLayout(waiting_box)
        wcol.setContentsMargins(0, 0, 0, 0)
        self.waiting_title = Label("Waiting to be sent")
        wcol.addWidget(self.waiting_title)
        self.waiting_list = QListWidget()
        wcol.addWidget(self.waiting_list)
        split.addWidget(waiting_box)

        refused_box = QWidget()
        rcol = QVBoxLayout(refused_box)
        rcol.setContentsMargins(0, 0, 0, 0)
        self.refused_title = Label("Refused by the server")
        rcol.addWidget(self.refused_title)
        row = QHBoxLayout()
        self.refused_list = QListWidget()
        self.refused_list.currentRowChanged.connect(self._show_refused)
        row.addWidget(self.refused_list, 2)
        detail = QVBoxLayout()
        self.reason_label = Label("")  # in the error colour only while it shows a refusal (_set_reason)
        self.reason_label.setWordWrap(True)
        self.reason_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        detail.addWidget(self.reason_label)
        detail.addWidget(Label("It tried to write:", objectName="Muted"))
        self.attempt_view = QPlainTextEdit(readOnly=True)
        detail.addWidget(self.attempt_view, 1)
        buttons = QHBoxLayout()
        self.retry_button = QPushButton("Retry")
        self.retry_button.setToolTip("Send it again (after you fixed the row, or once the server accepts it)")
        self.retry_button.clicked.connect(self.retry_selected)
        self.discard_button = QPushButton("Discard…")
        self.discard_button.setToolTip("Drop this change and take the server's version of the row")
        self.discard_button.clicked.connect(lambda: self.discard_selected(confirm=True))
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.discard_button)
        buttons.addStretch(1)
        detail.addLayout(buttons)
        row.addLayout(detail, 3)
        rcol.addLayout(row, 1)
        split.addWidget(refused_box)
        split.setSizes([130, 330])  # the refused changes are what needs reading
        col.addWidget(split, 1)

        bottom = QHBoxLayout()
        self.sync_button = QPushButton("Sync now")
        self.sync_button.clicked.connect(self.ctx.sync.request_sync)
        bottom.addWidget(self.sync_button)
        self.sign_in_button = QPushButton("Sign in again…")
        self.sign_in_button.setProperty("primary", True)
        self.sign_in_button.clicked.connect(self._sign_in_again)
        bottom.addWidget(self.sign_in_button)
        bottom.addStretch(1)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        bottom.addWidget(close)
        col.addLayout(bottom)

        self.refused: list = []
        self.ctx.sync.status_changed.connect(self._show_status)
        self.ctx.sync.cycle_finished.connect(lambda _r: self.reload())
        self._show_status(self.ctx.sync.status)
        self.reload()

    # -- status ---------------------------------------------------------------------------------------
    def _show_status(self, status) -> None:
        self.account_label.setText(status.email or "Not signed in")
        self.project_label.setText(f"Project: {status.url or 'not set'} · data: {self.ctx.data_dir}")
        text, _tone, tip = chip_text(status) if status.signed_in else ("Sync is off", "", "Sign in to sync.")
        self.state_label.setText(f"{text} — {tip}" if tip else text)
        result = status.last_result
        if result is not None:
            when = time.strftime("%H:%M:%S", time.localtime(status.last_synced)) if status.last_synced else "—"
            self.cycle_label.setText(f"Last cycle: pushed {result.pushed:,}, pulled {result.pulled:,}, "
                                     f"refused {result.parked:,} in {result.duration_s:.2f} s "
                                     f"({result.requests} requests); last success {when}")
        else:
            self.cycle_label.setText("No sync cycle has run in this session yet.")
        self.live_label.setText(_live_text(status, self.ctx.sync))
        self.sync_button.setEnabled(status.signed_in)
        from sync.engine import KEY_REFUSED, SIGN_IN_NEEDED

        self.sign_in_button.setVisible(status.state in (SIGN_IN_NEEDED, KEY_REFUSED))  # (a new anon key)

    def _sign_in_again(self) -> None:
        self.close()
        self.window.sign_in()

    # -- lists ----------------------------------------------------------------------------------------
    def reload(self) -> None:
        db = self.ctx.db
        if db is None:
            return
        Op(self, lambda: _load(db), "Reading the sync queue").success(self._show_lists).run()

    def _show_lists(self, lists) -> None:
        waiting, refused = lists
        self.waiting_title.setText(f"Waiting to be sent ({len(waiting):,})")
        self.waiting_list.clear()
        for w in waiting:
            note = f" — last try: {w.last_error}" if w.last_error else ""
            self.waiting_list.addItem(f"{describe_change(w.kind, w.table, w.row_id)}  ({w.changes} change(s)){note}")
        if not waiting:
            self.waiting_list.addItem("Nothing waiting.")
        keep = self.selected_change()
        self.refused = refused
        self.refused_title.setText(f"Refused by the server ({len(refused):,})")
        self.refused_list.blockSignals(True)
        self.refused_list.clear()
        for change, _values in refused:
            item = QListWidgetItem(describe_change(change.kind, change.table, change.row_id))
            item.setToolTip(tip(change.message))
            self.refused_list.addItem(item)
        self.refused_list.blockSignals(False)
        ids = [c.op_seq for c, _v in refused]
        self.refused_list.setCurrentRow(ids.index(keep.op_seq) if keep and keep.op_seq in ids else
                                        (0 if refused else -1))
        self._show_refused(self.refused_list.currentRow())

    def selected_change(self):
        row = self.refused_list.currentRow()
        return self.refused[row][0] if 0 <= row < len(self.refused) else None

    def _show_refused(self, row: int) -> None:
        has = 0 <= row < len(self.refused)
        self.retry_button.setEnabled(has)
        self.discard_button.setEnabled(has)
        if not has:
            self._set_reason("" if self.refused else "The server has refused nothing.", refusal=False)
            self.attempt_view.setPlainText("")
            return
        change, values = self.refused[row]
        code = f" [{change.code}]" if change.code else ""
        if change.code == RESTORED_CODE:  # held by a restore, not refused by the server (sync.restored)
            self._set_reason("Held: this change was waiting in a restored backup. Retry sends the backup's "
                             "version (below); Discard keeps the server's.", refusal=True)
        else:
            self._set_reason(f"The server said: {change.message or 'no reason given'}{code}", refusal=True)
        self.attempt_view.setPlainText(f"{change.kind} of {change.table} row {change.row_id}, refused "
                                       f"{change.parked_at[:19].replace('T', ' ')} UTC\n\n" + describe_row(values))

    def _set_reason(self, text: str, refusal: bool) -> None:
        self.reason_label.setText(text)
        name = "Error" if refusal else ""
        if self.reason_label.objectName() != name:
            self.reason_label.setObjectName(name)
            self.reason_label.style().unpolish(self.reason_label)
            self.reason_label.style().polish(self.reason_label)

    # -- actions --------------------------------------------------------------------------------------
    def retry_selected(self) -> None:
        change = self.selected_change()
        if change is None:
            return
        from sync.parked import retry

        db = self.ctx.db
        Op(self, lambda: retry(db, change.op_seq), "Retrying a refused change").success(
            lambda n: self._acted(f"{n} change(s) queued again")).run()

    def discard_selected(self, confirm: bool = True) -> None:
        """Fetch the server's version first, show it, then discard (restore it) when confirmed."""
        change, engine = self.selected_change(), self.ctx.sync.engine
        if change is None:
            return
        if engine is None:
            bus.error.emit("Sign in first: discarding a refused change restores the server's version.")
            return
        from sync.parked import server_version

        Op(self, lambda: server_version(engine, change), "Reading the server's version").success(
            lambda server: self._confirm_discard(change, server, confirm)).failure(
            lambda exc: bus.error.emit(f"Could not read the server's version: {exc}")).run()

    def _confirm_discard(self, change, server, confirm: bool) -> None:
        if server is None:
            what = f"The server has no {change.table} row {change.row_id[:8]}: discarding removes it here too."
        else:
            what = "The server has:\n\n" + describe_row({k: v for k, v in server.items()
                                                         if k not in ("user_id", "author_id")})
        self.server_text = what
        if confirm:
            box = message_box(QMessageBox.Icon.Warning, "Discard this change",
                              f"Your change is dropped and the row becomes the server's version.\n\n{what}",
                              parent=self)
            go = box.addButton("Discard my change", QMessageBox.ButtonRole.DestructiveRole)
            box.addButton(QMessageBox.StandardButton.Cancel)
            self.discard_box = box
            box.exec()
            if box.clickedButton() is not go:
                return
        from sync.parked import discard

        engine, db, table = self.ctx.sync.engine, self.ctx.db, change.table

        def run() -> str:
            outcome = discard(engine, change.op_seq)
            db.notify_changed({table}, "sync", {table: {change.row_id}})  # pages show the restored row
            return outcome

        Op(self, run, "Discarding a refused change").success(
            lambda outcome: self._acted(f"Discarded: {outcome}")).failure(
            lambda exc: bus.error.emit(f"Could not discard: {exc}")).run()

    def _acted(self, note: str) -> None:
        bus.notice.emit(note)
        self.ctx.sync.refresh_counts()
        self.ctx.sync.request_sync()
        self.reload()
