"""Unlock the encrypted key file: asked once at start-up when the data dir keeps its API keys and sync
session in a locked key file (no OS keychain here), and again on demand (the account menu's "Unlock key
file…"). Deriving the key (scrypt, ~0.1 s) runs in an Op; a wrong passphrase is said in the dialog,
which stays open. "Not now" leaves the file locked: sync waits ("Key file locked") and nothing is lost.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout

from desktop.bus import bus
from desktop.ops import Op
from desktop.safe_text import Label

EXPLAIN = ("This computer has no OS keychain, so MIRARI keeps your API keys and your sync session in an "
           "encrypted file in the data folder. Enter its passphrase to unlock them for this session.")


class PassphraseDialog(QDialog):
    unlocked = Signal()

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("PassphraseDialog")
        self.setWindowTitle("Unlock your keys")
        self.setMinimumWidth(440)
        col = QVBoxLayout(self)
        col.setSpacing(10)
        col.addWidget(Label("Unlock your keys", objectName="PageTitle"))
        explain = Label(EXPLAIN, objectName="Muted")
        explain.setWordWrap(True)
        col.addWidget(explain)
        self.passphrase = QLineEdit(echoMode=QLineEdit.EchoMode.Password,
                                    placeholderText="Passphrase of the key file")
        self.passphrase.returnPressed.connect(self.unlock)
        col.addWidget(self.passphrase)
        self.message = Label("", objectName="Error")
        self.message.setWordWrap(True)
        col.addWidget(self.message)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.later_button = QPushButton("Not now")
        self.later_button.setToolTip("Keep the file locked: sync waits, and Bind cannot use the keys")
        self.later_button.clicked.connect(self.reject)
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setProperty("primary", True)
        self.unlock_button.setDefault(True)
        self.unlock_button.clicked.connect(self.unlock)
        buttons.addWidget(self.later_button)
        buttons.addWidget(self.unlock_button)
        col.addLayout(buttons)
        self.passphrase.setFocus()

    def unlock(self) -> None:
        passphrase = self.passphrase.text()
        if not passphrase:
            self.message.setText("Enter the passphrase first.")
            return
        secrets = self.ctx.secrets
        self._busy(True)
        Op(self, lambda: secrets.use_encrypted_file(passphrase), "Unlocking the key file").success(
            self._done).failure(self._refused).run()

    def _busy(self, busy: bool) -> None:
        for widget in (self.passphrase, self.unlock_button):
            widget.setEnabled(not busy)
        self.message.setText("Unlocking…" if busy else "")

    def _done(self, _result) -> None:
        bus.keys_changed.emit(self.ctx.secrets.mode)  # Settings and Bind show the new state
        self.unlocked.emit()
        self.accept()

    def _refused(self, exc: BaseException) -> None:
        self._busy(False)
        self.message.setText(str(exc) or type(exc).__name__)  # "That passphrase does not unlock the key file."
        self.passphrase.selectAll()
        self.passphrase.setFocus()
