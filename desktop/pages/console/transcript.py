"""The open thread's transcript: open it (newest page of its active path), page older and newer messages
as the reader scrolls, jump to a search hit, and take in what sync wrote — in place.

Every read is keyed (desktop.queries): a page is "the messages of the path above/below this one", a
refresh is "the path from the first message shown down to the last one shown (or to the leaf)". So rows
another device adds are neither skipped nor shown twice, and a refresh keeps the scroll position, the
composer's text and the selection, because only the rows that changed are touched.
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QObject, QTimer

from desktop import queries
from desktop.bus import bus
from desktop.models.transcript_model import MAX_ROWS
from desktop.ops import Op

FIRST_PAGE = 60  # messages shown when a thread opens (enough to fill a tall window)
PAGE = 120  # messages fetched per scroll step


class TranscriptController(QObject):
    def __init__(self, page):
        super().__init__(page)
        self.page = page
        self.model, self.view = page.transcript, page.view
        self._paging = False
        self._refreshing = False
        self._refresh_again = False
        self._clock = QElapsedTimer()
        self.last_open_ms = 0.0
        self.view.wants_older.connect(self.load_older)
        self.view.wants_newer.connect(self.load_newer)

    @property
    def db(self):
        return self.page.ctx.db

    # --- open and jump -----------------------------------------------------------------------------
    def open(self, conversation_id: str) -> None:
        """Show the newest page of a thread; older pages load as the reader scrolls up."""
        db = self.db
        self._clock.start()
        Op(self.page, lambda: queries.tail_window(db, conversation_id, FIRST_PAGE), "Opening the thread").success(
            self.show_window).run()

    def jump(self, message_id: str, landed) -> None:
        """A window around `message_id`; `landed(window, focus)` runs when it is read (None: gone)."""
        db = self.db
        self._clock.start()
        Op(self.page, lambda: queries.window_around(db, message_id, PAGE), "Jumping to the message").success(
            landed).run()

    def show_window(self, window: queries.Window, focus: str | None = None) -> None:
        if window.conversation_id != self.page.conversation_id:
            return  # the user already moved on to another thread
        self.model.reset_window(window.conversation_id, window.rows, window.has_older, window.has_newer)
        self.view.delegate.highlight_id = focus
        if focus:
            self.view.scroll_to_message(focus)
        else:
            self.view.stick_to_bottom()
        self.page.turns.restore_errors(window.unanswered if not focus else None)
        self.page.update_empty_state()
        QTimer.singleShot(0, lambda: self._opened(window.conversation_id, focus))

    def _opened(self, conversation_id: str, focus: str | None) -> None:
        self.last_open_ms = self._clock.nsecsElapsed() / 1e6
        if focus:
            self.view.scroll_to_message(focus)
            self.page.jumped.emit(focus)
        else:
            self.view.scrollToBottom()
            self.page.thread_opened.emit(conversation_id)

    # --- paging ------------------------------------------------------------------------------------
    def load_older(self) -> None:
        if self._paging or not self.model.has_older():
            return
        db, cid, key = self.db, self.model.conversation_id, self.model.first_key()
        if not key:
            return  # the turn's rows have no key yet; the refresh after the turn gives them one
        self._paging = True

        def done(result) -> None:
            self._paging = False
            rows, more = result
            if cid == self.model.conversation_id:
                self.view.remember_anchor()
                self.model.prepend(rows, more)
            self.refresh_if_pending()

        Op(self.page, lambda: queries.older_than(db, cid, key, PAGE), "Loading older messages").success(
            done).failure(lambda exc: self._paging_failed("older", exc)).run()

    def load_newer(self) -> None:
        if self._paging or not self.model.has_newer():
            return
        db, cid, key = self.db, self.model.conversation_id, self.model.last_key()
        if not key:
            return
        self._paging = True

        def done(result) -> None:
            self._paging = False
            rows, more = result
            if cid == self.model.conversation_id:
                self.view.remember_anchor()  # the window may drop old rows above: keep the reader's place
                self.model.extend(rows, more)
            self.refresh_if_pending()

        Op(self.page, lambda: queries.newer_than(db, cid, key, PAGE), "Loading newer messages").success(
            done).failure(lambda exc: self._paging_failed("newer", exc)).run()

    def _paging_failed(self, which: str, exc: BaseException) -> None:
        self._paging = False
        bus.error.emit(f"Could not load {which} messages: {exc}")
        self.refresh_if_pending()

    # --- live ----------------------------------------------------------------------------------------
    def refresh(self, anchor: tuple[str, int] | None = None) -> None:
        """Re-read the shown window after sync wrote messages, and merge it in place. While a reply
        streams the merge waits for the turn to end (the turn's rows have no ids yet). `anchor`
        (message id, its top in the viewport): that message is kept there (a branch switch)."""
        cid = self.model.conversation_id
        if cid is None:
            return
        if self._refreshing or self._paging or self.page.turns.busy:
            self._refresh_again = True
            return
        self._refreshing, self._refresh_again = True, False
        db, model = self.db, self.model
        shown = [r.id for r in model.stored()]
        args = (shown, model.has_older(), model.has_newer(), MAX_ROWS)

        def merge(fresh: queries.Refresh) -> None:
            self._refreshing = False
            if fresh.conversation_id == model.conversation_id and not self.page.turns.busy:
                at_bottom = self.view.at_bottom() and anchor is None
                if anchor is not None:
                    self.view.keep_at(*anchor)
                elif not at_bottom:
                    self.view.remember_anchor()  # the message the reader looks at stays where it is
                if model.merge(fresh.rows, fresh.has_older, fresh.has_newer) and at_bottom:
                    self.view.stick_to_bottom()
                self.page.update_empty_state()
            if self._refresh_again:
                self.refresh()

        def failed(exc: BaseException) -> None:
            self._refreshing = False
            bus.error.emit(f"Could not show the messages that arrived: {exc}")

        Op(self.page, lambda: queries.refresh_window(db, cid, *args), "Showing new messages").success(
            merge).failure(failed).run()

    def refresh_if_pending(self) -> None:
        """After a turn ended: the refresh it held back."""
        if self._refresh_again:
            self.refresh()
