"""Compare: one question to two or more connections, their replies side by side, each labelled with the
connection and model that wrote it; **Continue with this** makes one the active leaf.

The steps are agent.chat.turn's: `start_compare` stores the question once (under the active leaf),
`compare_turn(...).reply_to(question)` asks one connection — here each in its own StreamRunner, so the
columns stream at the same time — and `settle_compare` makes the first reply that succeeded the active
leaf. The same view shows a stored reply's siblings side by side ("Side by side" under a reply).
A failed reply is kept (agent.chat.turn) and its column says why.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.bus import bus
from desktop.ops import Op
from desktop.safe_text import Label, SafeTextBrowser
from desktop.workers.stream import StreamRunner

COLUMN_WIDTH = 360


class ReplyColumn(QFrame):
    """One connection's reply: its label, the text (Markdown, plain data), its state and the pick button."""

    picked = Signal(str)  # the reply's message id

    def __init__(self, label: str):
        super().__init__()
        self.setObjectName("CompareColumn")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(COLUMN_WIDTH)
        self.reply_id: str | None = None
        self.status = ""  # the stored reply's status (messages.status) once known
        self._rendered = None  # the document shown (kept alive here)
        col = QVBoxLayout(self)
        self.label = Label(label, objectName="SectionTitle")
        self.label.setWordWrap(True)
        col.addWidget(self.label)
        self.body = SafeTextBrowser()
        col.addWidget(self.body, 1)
        self.state = Label("Waiting…", objectName="Muted")
        self.state.setWordWrap(True)
        col.addWidget(self.state)
        buttons = QHBoxLayout()
        self.retry_button = QPushButton("Retry")  # a failed reply: ask the same connection again
        self.retry_button.hide()
        buttons.addWidget(self.retry_button)
        self.pick_button = QPushButton("Continue with this")
        self.pick_button.setEnabled(False)
        self.pick_button.clicked.connect(lambda: self.reply_id and self.picked.emit(self.reply_id))
        buttons.addWidget(self.pick_button, 1)
        col.addLayout(buttons)

    def set_text(self, text: str) -> None:
        """The reply rendered as the transcript renders it (widgets.markdown_render: no HTML, no resources)."""
        from desktop.theme import colors
        from desktop.widgets.markdown_render import render_markdown

        self._rendered = render_markdown(text or " ", colors(), self.body.font())
        self.body.setDocument(self._rendered.doc)

    def show_stored(self, reply_id: str | None, text: str, status: str, error: str | None, current: bool) -> None:
        self.reply_id = reply_id
        self.set_text(text)
        if status == "error":
            self.state.setObjectName("Error")
            self.state.setText("⚠ " + (error or "The request failed."))
        else:
            self.state.setObjectName("Muted")
            self.state.setText({"stopped": "Stopped before the end."}.get(status, "")
                               + (" Shown in the thread." if current else ""))
        self.state.style().unpolish(self.state)
        self.state.style().polish(self.state)
        self.status = status
        self.pick_button.setEnabled(reply_id is not None and not current and status != "error")
        self.retry_button.setVisible(status == "error")


