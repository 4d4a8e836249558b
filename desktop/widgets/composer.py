"""The message input: Enter sends, Shift+Enter starts a new line, grows up to a few lines."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QPlainTextEdit

HINT = "Message your agent…  (Enter to send, Shift+Enter for a new line)"
SHORT_HINT = "Message your agent…"


class Composer(QPlainTextEdit):
    submitted = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setPlaceholderText(HINT)
        self.setToolTip("Enter sends · Shift+Enter starts a new line")
        self.setTabChangesFocus(True)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.document().contentsChanged.connect(self._fit)
        self._fit()

    def _fit(self) -> None:
        lines = max(1, min(8, int(self.document().size().height())))
        line_h = self.fontMetrics().lineSpacing()
        self.setFixedHeight(lines * line_h + 22)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        # In a narrow window the full hint wrapped onto a second, cut-off line: keep the short one.
        room = self.viewport().width() - 2 * self.document().documentMargin()
        self.setPlaceholderText(HINT if self.fontMetrics().horizontalAdvance(HINT) <= room else SHORT_HINT)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.submitted.emit()
            return
        super().keyPressEvent(event)
