"""II. Console — threads on the left, the transcript and the composer on the right.

All database reads and writes go through `Op`s; the transcript pages through long threads (see
TranscriptModel), and a chat turn streams through `TurnController` (console_turns.py).
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop import queries
from desktop.bus import bus
from desktop.models.connection_model import status_icon
from desktop.models.thread_model import THREAD_ROLE
from desktop.models.transcript_model import TranscriptModel
from desktop.ops import Op
from desktop.views import console_actions
from desktop.views.console_threads import build_thread_column
from desktop.views.console_turns import TurnController
from desktop.widgets.composer import Composer
from desktop.widgets.elided_label import ElidedLabel
from desktop.widgets.transcript_view import TranscriptView

FIRST_PAGE = 60  # messages shown when a thread opens (enough to fill a tall window)
PAGE = 120  # messages fetched per scroll step


class ConsolePage(QWidget):
    thread_opened = Signal(str)  # conversation id, after its newest page is in the view
    jumped = Signal(str)  # message id, after a search jump landed on it

    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.conversation_id: str | None = None
        self._paging = False
        self._open_clock = QElapsedTimer()
        self.last_open_ms = 0.0

        left = build_thread_column(self)

        # --- right column: header, transcript, composer ---
        right = QWidget()
        rcol = QVBoxLayout(right)
        rcol.setContentsMargins(6, 14, 14, 12)
        rcol.setSpacing(8)
        header = QHBoxLayout()
        self.title_label = ElidedLabel("No thread yet", objectName="PageTitle")
        self.title_label.setMinimumWidth(60)
        header.addWidget(self.title_label, 1)
        self.connection_combo = QComboBox()
        # Shares spare width with the title and shrinks to ~10 characters (never below): with
        # AdjustToContents its minimum was the longest name, which overlapped the buttons in a small window.
        self.connection_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.connection_combo.setMinimumContentsLength(10)
        self.connection_combo.setMaximumWidth(340)
        self.connection_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.connection_combo.setToolTip("The connection this thread talks to")
        self.connection_combo.currentIndexChanged.connect(self._on_connection_picked)
        header.addWidget(self.connection_combo, 1)
        self.prompt_button = QPushButton("System prompt")
        self.prompt_button.setToolTip("Preview exactly what is sent as the system message")
        self.prompt_button.clicked.connect(lambda: console_actions.preview_prompt(self))
        header.addWidget(self.prompt_button)
        self.export_button = QToolButton()
        self.export_button.setText("Export ▾")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        export_menu = QMenu(self.export_button)
        export_menu.addAction("As Markdown…", lambda: console_actions.export_dialog(self, "markdown"))
        export_menu.addAction("As JSON…", lambda: console_actions.export_dialog(self, "json"))
        self.export_button.setMenu(export_menu)
        header.addWidget(self.export_button)
        rcol.addLayout(header)
        self.connection_note = QLabel("", objectName="Muted")
        rcol.addWidget(self.connection_note)

        self.transcript = TranscriptModel(self)
        self.view = TranscriptView()
        self.view.setModel(self.transcript)
        self.transcript.rowsInserted.connect(self._update_empty_state)
        self.transcript.modelReset.connect(self._update_empty_state)
        self.view.wants_older.connect(self._load_older)
        self.view.wants_newer.connect(self._load_newer)
        self.view.delegate.action.connect(self._on_message_action)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(lambda pos: console_actions.message_menu(self, pos))
        self.view.delegate.copy_code.connect(lambda _t: bus.notice.emit("Code copied to the clipboard"))
        rcol.addWidget(self.view, 1)
        self.empty_label = QLabel("", alignment=Qt.AlignmentFlag.AlignCenter, objectName="Muted")
        rcol.addWidget(self.empty_label)

        composer_row = QHBoxLayout()
        self.composer = Composer()
        self.composer.submitted.connect(self.send)
        composer_row.addWidget(self.composer, 1)
        self.send_button = QPushButton("Send")
        self.send_button.setProperty("primary", True)
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()
        composer_row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        composer_row.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignBottom)
        rcol.addLayout(composer_row)

        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(left)
        row.addWidget(right, 1)

        QShortcut(QKeySequence.StandardKey.Find, self, activated=self.search_box.setFocus)
        QShortcut(QKeySequence.StandardKey.New, self, activated=self.new_thread)
        QShortcut(QKeySequence("Esc"), self.search_box, activated=self.search_box.clear)
        QShortcut(QKeySequence("F2"), self.thread_view, activated=self._rename_current)
        self.turns = TurnController(self)
        bus.changed.connect(self._on_changed)
        self.refresh_connections()
        self.refresh_threads(open_first=True)
        self._update_empty_state()

    # --- connections ---------------------------------------------------------------------------
    def refresh_connections(self) -> None:
        db = self.ctx.db

        def load():
            from sqlmodel import select

            from local_schema.models import AgentConnection

            with db.session() as s:
                rows = s.exec(select(AgentConnection).where(AgentConnection.deleted_at.is_(None))
                              .order_by(AgentConnection.created_at)).all()
                return [(c.id, c.name, c.model, c.status) for c in rows]

        Op(self, load, "Loading connections").success(self._show_connections).run()

    def _show_connections(self, rows) -> None:
        wanted = self.current_connection_id() or self.ctx.settings.active_connection
        self.connection_combo.blockSignals(True)
        self.connection_combo.clear()
        for cid, name, model, status in rows:
            self.connection_combo.addItem(status_icon(status), f"{name} · {model}", cid)
            self.connection_combo.setItemData(self.connection_combo.count() - 1, status, Qt.ItemDataRole.ToolTipRole)
        found = self.connection_combo.findData(wanted)
        self.connection_combo.setCurrentIndex(found if found >= 0 else 0)
        self.connection_combo.blockSignals(False)
        self._connection_names = {cid: (name, model) for cid, name, model, _ in rows}
        self._on_connection_picked()

    def _recolour_connection_icons(self) -> None:
        """Status icons are pixmaps drawn in the theme's colours: draw them again after a switch."""
        combo = self.connection_combo
        for i in range(combo.count()):
            combo.setItemIcon(i, status_icon(combo.itemData(i, Qt.ItemDataRole.ToolTipRole) or "offline"))

    def _follow_connection(self, connection_id: str | None) -> None:
        """Opening a thread selects the connection it talks to (if it still exists)."""
        found = self.connection_combo.findData(connection_id) if connection_id else -1
        if found >= 0:
            self.connection_combo.setCurrentIndex(found)

    def current_connection_id(self) -> str | None:
        return self.connection_combo.currentData()

    def _on_connection_picked(self, *_args) -> None:
        cid = self.current_connection_id()
        if cid:
            self.ctx.settings.active_connection = cid
            name, model = getattr(self, "_connection_names", {}).get(cid, ("", ""))
            self.view.delegate.assistant_name = name or "Agent"
            self.connection_note.setText("")
        else:
            self.connection_note.setText("No connection yet — bind one under I. Bind to start talking.")
        self.view.viewport().update()
        self._update_empty_state()

    # --- threads -------------------------------------------------------------------------------
    def refresh_threads(self, open_first: bool = False, select: str | None = None) -> None:
        db = self.ctx.db
        Op(self, lambda: queries.list_threads(db), "Loading threads").success(
            lambda threads: self._show_threads(threads, open_first, select)).run()

    def _show_threads(self, threads, open_first: bool, select: str | None) -> None:
        target = select or self.conversation_id
        selection = self.thread_view.selectionModel()
        selection.blockSignals(True)
        self.threads.set_rows(threads)
        row = self.threads.row_of(target)
        if row is None and open_first and threads:
            row = 0
        if row is not None:
            self.thread_view.setCurrentIndex(self.threads.index(row))
        selection.blockSignals(False)
        if row is not None and threads[row].id != self.conversation_id:
            self.open_thread(threads[row].id)
        elif row is not None:
            self.title_label.setText(threads[row].title)
        self._update_empty_state()

    def _title_of(self, conversation_id: str) -> str:
        row = self.threads.row_of(conversation_id)
        return self.threads.rows()[row].title if row is not None else ""

    def _speaker_of(self, conversation_id: str, role: str) -> str:
        """"You", or the name of the connection the thread talks to (as the transcript shows it)."""
        if role != "assistant":
            return {"user": "You", "system": "System"}.get(role, role)
        row = self.threads.row_of(conversation_id)
        connection = self.threads.rows()[row].agent_connection_id if row is not None else None
        name, _model = getattr(self, "_connection_names", {}).get(connection, ("", ""))
        return name or "Agent"

    def _on_thread_selected(self, current, _previous) -> None:
        if current.isValid():
            thread = current.data(THREAD_ROLE)
            if thread.id != self.conversation_id:
                self.open_thread(thread.id)

    def open_thread(self, conversation_id: str) -> None:
        """Show the newest page of a thread; older pages load as the reader scrolls up."""
        db = self.ctx.db
        self._open_clock.start()
        self.conversation_id = conversation_id
        row = self.threads.row_of(conversation_id)
        if row is not None:
            thread = self.threads.rows()[row]
            self.title_label.setText(thread.title)
            self._follow_connection(thread.agent_connection_id)
        Op(self, lambda: queries.tail_window(db, conversation_id, FIRST_PAGE), "Opening the thread").success(
            self._show_window).run()

    def _show_window(self, window: queries.Window, focus: str | None = None) -> None:
        if window.conversation_id != self.conversation_id:
            return  # the user already moved on to another thread
        self.transcript.reset_window(window.conversation_id, window.rows, window.offset, window.total)
        self.view.delegate.highlight_id = focus
        if focus:
            self.view.scroll_to_message(focus)
        else:
            self.view.stick_to_bottom()
        self.turns.restore_errors(window.unanswered if not focus else None)
        self._update_empty_state()
        QTimer.singleShot(0, lambda: self._opened(window.conversation_id, focus))

    def _opened(self, conversation_id: str, focus: str | None) -> None:
        self.last_open_ms = self._open_clock.nsecsElapsed() / 1e6
        if focus:
            self.view.scroll_to_message(focus)
            self.jumped.emit(focus)
        else:
            self.view.scrollToBottom()
            self.thread_opened.emit(conversation_id)

    def _load_older(self) -> None:
        if self._paging or not self.transcript.has_older():
            return
        self._paging = True
        db, cid = self.ctx.db, self.transcript.conversation_id
        offset = max(0, self.transcript.offset - PAGE)
        limit = self.transcript.offset - offset

        def done(rows) -> None:
            self._paging = False
            if cid == self.transcript.conversation_id:
                self.view.remember_anchor()
                self.transcript.prepend(rows)

        Op(self, lambda: queries.load_page(db, cid, offset, limit), "Loading older messages").success(done).failure(
            lambda exc: setattr(self, "_paging", False) or bus.error.emit(f"Could not load older messages: {exc}")
        ).run()

    def _load_newer(self) -> None:
        if self._paging or not self.transcript.has_newer():
            return
        self._paging = True
        db, cid = self.ctx.db, self.transcript.conversation_id
        start = self.transcript.offset + self.transcript.rowCount()

        def done(result) -> None:
            self._paging = False
            rows, total = result
            if cid == self.transcript.conversation_id:
                self.view.remember_anchor()  # the window may drop old rows above: keep the reader's place
                self.transcript.extend(rows, total)

        Op(self, lambda: (queries.load_page(db, cid, start, PAGE), queries.count_messages(db, cid)),
           "Loading newer messages").success(done).failure(
            lambda exc: setattr(self, "_paging", False) or bus.error.emit(f"Could not load newer messages: {exc}")
        ).run()

    def new_thread(self) -> None:
        console_actions.create_thread(self)

    def _thread_menu(self, pos) -> None:
        index = self.thread_view.indexAt(pos)
        if not index.isValid():
            return
        thread = index.data(THREAD_ROLE)
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: console_actions.rename_dialog(self, thread.id, thread.title))
        menu.addAction("Delete…", lambda: self.delete_thread(thread.id, confirm=True))
        menu.exec(self.thread_view.viewport().mapToGlobal(pos))

    def _rename_current(self) -> None:
        index = self.thread_view.currentIndex()
        if index.isValid():
            thread = index.data(THREAD_ROLE)
            console_actions.rename_dialog(self, thread.id, thread.title)

    def delete_thread(self, conversation_id: str, confirm: bool = True) -> None:
        if confirm:
            row = self.threads.row_of(conversation_id)
            title = self.threads.rows()[row].title if row is not None else "this thread"
            answer = QMessageBox.question(self, "Delete thread",
                                          f"Delete “{title}” and all its messages? This cannot be undone.")
            if answer != QMessageBox.StandardButton.Yes:
                return
        console_actions.delete_thread(self, conversation_id)

    def forget_thread(self, conversation_id: str) -> None:
        """After a delete: clear the transcript if it showed that thread."""
        if conversation_id == self.conversation_id:
            self.conversation_id = None
            self.transcript.reset_window(None, [], 0, 0)
            self.title_label.setText("No thread selected")
        self.refresh_threads(open_first=True)

    # --- search --------------------------------------------------------------------------------
    def _on_search_text(self, text: str) -> None:
        self.left_stack.setCurrentIndex(1 if text.strip() else 0)
        self.search_results.search(text)

    def jump_to_message(self, message_id: str, _conversation_id: str = "") -> None:
        db = self.ctx.db
        self._open_clock.start()

        def land(found) -> None:
            if found is None:
                bus.error.emit("That message no longer exists.")
                return
            window, focus = found
            self.conversation_id = window.conversation_id
            row = self.threads.row_of(window.conversation_id)
            selection = self.thread_view.selectionModel()
            selection.blockSignals(True)
            if row is not None:
                self.thread_view.setCurrentIndex(self.threads.index(row))
                self.title_label.setText(self.threads.rows()[row].title)
            selection.blockSignals(False)
            self._show_window(window, focus)

        Op(self, lambda: queries.window_around(db, message_id, PAGE), "Jumping to the message").success(land).run()

    # --- turns (delegated) -----------------------------------------------------------------------
    def send(self) -> None:
        self.turns.send(self.composer.toPlainText())

    def stop(self) -> None:
        self.turns.stop()

    def set_streaming(self, streaming: bool) -> None:
        self.send_button.setVisible(not streaming)
        self.stop_button.setVisible(streaming)
        self.composer.setReadOnly(streaming)
        self.new_button.setEnabled(not streaming)
        self.thread_view.setEnabled(not streaming)

    def _on_message_action(self, name: str, message_id: str) -> None:
        if name == "retry":
            self.turns.retry(message_id)
        elif name == "regenerate":
            self.turns.regenerate(message_id)
        elif name == "promote":
            console_actions.promote(self, message_id)
        elif name == "copy":
            console_actions.copy_message(self, message_id)

    # --- bus -----------------------------------------------------------------------------------
    def _on_changed(self, tables, initiator) -> None:
        if "agent_connections" in tables:
            self.refresh_connections()
        if "theme" in tables:
            self._recolour_connection_icons()
        if initiator is not self and ("conversations" in tables or "messages" in tables):
            self.refresh_threads()

    def _update_empty_state(self, *_args) -> None:
        if self.conversation_id is None:
            text = "Start a new thread — type below and press Enter."
        elif self.transcript.rowCount() == 0:
            text = "No messages yet. Say hello."
        else:
            text = ""
        self.empty_label.setText(text)
        self.empty_label.setVisible(bool(text))

    def shutdown(self) -> None:
        self.turns.stop()
