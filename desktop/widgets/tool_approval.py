"""The card a tool call shows at the end of the transcript while the turn waits for the user: the server,
the tool and the arguments — as plain text, whatever they hold — with Allow once / Always for this tool /
Deny. The card only reports the choice (`decided`); the Console's tools controller hands it to the
waiting turn (desktop.pages.console.tools)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from desktop.safe_text import Label
from desktop.widgets.tool_text import arguments_text, call_heading

ALLOW_ONCE, ALWAYS, DENY = "allow_once", "always", "deny"  # agent.tools.loop's answers
ARGUMENT_LINES = 8  # the arguments box grows to this many lines, then scrolls


class ToolApprovalCard(QFrame):
    decided = Signal(str)  # allow_once | always | deny

    def __init__(self, server: str, tool: str, arguments, parent=None) -> None:
        super().__init__(parent, objectName="ToolApprovalCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        self.question = Label("The agent wants to run a tool:", objectName="Muted")
        self.heading = Label(call_heading(server, tool))
        self.heading.setWordWrap(True)
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        self.arguments = QPlainTextEdit(arguments_text(arguments))
        self.arguments.setReadOnly(True)
        self.arguments.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        lines = min(ARGUMENT_LINES, self.arguments.document().blockCount() + 1)
        self.arguments.setFixedHeight(self.arguments.fontMetrics().lineSpacing() * lines + 12)
        buttons = QHBoxLayout()
        self.allow_button = QPushButton("Allow once")
        self.allow_button.setProperty("primary", True)
        self.always_button = QPushButton("Always for this tool")
        self.deny_button = QPushButton("Deny")
        for button, answer in ((self.allow_button, ALLOW_ONCE), (self.always_button, ALWAYS),
                               (self.deny_button, DENY)):
            button.clicked.connect(lambda _checked=False, a=answer: self._answer(a))
            buttons.addWidget(button)
        buttons.addStretch(1)
        for widget in (self.question, self.heading, self.arguments):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        self.answer: str | None = None

    def _answer(self, answer: str) -> None:
        if self.answer is not None:  # a double click answers once
            return
        self.answer = answer
        for button in (self.allow_button, self.always_button, self.deny_button):
            button.setEnabled(False)
        self.decided.emit(answer)


class ToolApprovalPanel(QWidget):
    """Where the waiting call's card shows: under the last message of the transcript, above the composer.
    Hidden when no call waits."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, objectName="ToolApprovalPanel")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(20, 4, 20, 4)
        self._layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.hide()

    def cards(self) -> list[ToolApprovalCard]:
        return [self._layout.itemAt(i).widget() for i in range(self._layout.count())
                if isinstance(self._layout.itemAt(i).widget(), ToolApprovalCard)]

    def add(self, card: ToolApprovalCard) -> None:
        self._layout.addWidget(card)
        self.show()

    def drop(self, card: ToolApprovalCard) -> None:
        self._layout.removeWidget(card)
        card.deleteLater()
        self.setVisible(bool(self.cards()))

    def clear(self) -> None:
        for card in self.cards():
            self.drop(card)
