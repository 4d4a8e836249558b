"""Chat turns in the Console: send, Stop, Retry after an error, Regenerate a reply, edit & resend.

The turn itself (store the user's message first, stream, store the reply, keep partial text on
Stop, keep a failure as a reply with its reason) is agent.chat.turn.ChatTurn, run on a pool thread through
StreamRunner. This controller only mirrors it in the transcript: it shows the user's message and
a streaming reply at once (with provisional ids) and swaps in the stored ids when the turn ends.
Regenerate and Retry make a sibling of the old reply (agent.chat.tree): the transcript shows the new one in
its place, and the old one stays in the thread, off the path shown.
"""

from __future__ import annotations

import threading
import uuid

from PySide6.QtCore import QObject, Signal

from desktop.bus import bus
from desktop.models.transcript_model import PROVISIONAL, MessageRow
from desktop.pages.console.attach import pending_chips, storage_of
from desktop.workers.stream import StreamRunner

NO_REPLY = "No reply was received for this message."
STORED_STATUS = {"done": "done", "stopped": "stopped", "failed": "error"}  # TurnResult.status -> messages.status


class _TurnHandle:
    """Stop may be pressed before the worker has built its ChatTurn; remember it and pass it on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turn = None
        self.cancelled = False

    def attach(self, turn) -> None:
        with self._lock:
            self._turn = turn
            if self.cancelled:
                turn.cancel()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._turn is not None:
                self._turn.cancel()


def _provisional(role: str, content: str = "", streaming: bool = False) -> MessageRow:
    from local_schema.timestamps import utc_now

    return MessageRow(f"{PROVISIONAL}{uuid.uuid4()}", role, content, utc_now(), streaming=streaming)


class TurnController(QObject):
    turn_finished = Signal(object)  # agent.chat.turn.TurnResult
    turn_crashed = Signal(str)

    def __init__(self, page):
        super().__init__(page)
        self.page = page
        self.runner: StreamRunner | None = None
        self._errors: dict[str, str] = {}  # user message id -> why its turn failed (until retried)
        self._user_row: str | None = None
        self._reply_row: str | None = None
        self.paused: str | None = None  # why no turn may start now (a Compare being written), else None
        self._author: str | None = None
        self._streamed_before = 0

    @property
    def busy(self) -> bool:
        return self.runner is not None and self.runner.running

    def _held(self) -> bool:
        """A turn is streaming, or turns are paused (said on the status line)."""
        if self.paused and not self.busy:
            bus.error.emit(self.paused)
        return self.busy or self.paused is not None

    # --- entry points --------------------------------------------------------------------------
    def send(self, text: str) -> None:
        text = text.strip()
        if not text or self._held():
            return
        if not self.page.current_connection_id():
            bus.error.emit("Bind a connection first (I. Bind), then send your message.")
            return
        if self.page.attach.busy:
            bus.error.emit("The attached files are still being read; send again in a moment.")
            return
        from agent.chat.turn import MESSAGE_LIMIT

        if len(text) > MESSAGE_LIMIT:  # said before the huge text is rendered as a provisional row
            bus.error.emit(f"This message is {len(text):,} characters long; the limit is {MESSAGE_LIMIT:,}. "
                           "Shorten it or split it into several messages.")
            return
        if self.page.conversation_id is None:
            from desktop.pages.console import actions

            actions.create_thread(self.page, then=lambda _cid: self._send_now(text))
        else:
            self._send_now(text)

    def retry(self, message_id: str) -> None:
        """Ask again after a failure: `message_id` is the failed reply (a sibling is asked for) or a question
        that never got a reply."""
        if self._held():
            return
        if self._errors.pop(message_id, None) is not None:  # a transient error on a question
            self.page.transcript.set_error(message_id, None)
        self._start(lambda turn: turn.retry(message_id), user_row=None)

    def regenerate(self, assistant_message_id: str) -> None:
        """A sibling of any reply: the transcript ends at its question while the new one streams (the old
        reply and what followed it stay in the thread, one switch away)."""
        if self._held():
            return
        self.page.transcript.truncate_from(assistant_message_id)
        self._start(lambda turn: turn.regenerate(assistant_message_id), user_row=None)

    def edit_and_resend(self, message_id: str, text: str) -> None:
        """Save & resend: the edited question, as a sibling of `message_id`, and its new reply take the old
        question's place in the transcript; the old branch stays in the thread."""
        if self._held():
            return
        model = self.page.transcript
        model.truncate_from(message_id)
        user = _provisional("user", text)
        model.append_new(user)
        self._start(lambda turn: turn.edit_and_resend(message_id, text), user_row=user.id)

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()

    # --- the turn ------------------------------------------------------------------------------
    def _send_now(self, text: str) -> None:
        model = self.page.transcript
        if model.has_newer():
            # The view shows an older page (after a search jump): continue at the end of the thread.
            model.reset_window(model.conversation_id, [], has_older=True)
        self.page.composer.clear()
        # A new message supersedes an earlier transient failure (a failed reply keeps its own error).
        self._errors.clear()
        model.clear_errors()
        files = self.page.attach.take()
        user = _provisional("user", text)
        user.attachments = pending_chips(files)
        model.append_new(user)
        self._start(lambda turn: turn.send(text, files), user_row=user.id, restore_text=text)

    def _start(self, call, user_row: str | None, restore_text: str = "") -> None:
        page = self.page
        db, secrets = page.ctx.db, page.ctx.secrets
        knowledge, storage = page.attach.knowledge(), storage_of(page.ctx)
        attachment_settings = page.attach.settings()
        conversation_id, connection_id = page.conversation_id, page.current_connection_id()
        reply = _provisional("assistant", streaming=True)
        if connection_id in page.connection_names:  # the connection that writes it signs it, as agent.chat.turn stores
            from agent.chat.authorship import reply_author

            reply.author = reply_author(*page.connection_names[connection_id])
        self._author = reply.author
        page.transcript.append_new(reply)
        self._user_row, self._reply_row, self._restore_text = user_row, reply.id, restore_text
        self._streamed_before = 0  # characters of the streamed text that belong to stored tool-call rows
        handle = _TurnHandle()
        tools_for = page.tools.for_turn(handle)  # None: tools are off (desktop.pages.console.tools)

        def job(on_delta, _cancel):
            from agent.chat.turn import ChatTurn

            key = secrets.get_key(connection_id) if connection_id else ""
            turn = ChatTurn(db, conversation_id, api_key=key, connection_id=connection_id, on_delta=on_delta,
                            tools=tools_for() if tools_for else None, knowledge=knowledge, storage=storage,
                            attachment_settings=attachment_settings)
            handle.attach(turn)
            return call(turn)

        # What the turn wrote (its messages, the thread, the connection's check, reinforced memory, a tool
        # allowed "Always") is announced by the runner when it ends, as the page's: the page shows it already.
        self.runner = StreamRunner(job, handle, self, initiator=page)
        self.runner.text_changed.connect(self._show_text)
        self.runner.finished.connect(self._finished)
        self.runner.failed.connect(self._crashed)
        page.set_streaming(True)
        page.view.stick_to_bottom()
        self.runner.start()

    def _show_text(self, text: str) -> None:
        text = text[self._streamed_before:]
        if self._reply_row is None and text:  # after a stored call or result: the next part begins
            self._reply_row = self._new_reply_row()
        if self._reply_row is not None:
            self.page.transcript.set_content(self._reply_row, text, streaming=True)

    def _new_reply_row(self) -> str:
        row = _provisional("assistant", streaming=True)
        row.author = self._author
        self.page.transcript.append_new(row)
        return row.id

    def node_stored(self, node) -> None:
        """A tool turn stored a call or a result (agent.chat.tool_turn.StoredNode): the streaming row (or a new
        one) becomes it; the row of what comes next appears when that begins (_show_text, _finished)."""
        model = self.page.transcript
        if not self.busy:
            return
        row_id = self._reply_row or self._new_reply_row()
        row = model.row_at(model.row_of(row_id))
        model.replace_id(row_id, node.id)
        row.role, row.tool_calls = node.role, node.tool_calls
        if node.role == "tool":
            row.author = None
        model.set_content(node.id, node.content, streaming=False)
        # The next row (text, a result, the reply) appears when it begins: no empty "Generating…" under a
        # call that waits for the user.
        self._reply_row, self._streamed_before = None, node.streamed
        self.page.view.stick_to_bottom()

    def _finished(self, result) -> None:
        from agent.chat.turn import FAILED

        model = self.page.transcript
        if self._user_row is not None:
            model.replace_id(self._user_row, result.user_message_id)
        for old in result.superseded_ids:  # kept in the thread as siblings, off the path shown
            model.remove(old)
        if result.reply_message_id is not None:
            if self._reply_row is None:  # a tool turn whose reply arrived in one flush after its last node
                self._reply_row = self._new_reply_row()
            model.replace_id(self._reply_row, result.reply_message_id)
            model.set_content(result.reply_message_id, result.text, streaming=False)
            model.set_status(result.reply_message_id, STORED_STATUS[result.status],
                             result.error.message if result.status == FAILED and result.error else None)
        else:
            model.remove(self._reply_row)
            if result.status == FAILED and result.error is not None:  # nothing was stored (thread gone)
                self._errors[result.user_message_id] = result.error.message
                model.set_error(result.user_message_id, result.error.message)
        self._end()
        self.turn_finished.emit(result)

    def _crashed(self, exc: BaseException) -> None:
        # Failed before the request left (no key store, thread gone, …): undo the provisional rows.
        model = self.page.transcript
        for row_id in (self._reply_row, self._user_row):
            if row_id is not None:
                model.remove(row_id)
        if self._restore_text and not self.page.composer.toPlainText():
            self.page.composer.setPlainText(self._restore_text)
        self.page.attach.restore()  # the files go back to their chips (nothing was stored with them)
        self._end()
        bus.error.emit(str(exc) or type(exc).__name__)
        self.turn_crashed.emit(str(exc))
        if self.page.conversation_id:
            self.page.open_thread(self.page.conversation_id)  # show exactly what was stored

    def _end(self) -> None:
        self.page.tools.turn_ended()  # a card still waiting goes (its call was answered "not run")
        self.page.set_streaming(False)
        self._user_row = self._reply_row = None
        self.page.turn_ended()  # new activity, maybe a new title; the stored rows get their keys

    # --- errors survive switching threads --------------------------------------------------------
    def restore_errors(self, unanswered: str | None = None) -> None:
        model = self.page.transcript
        for message_id, text in self._errors.items():
            model.set_error(message_id, text)
        if unanswered and unanswered not in self._errors and not self.busy:
            model.set_error(unanswered, NO_REPLY)
