"""The Console's moves through a thread's tree: ‹ i/N › under a message with siblings switches the branch
(agent.chat.tree.switch: the newest leaf through the chosen sibling becomes the active leaf), and Fork
starts a new thread from a message's path (agent.chat.tree.fork) and opens it.

The switched transcript is merged in place, with the clicked message kept where the reader saw it.
Everything runs as an Op; the product logic is agent.chat.tree's.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from desktop.bus import bus
from desktop.ops import Op

STEPS = {"previous_sibling": -1, "next_sibling": +1}


class BranchSwitcher(QObject):
    switched = Signal(str)  # the thread's new active leaf, once stored (the transcript follows)
    forked = Signal(str)  # the new thread's id, once stored (the Console opens it)

    def __init__(self, page):
        super().__init__(page)
        self.page = page

    def step(self, message_id: str, delta: int) -> None:
        """Show the previous (-1) or next (+1) sibling of `message_id` and the newest branch below it."""
        model, view = self.page.transcript, self.page.view
        i = model.row_of(message_id)
        if i is None or self.page.turns.busy:
            return
        row = model.row_at(i)
        target = row.sibling_index - 1 + delta
        if not row.sibling_index or not 0 <= target < len(row.siblings):
            return
        self.switch_to(row.siblings[target], view.visualRect(model.index(i)).top())

    def switch_to(self, message_id: str, top: int | None = None) -> None:
        """Make the branch through `message_id` the active one; it takes the place (`top`) of what was there."""
        db, cid = self.page.ctx.db, self.page.conversation_id
        if cid is None:
            return

        def switch() -> str:
            from agent.chat.tree import switch as switch_in_db

            return switch_in_db(db, cid, message_id)

        def switched(leaf: str) -> None:
            if cid == self.page.conversation_id:
                self.page.transcript_ctl.refresh(anchor=(message_id, top) if top is not None else None)
            self.switched.emit(leaf)

        Op(self.page, switch, "Switching the branch").success(switched).failure(
            lambda exc: bus.error.emit(f"Could not switch the branch: {exc}")).run()

    def fork(self, message_id: str) -> None:
        db, cid = self.page.ctx.db, self.page.conversation_id
        if cid is None:
            return

        def fork() -> str:
            from agent.chat.tree import fork as fork_in_db

            return fork_in_db(db, cid, message_id).id

        def forked(new_id: str) -> None:
            self.page.refresh_threads(select=new_id)  # selecting it opens it
            bus.notice.emit("Forked into a new thread")
            self.forked.emit(new_id)

        Op(self.page, fork, "Forking the thread").success(forked).failure(
            lambda exc: bus.error.emit(f"Could not fork the thread: {exc}")).run()
