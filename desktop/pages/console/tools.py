"""Tools in the Console's turns (issue 22): the ⚒ Tools switch beside Send, the approval card of a waiting
call, and long results that expand on click.

With the switch on (kept between sessions; and tools enabled on the Tools page), a turn offers the model this device's enabled
tools (agent.chat.tool_turn). The turn runs on a pool thread; when the model calls a tool, the worker asks
`approve`, which posts the call to the UI thread and waits on an event — the UI thread never waits: it
shows a card (server, tool, arguments as plain text) with Allow once / Always for this tool / Deny, and
the button sets the event. Stop withdraws the card and denies the call. Each call and result the turn
stores comes back as `node_stored` and takes the place of the streaming row in the transcript
(TurnController.node_stored); the next row appears when what follows begins.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QToolButton

from desktop.safe_text import tip
from desktop.widgets.tool_approval import DENY, ToolApprovalCard, ToolApprovalPanel

WAIT_STEP = 0.05  # seconds between looks at Stop while a call waits for the user


@dataclass(eq=False)
class ApprovalRequest:
    """One call waiting for the user (made on the worker thread, answered on the UI thread)."""

    pending: object  # agent.tools.loop.PendingCall
    answered: threading.Event = field(default_factory=threading.Event)
    decision: str = DENY

    def answer(self, decision: str) -> None:
        self.decision = decision
        self.answered.set()


class _Bridge(QObject):
    """Signals emitted on the worker thread, delivered on the UI thread (the bridge lives there)."""

    approval_wanted = Signal(object)  # ApprovalRequest
    approval_withdrawn = Signal(object)  # ApprovalRequest (Stop while it waited)
    node_stored = Signal(object)  # agent.chat.tool_turn.StoredNode


class ConsoleTools(QObject):
    def __init__(self, page) -> None:
        super().__init__(page)
        self.page = page
        self.bridge = _Bridge(self)
        self.toggle = QToolButton(text="⚒ Tools", checkable=True, checked=page.ctx.settings.console_tools,
                                  objectName="ToolsToggle")
        self.toggle.toggled.connect(self._remember_switch)
        self.toggle.setToolTip(tip("Let the agent use the tools enabled on the Tools page (each call asks you "
                                   "first, unless you chose Always for that tool)."))
        self.panel = ToolApprovalPanel()
        self._cards: dict[ApprovalRequest, ToolApprovalCard] = {}
        self._place()
        self.bridge.approval_wanted.connect(self._show_card)
        self.bridge.approval_withdrawn.connect(self._withdraw)
        page.view.delegate.action.connect(self._on_action)

    def _place(self) -> None:
        """The switch before Send; the card panel right under the transcript."""
        column = self.page.view.parentWidget().layout()
        column.insertWidget(column.indexOf(self.page.view) + 1, self.panel)
        row = self.page.send_button.parentWidget().layout()
        for i in range(column.count()):
            item = column.itemAt(i)
            if item.layout() is not None and item.layout().indexOf(self.page.send_button) >= 0:
                row = item.layout()
        row.insertWidget(row.indexOf(self.page.send_button), self.toggle)

    def _remember_switch(self, on: bool) -> None:
        self.page.ctx.settings.console_tools = on

    # --- a turn ------------------------------------------------------------------------------------
    def for_turn(self, handle):
        """None when tools are off; else a function the worker calls to make the turn's TurnTools (it reads
        the tool config and the setting there, off the UI thread). `handle.cancelled` is Stop."""
        if not self.toggle.isChecked():
            return None
        from desktop.tools_runtime import tool_host

        ctx, bridge = self.page.ctx, self.bridge

        def approve(pending) -> str:  # worker thread
            request = ApprovalRequest(pending)
            bridge.approval_wanted.emit(request)
            while not request.answered.wait(WAIT_STEP):
                if handle.cancelled:
                    bridge.approval_withdrawn.emit(request)
                    return DENY
            return request.decision

        def make():  # worker thread
            from agent.chat.tool_turn import turn_tools
            from agent.tools.settings import load_max_rounds

            tools = turn_tools(ctx.db, tool_host(ctx), approve, secrets=ctx.secrets,
                               max_rounds=load_max_rounds(ctx.data_dir))
            tools.on_node = bridge.node_stored.emit
            return tools

        return make

    def turn_ended(self) -> None:
        for request in list(self._cards):
            self._withdraw(request)

    # --- the card ------------------------------------------------------------------------------------
    def _show_card(self, request: ApprovalRequest) -> None:
        if request.answered.is_set():
            return
        pending = request.pending
        card = ToolApprovalCard(pending.server or "", pending.tool or pending.name, pending.arguments)
        card.decided.connect(lambda decision, r=request: self._decided(r, decision))
        self._cards[request] = card
        self.panel.add(card)
        self.page.view.stick_to_bottom()

    def _decided(self, request: ApprovalRequest, decision: str) -> None:
        request.answer(decision)
        card = self._cards.pop(request, None)
        if card is not None:
            self.panel.drop(card)

    def _withdraw(self, request: ApprovalRequest) -> None:
        request.answer(DENY)
        card = self._cards.pop(request, None)
        if card is not None:
            self.panel.drop(card)

    # --- long results ------------------------------------------------------------------------------------
    def _on_action(self, name: str, message_id: str) -> None:
        if name not in ("expand", "collapse"):
            return
        model = self.page.transcript
        i = model.row_of(message_id)
        if i is None:
            return
        row = model.row_at(i)
        row.expanded = name == "expand"
        model.set_content(message_id, row.content)  # a new revision: rendered again, whole or cut