class CompareDialog(QDialog):
    """`start(connections)`: choose connections and a question, then watch the replies arrive;
    `show_siblings(reply_id)`: a stored reply and its siblings side by side."""

    compared = Signal(list)  # the TurnResults (None for a column that crashed) once every reply ended
    picked = Signal(str)  # the reply chosen to continue with

    def __init__(self, page):
        super().__init__(page)
        self.page = page
        self.setObjectName("CompareView")
        self.setWindowTitle("Compare")
        self.resize(1100, 640)
        self.columns: dict[str, ReplyColumn] = {}
        self.runners: list[StreamRunner] = []
        self.results: dict[str, object] = {}
        self._question: tuple[str, str] | None = None  # (thread, question) of the comparison asked here
        layout = QVBoxLayout(self)
        self.setup = QWidget()
        setup = QVBoxLayout(self.setup)
        setup.setContentsMargins(0, 0, 0, 0)
        note = Label("Ask one question of two or more connections. Their replies are kept side by side as "
                     "alternatives in this thread; continue with the one you prefer.", objectName="Muted")
        note.setWordWrap(True)
        setup.addWidget(note)
        self.connection_list = QListWidget()
        self.connection_list.setMaximumHeight(140)
        setup.addWidget(self.connection_list)
        self.question = QPlainTextEdit()
        self.question.setPlaceholderText("The question to ask each of them")
        self.question.setMaximumHeight(110)
        setup.addWidget(self.question)
        layout.addWidget(self.setup)
        self.question_label = Label("", objectName="Muted")
        self.question_label.setWordWrap(True)
        self.question_label.hide()
        layout.addWidget(self.question_label)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.strip = QWidget()
        self.strip_row = QHBoxLayout(self.strip)
        self.scroll.setWidget(self.strip)
        self.scroll.hide()
        layout.addWidget(self.scroll, 1)
        self.error_label = Label("", objectName="Error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        layout.addWidget(self.error_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.stop_button = QPushButton("Stop")
        self.stop_button.hide()
        self.close_button = QPushButton("Close")
        self.ask_button = QPushButton("Ask them")
        self.ask_button.setProperty("primary", True)
        for button in (self.stop_button, self.close_button, self.ask_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.stop_button.clicked.connect(self.stop)
        self.close_button.clicked.connect(self.close)
        self.ask_button.clicked.connect(self.ask)

    @property
    def running(self) -> bool:
        return any(r.running for r in self.runners)

    # --- a new comparison ---------------------------------------------------------------------------
    def choose(self, connections: list[tuple[str, str, str]], question: str = "") -> None:
        """`connections`: (id, name, model) of each live connection; the first two start checked."""
        self.connection_list.clear()
        for i, (cid, name, model) in enumerate(connections):
            from agent.chat.authorship import reply_author

            item = QListWidgetItem(reply_author(name, model))
            item.setData(Qt.ItemDataRole.UserRole, cid)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if i < 2 else Qt.CheckState.Unchecked)
            self.connection_list.addItem(item)
        self.question.setPlainText(question)

    def checked_connections(self) -> list[str]:
        items = (self.connection_list.item(i) for i in range(self.connection_list.count()))
        return [item.data(Qt.ItemDataRole.UserRole) for item in items if item.checkState() == Qt.CheckState.Checked]

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def ask(self) -> None:
        """Store the question once, then ask every checked connection at the same time."""
        page, wanted, text = self.page, self.checked_connections(), self.question.toPlainText()
        db, cid = page.ctx.db, page.conversation_id
        if cid is None:
            self.show_error("Open a thread first.")
            return
        if page.turns.busy or self.running:
            self.show_error("A reply is still being written; wait for it (or Stop it), then compare.")
            return
        self.show_error("")
        self.ask_button.setEnabled(False)

        def start():
            from agent.chat.turn import start_compare

            return start_compare(db, cid, text, wanted)

        def failed(exc: BaseException) -> None:  # nothing was stored: the choice and the text stay
            self.ask_button.setEnabled(True)
            self.show_error(str(exc))

        Op(self, start, "Starting a comparison").success(lambda r: self._asked(cid, text, *r)).failure(failed).run()

    def _asked(self, conversation_id: str, text: str, question_id: str, wanted: list[str]) -> None:
        from agent.chat.authorship import reply_author

        names = self.page.connection_names
        self.setup.hide()
        self.ask_button.hide()
        self.question_label.setText("You asked: " + " ".join(text.split())[:300])
        self.question_label.show()
        self.page.transcript_ctl.refresh()  # the question is on the path now
        self._set_input_locked(True)
        for i, connection_id in enumerate(wanted):
            column = self._add_column(connection_id, reply_author(*names.get(connection_id, (None, None))))
            column.state.setText("Asking…")
            column.retry_button.clicked.connect(lambda _c=False, c=connection_id: self.retry(c))
            self._run(conversation_id, question_id, connection_id, first=i == 0, column=column)
        self._question = (conversation_id, question_id)
        self.stop_button.show()

    def retry(self, connection_id: str) -> None:
        """Ask a connection whose reply failed again: a new sibling (the failure stays in the thread, as
        always); the thread's active leaf does not move — continue with it when it is the one."""
        if self.running or self.page.turns.busy:
            return
        column = self.columns[connection_id]
        column.retry_button.hide()
        column.pick_button.setEnabled(False)
        column.state.setObjectName("Muted")
        column.state.setText("Asking again…")
        conversation_id, question_id = self._question
        self._set_input_locked(True)
        self._run(conversation_id, question_id, connection_id, first=False, column=column, again=True)
        self.stop_button.show()

    def _run(self, conversation_id: str, question_id: str, connection_id: str, first: bool,
             column: ReplyColumn, again: bool = False) -> None:
        from desktop.pages.console.turns import _TurnHandle

        db, secrets = self.page.ctx.db, self.page.ctx.secrets
        handle = _TurnHandle()

        def job(on_delta, _cancel):
            from agent.chat.turn import compare_turn

            key = secrets.get_key(connection_id) or ""
            turn = compare_turn(db, conversation_id, connection_id, key, first, on_delta=on_delta)
            handle.attach(turn)
            return turn.reply_to(question_id)

        runner = StreamRunner(job, handle, self)
        runner.text_changed.connect(column.set_text)
        runner.finished.connect(lambda result: self._one_ended(connection_id, result, again))
        runner.failed.connect(lambda exc: self._one_crashed(connection_id, exc, again))
        self.runners.append(runner)
        runner.start()

    def _one_ended(self, connection_id: str, result, again: bool = False) -> None:
        from desktop.pages.console.turns import STORED_STATUS

        self.results[connection_id] = result
        error = result.error.message if result.error else None
        self.columns[connection_id].show_stored(result.reply_message_id, result.text, STORED_STATUS[result.status],
                                                error, current=False)
        if result.reply_message_id is None and result.status != "failed":
            self.columns[connection_id].state.setText("Stopped before the first word: nothing was kept.")
        self._ended(again)

    def _one_crashed(self, connection_id: str, exc: BaseException, again: bool = False) -> None:
        self.results[connection_id] = None
        column = self.columns[connection_id]
        column.state.setObjectName("Error")
        column.state.setText(f"⚠ Could not ask: {exc}")
        self._ended(again)

    def _ended(self, again: bool) -> None:
        if not again:
            self._maybe_settle()
            return
        self.stop_button.hide()  # a retry moves no leaf: nothing to settle
        self._set_input_locked(False)
        self.page.refresh_threads()
        self.compared.emit([self.results[c] for c in self.columns])

    def _maybe_settle(self) -> None:
        if len(self.results) < len(self.columns):
            return
        db, cid = self.page.ctx.db, self.page.conversation_id
        ordered = [self.results[c] for c in self.columns]

        def settle():
            from agent.chat.turn import settle_compare

            return settle_compare(db, cid, [r for r in ordered if r is not None])

        def settled(leaf: str | None) -> None:
            self.stop_button.hide()
            self._set_input_locked(False)
            for column in self.columns.values():
                column.pick_button.setEnabled(column.reply_id is not None and column.reply_id != leaf
                                              and column.status != "error")
                if column.reply_id is not None and column.reply_id == leaf:
                    column.state.setText((column.state.text() + " Shown in the thread.").strip())
            self.page.transcript_ctl.refresh()
            self.page.refresh_threads()
            self.compared.emit(ordered)

        def failed(exc: BaseException) -> None:
            self.stop_button.hide()
            self._set_input_locked(False)
            self.show_error(f"Could not finish the comparison: {exc}")

        Op(self, settle, "Finishing the comparison").success(settled).failure(failed).run()

    def stop(self) -> None:
        for runner in self.runners:
            runner.stop()

    def _set_input_locked(self, locked: bool) -> None:
        """No other turn starts in the thread while the comparison is being written."""
        self.page.turns.paused = "Wait for the comparison to finish (or Stop it in its window)." if locked else None
        self.page.send_button.setEnabled(not locked)
        self.page.composer.setReadOnly(locked)

    # --- stored alternatives ------------------------------------------------------------------------
    def show_siblings(self, reply_id: str) -> None:
        """A stored reply and its siblings (the other replies to its question) side by side."""
        db, cid = self.page.ctx.db, self.page.conversation_id
        self.setup.hide()
        self.ask_button.hide()
        self.setWindowTitle("Side by side")

        def read():
            from agent.chat import tree
            from agent.chat.authorship import connection_names_in, reply_author
            from local_schema.models import Message

            with db.session() as s:
                reply = tree.live_message_in(s, cid, reply_id)
                question = s.get(Message, reply.parent_id) if reply.parent_id else None
                siblings = tree.siblings_in(s, reply)
                names = connection_names_in(s, [m.agent_connection_id for m in siblings])
                shown = set(tree.path_ids_in(s, cid, tree.active_leaf_in(s, tree.live_thread_in(s, cid))))
                return (question.content if question is not None else "",
                        [(m.id, reply_author(names.get(m.agent_connection_id), m.model), m.content, m.status,
                          m.error, m.id in shown) for m in siblings])

        def show(found) -> None:
            question, replies = found
            self.question_label.setText("You asked: " + " ".join(question.split())[:300])
            self.question_label.setVisible(bool(question))
            for message_id, label, content, status, error, current in replies:
                self._add_column(message_id, label).show_stored(message_id, content, status or "done", error, current)

        Op(self, read, "Reading the replies").success(show).failure(
            lambda exc: self.show_error(f"Could not read the replies: {exc}")).run()

    def _add_column(self, key: str, label: str) -> ReplyColumn:
        column = ReplyColumn(label)
        column.picked.connect(self._pick)
        self.columns[key] = column
        self.strip_row.addWidget(column, 1)
        self.scroll.show()
        return column

    def _pick(self, reply_id: str) -> None:
        if self.running:
            return
        self.page.branches.switch_to(reply_id)
        bus.notice.emit("Continuing with the chosen reply")
        self.picked.emit(reply_id)
        self.close()
