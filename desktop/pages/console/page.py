"""II. Console — the controller over ConsoleView (view.py): threads on the left, the
transcript and the composer on the right.

The view holds the widgets; this class gives them models and behaviour. The transcript window
(open, paging, search jumps, live refresh) is TranscriptController (transcript.py); a chat
turn is TurnController (turns.py); one-op actions are actions.py. All database reads
and writes go through `Op`s. Rows another device wrote arrive as `changed(tables, SYNC)` on the bus:
the thread list and the open transcript are refreshed in place, the composer is never touched.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QMenu, QMessageBox

from desktop import queries
from desktop.bus import SYNC, bus
from desktop.models.connection_model import status_icon
from desktop.models.thread_model import THREAD_ROLE, ThreadDelegate, ThreadListModel
from desktop.models.transcript_model import TranscriptModel
from desktop.ops import Op
from desktop.pages.console import actions, tree_dialogs
from desktop.pages.console.attach import AttachController
from desktop.pages.console.branch_switcher import STEPS, BranchSwitcher
from desktop.pages.console.tools import ConsoleTools
from desktop.pages.console.transcript import FIRST_PAGE, PAGE, TranscriptController  # noqa: F401
from desktop.pages.console.turns import TurnController
from desktop.pages.console.view import ConsoleView
from desktop.pages.protocol import PageHooks
from desktop.safe_text import ask, tip
from desktop.widgets.message_chips import ThumbnailCache
from desktop.widgets.search_panel import SearchResults

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1  # a connection's status, for its icon


class ConsolePage(ConsoleView, PageHooks):
    thread_opened = Signal(str)  # conversation id, after its newest page is in the view
    jumped = Signal(str)  # message id, after a search jump landed on it

    def __init__(self, ctx):
        self.ctx = ctx
        self.conversation_id: str | None = None
        self.connection_names: dict[str, tuple[str, str]] = {}
        self.prompt_dialog = None  # the open system-prompt preview (actions.preview_prompt)
        self.export_file_dialog = None  # the open export dialog (actions.export_dialog)
        super().__init__(SearchResults(ctx, self.title_of, speaker_of=self.speaker_of))
        self.threads = ThreadListModel(self)
        self.thread_view.setModel(self.threads)
        self.thread_view.setItemDelegate(ThreadDelegate(self.thread_view))
        self.transcript = TranscriptModel(self)
        self.view.setModel(self.transcript)
        self.turns = TurnController(self)
        self.tools = ConsoleTools(self)  # tool calls in turns: the switch, approval cards, long results
        self.tools.bridge.node_stored.connect(self.turns.node_stored)
        self.attach = AttachController(self)  # files for the next message, the knowledge set, opening chips
        self.view.delegate.thumbs = ThumbnailCache(self, lambda: self.ctx.db)
        self.view.delegate.thumbs.ready.connect(self.view.viewport().update)
        self.view.delegate.opened.connect(self.attach.open_chip)
        self.branches = BranchSwitcher(self)
        self.tree_dialog = None  # the open edit / compare / thread-settings dialog (tree_dialogs.py)
        self.transcript_ctl = TranscriptController(self)
        self._wire()
        self.refresh_connections()
        self.refresh_threads(open_first=True)
        self.update_empty_state()

    def _wire(self) -> None:
        self.new_button.clicked.connect(self.new_thread)
        self.search_box.textChanged.connect(self._on_search_text)
        self.search_results.picked.connect(self.jump_to_message)
        self.search_box.to_results.connect(self.search_results.focus_results)
        self.search_box.returnPressed.connect(self.search_results.pick_current)
        self.search_results.leave.connect(lambda: self.search_box.setFocus(Qt.FocusReason.TabFocusReason))
        self.thread_view.customContextMenuRequested.connect(self._thread_menu)
        self.thread_view.selectionModel().currentChanged.connect(self._on_thread_selected)
        self.connection_combo.currentIndexChanged.connect(self._on_connection_picked)
        self.prompt_button.clicked.connect(lambda: actions.preview_prompt(self))
        self.prompt_action.triggered.connect(lambda: actions.preview_prompt(self))
        for button, action, opener in ((self.compare_button, self.compare_action, tree_dialogs.open_compare),
                                       (self.settings_button, self.settings_action, tree_dialogs.open_settings)):
            button.clicked.connect(lambda _c=False, o=opener: o(self))
            action.triggered.connect(lambda _c=False, o=opener: o(self))
        self.export_markdown_action.triggered.connect(lambda: actions.export_dialog(self, "markdown"))
        self.export_json_action.triggered.connect(lambda: actions.export_dialog(self, "json"))
        self.transcript.rowsInserted.connect(self.update_empty_state)
        self.transcript.modelReset.connect(self.update_empty_state)
        self.view.delegate.action.connect(self.on_message_action)
        self.view.customContextMenuRequested.connect(lambda pos: actions.message_menu(self, pos))
        self.view.delegate.copy_code.connect(lambda _t: bus.notice.emit("Code copied to the clipboard"))
        self.composer.submitted.connect(self.send)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        QShortcut(QKeySequence.StandardKey.Find, self, activated=self.search_box.setFocus)
        QShortcut(QKeySequence.StandardKey.New, self, activated=self.new_thread)
        # Esc clears the search only from the box (window-wide, it fired on every page and in the results)
        QShortcut(QKeySequence("Esc"), self.search_box, activated=self.search_box.clear,
                  context=Qt.ShortcutContext.WidgetShortcut)
        QShortcut(QKeySequence("F2"), self.thread_view, activated=self._rename_current)
        bus.changed.connect(self._on_changed)
        bus.theme_changed.connect(self._recolour_connection_icons)

    @property
    def last_open_ms(self) -> float:
        return self.transcript_ctl.last_open_ms

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
            self.connection_combo.setItemData(self.connection_combo.count() - 1, status, STATUS_ROLE)
            self.connection_combo.setItemData(self.connection_combo.count() - 1, tip(status), Qt.ItemDataRole.ToolTipRole)
        found = self.connection_combo.findData(wanted)
        self.connection_combo.setCurrentIndex(found if found >= 0 else 0)
        self.connection_combo.blockSignals(False)
        self.connection_names = {cid: (name, model) for cid, name, model, _ in rows}
        self._on_connection_picked()

    def _recolour_connection_icons(self, _colors=None) -> None:
        """Status icons are pixmaps drawn in the theme's colours: draw them again after a switch."""
        combo = self.connection_combo
        for i in range(combo.count()):
            combo.setItemIcon(i, status_icon(combo.itemData(i, STATUS_ROLE) or "offline"))

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
            name, _model = self.connection_names.get(cid, ("", ""))
            self.view.delegate.assistant_name = name or "Agent"
            self.connection_note.setText("")
        else:
            self.connection_note.setText("No connection yet — bind one under I. Bind to start talking.")
        self.view.viewport().update()
        self.update_empty_state()

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
        if row is None and self.conversation_id is not None and target == self.conversation_id:
            self._check_open_thread()  # deleted on another device? (or only a list older than it)
        if row is None and open_first and threads:
            row = 0
        if row is not None:
            self.thread_view.setCurrentIndex(self.threads.index(row))
        selection.blockSignals(False)
        if row is not None and threads[row].id != self.conversation_id:
            self.open_thread(threads[row].id)
        elif row is not None:
            self.title_label.setText(threads[row].title)
        self.update_empty_state()

    def _check_open_thread(self) -> None:
        """The open thread is not in the list: if it is gone from the database, show another one."""
        db, cid = self.ctx.db, self.conversation_id

        def exists() -> bool:
            with db.engine.connect() as conn:
                return conn.exec_driver_sql("SELECT 1 FROM conversations WHERE id = ? AND deleted_at IS NULL",
                                            (cid,)).first() is not None

        def decide(found: bool) -> None:
            if not found and cid == self.conversation_id and not self.turns.busy:
                self.forget_thread(cid)

        Op(self, exists, "Checking the open thread").success(decide).run()

    def title_of(self, conversation_id: str) -> str:
        row = self.threads.row_of(conversation_id)
        return self.threads.rows()[row].title if row is not None else ""

    def speaker_of(self, conversation_id: str, role: str) -> str:
        """"You", or the name of the connection the thread talks to (as the transcript shows it)."""
        if role != "assistant":
            return {"user": "You", "system": "System"}.get(role, role)
        row = self.threads.row_of(conversation_id)
        connection = self.threads.rows()[row].agent_connection_id if row is not None else None
        name, _model = self.connection_names.get(connection, ("", ""))
        return name or "Agent"

    def _on_thread_selected(self, current, _previous) -> None:
        if current.isValid():
            thread = current.data(THREAD_ROLE)
            if thread.id != self.conversation_id:
                self.open_thread(thread.id)

    def open_thread(self, conversation_id: str) -> None:
        """Show the newest page of a thread; older pages load as the reader scrolls up."""
        self.conversation_id = conversation_id
        row = self.threads.row_of(conversation_id)
        if row is not None:
            thread = self.threads.rows()[row]
            self.title_label.setText(thread.title)
            self._follow_connection(thread.agent_connection_id)
        self.transcript_ctl.open(conversation_id)

    def show_new_thread(self, conversation_id: str) -> None:
        """A thread just created here: an empty transcript, the list selects it, the composer has focus."""
        self.conversation_id = conversation_id
        self.transcript.reset_window(conversation_id, [])
        self.title_label.setText("New thread")
        self.refresh_threads(select=conversation_id)
        self.composer.setFocus()

    def new_thread(self) -> None:
        actions.create_thread(self)

    def _thread_menu(self, pos) -> None:
        index = self.thread_view.indexAt(pos)
        if not index.isValid():
            return
        thread = index.data(THREAD_ROLE)
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: actions.rename_dialog(self, thread.id, thread.title))
        menu.addAction("Delete…", lambda: self.delete_thread(thread.id, confirm=True))
        menu.exec(self.thread_view.viewport().mapToGlobal(pos))

    def _rename_current(self) -> None:
        index = self.thread_view.currentIndex()
        if index.isValid():
            thread = index.data(THREAD_ROLE)
            actions.rename_dialog(self, thread.id, thread.title)

    def delete_thread(self, conversation_id: str, confirm: bool = True) -> None:
        if confirm:
            title = self.title_of(conversation_id) or "this thread"
            answer = ask(self, "Delete thread",
                         f"Delete “{title}” and all its messages? This cannot be undone.")
            if answer != QMessageBox.StandardButton.Yes:
                return
        actions.delete_thread(self, conversation_id)

    def forget_thread(self, conversation_id: str) -> None:
        """After a delete (here or on another device): clear the transcript if it showed that thread."""
        if conversation_id == self.conversation_id:
            self.conversation_id = None
            self.transcript.reset_window(None, [])
            self.title_label.setText("No thread selected")
        self.refresh_threads(open_first=True)

    # --- search --------------------------------------------------------------------------------
    def _on_search_text(self, text: str) -> None:
        self.left_stack.setCurrentIndex(1 if text.strip() else 0)
        self.search_results.search(text)

    # --- page hooks (desktop/pages/protocol.py): ctx.navigate("console", thread=… / message=…) -------
    def show_thread(self, thread_id: str) -> bool:
        self.refresh_threads(select=thread_id)
        return True

    def show_message(self, message_id: str) -> bool:
        self.jump_to_message(message_id)
        return True

    def jump_to_message(self, message_id: str, _conversation_id: str = "") -> None:
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
            self.transcript_ctl.show_window(window, focus)

        self.transcript_ctl.jump(message_id, land)

    # --- turns (delegated) -----------------------------------------------------------------------
    def send(self) -> None:
        self.turns.send(self.composer.toPlainText())

    def stop(self) -> None:
        self.turns.stop()

    def on_message_action(self, name: str, message_id: str) -> None:
        if name == "retry":
            self.turns.retry(message_id)
        elif name == "regenerate":
            self.turns.regenerate(message_id)
        elif name == "promote":
            actions.promote(self, message_id)
        elif name == "copy":
            actions.copy_message(self, message_id)
        elif name in STEPS:
            self.branches.step(message_id, STEPS[name])
        elif name == "fork":
            self.branches.fork(message_id)
        elif name == "edit":
            tree_dialogs.open_edit(self, message_id)
        elif name == "side_by_side":
            tree_dialogs.open_side_by_side(self, message_id)

    def follow_thread_settings(self, conversation_id: str, settings) -> None:
        """A thread's settings were saved: its connection is the one its next turn talks to."""
        if conversation_id == self.conversation_id and settings.connection_id:
            self._follow_connection(settings.connection_id)
        self.refresh_threads()

    def turn_ended(self) -> None:
        """After a turn: new activity and maybe a new title; the stored rows get their keys."""
        self.refresh_threads()
        self.transcript_ctl.refresh()

    # --- bus -----------------------------------------------------------------------------------
    def _on_changed(self, tables, initiator) -> None:
        if "agent_connections" in tables:
            self.refresh_connections()
        if initiator is not self and ("conversations" in tables or "messages" in tables):
            # Threads that arrive while none is open: show the newest, as at start-up.
            self.refresh_threads(open_first=initiator is SYNC and self.conversation_id is None)
        if initiator is SYNC and ("messages" in tables or self._open_thread_changed(tables)):
            self.transcript_ctl.refresh()

    def _open_thread_changed(self, tables) -> bool:
        """Sync wrote the open thread's row: perhaps another device moved its active leaf (the branch shown)."""
        if "conversations" not in tables or self.conversation_id is None:
            return False
        ids = tables.ids("conversations") if hasattr(tables, "ids") else None
        return ids is None or self.conversation_id in ids

    def update_empty_state(self, *_args) -> None:
        if self.conversation_id is None:
            text = "Start a new thread — type below and press Enter."
        elif self.transcript.rowCount() == 0:
            text = "No messages yet. Say hello."
        else:
            text = ""
        self.set_empty_text(text)

    def shutdown(self) -> None:
        self.turns.stop()
