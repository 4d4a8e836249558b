"""Edit a sent message of yours: **Save** fixes its text in place (agent.chat.tree.edit_message: no new
reply, no branch), **Save & resend** sends the new text as a sibling of the old question and asks for a
new reply (agent.chat.turn.ChatTurn.edit_and_resend via the TurnController); the old branch stays.

The dialog is not modal: the transcript stays readable beside it. A text that cannot be stored (empty,
too long) is said in the dialog and nothing is lost: the dialog stays open with what was typed.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout

from desktop.ops import Op
from desktop.safe_text import Label


class EditMessageDialog(QDialog):
    def __init__(self, page, message_id: str, text: str, can_resend: bool = True):
        super().__init__(page)
        self.page, self.message_id = page, message_id
        self.setObjectName("EditMessage")
        self.setWindowTitle("Edit message")
        self.resize(620, 320)
        layout = QVBoxLayout(self)
        note = Label("Save fixes the text in place (nothing is asked again). Save & resend sends the new text "
                     "as another version of this message and asks for a new reply; the old one and "
                     "everything after it stay, one ‹ › away.", objectName="Muted")
        note.setWordWrap(True)
        layout.addWidget(note)
        self.editor = QPlainTextEdit()
        self.editor.setPlainText(text)
        layout.addWidget(self.editor, 1)
        self.error_label = Label("", objectName="Error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        layout.addWidget(self.error_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.save_button = QPushButton("Save")
        self.resend_button = QPushButton("Save && resend")
        self.resend_button.setProperty("primary", True)
        self.resend_button.setEnabled(can_resend)
        for button in (self.cancel_button, self.save_button, self.resend_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.cancel_button.clicked.connect(self.reject)
        self.save_button.clicked.connect(self.save)
        self.resend_button.clicked.connect(self.resend)
        self.resend_button.setDefault(True)

    def _checked(self) -> str | None:
        from agent.chat.tree import checked_text

        try:
            return checked_text(self.editor.toPlainText())
        except ValueError as exc:
            self.show_error(str(exc))
            return None

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    def save(self) -> None:
        """Fix the text in place; the transcript shows the stored text once it is written."""
        text = self._checked()
        if text is None:
            return
        db, cid, mid, page = self.page.ctx.db, self.page.conversation_id, self.message_id, self.page

        def save() -> None:
            from agent.chat.tree import edit_message

            edit_message(db, cid, mid, text)

        def saved(_result) -> None:
            page.transcript_ctl.refresh()
            self.accept()

        self.save_button.setEnabled(False)
        Op(self, save, "Saving the message").success(saved).failure(self._failed).run()

    def _failed(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.show_error(f"Could not save the message: {exc}")

    def resend(self) -> None:
        text = self._checked()
        if text is None:
            return
        if self.page.turns.busy:
            self.show_error("A reply is still being written; wait for it (or Stop it), then resend.")
            return
        self.page.turns.edit_and_resend(self.message_id, text)
        self.accept()
