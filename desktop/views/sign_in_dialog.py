"""The sign-in dialog: which Supabase project (URL + anon key, remembered), then email and password.

Sign in / Create account first check the project with one request (sync.project: a clear sentence
when it is not a Supabase project, not reachable, or refuses the key), remember it in config.json,
then ask Supabase Auth for a session; its refusals are shown as plain sentences (sync.auth_errors).
The dialog ends with an AuthSession in `session`; the main window then switches to that account's
database (desktop.data_switch) — while the dialog only talks to the network, nothing local changes.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from desktop.ops import Op
from desktop.safe_text import Label

INTRO = ("Sync keeps this data in your own Supabase project and on every device you sign in on. "
         "Your project's URL and anon key are under Project Settings → API.")


def obtain_session(data_dir, url: str, key: str, email: str, password: str, create: bool, secrets=None):
    """Pool thread: check the project, remember it, get a session (stored in the keychain)."""
    from sync import config
    from sync.engine import SyncEngine
    from sync.project import check_project

    info = check_project(url, key)
    config.set_value(data_dir, "supabase.url", info.url)
    config.set_value(data_dir, "supabase.anon_key", key.strip())
    engine = SyncEngine(data_dir, secrets=secrets)  # the session is kept where the API keys are
    try:
        sessions = engine.sessions
        if create:
            from sync.errors import SyncError

            try:
                return sessions.sign_up(email, password)
            except SyncError as exc:
                if "confirmation" in str(exc):
                    raise SyncError("Account created. Open the link in the confirmation email we sent to "
                                    f"{email}, then press Sign in.") from None
                raise
        return sessions.sign_in(email, password)
    finally:
        engine.close()


class SignInDialog(QDialog):
    signed_in = Signal(object)  # sync.session.AuthSession

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.session = None
        self.setObjectName("SignInDialog")
        self.setWindowTitle("Sign in to sync")
        self.setMinimumWidth(460)
        col = QVBoxLayout(self)
        col.setSpacing(10)
        title = Label("Sign in to sync", objectName="PageTitle")
        col.addWidget(title)
        intro = Label(INTRO, objectName="Muted")
        intro.setWordWrap(True)
        col.addWidget(intro)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.url_edit = QLineEdit(placeholderText="https://abcd1234.supabase.co")
        self.key_edit = QLineEdit(placeholderText="eyJhbGciOi… (the anon / public key)")
        self.email_edit = QLineEdit(placeholderText="you@example.com")
        self.password_edit = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        form.addRow("Project URL", self.url_edit)
        form.addRow("Anon key", self.key_edit)
        form.addRow("Email", self.email_edit)
        form.addRow("Password", self.password_edit)
        col.addLayout(form)
        self.message = Label("", objectName="Error")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.message)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        self.create_button = QPushButton("Create account")
        self.create_button.clicked.connect(lambda: self.submit(create=True))
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setProperty("primary", True)
        self.sign_in_button.setDefault(True)
        self.sign_in_button.clicked.connect(lambda: self.submit(create=False))
        for button in (self.cancel_button, self.create_button, self.sign_in_button):
            buttons.addWidget(button)
        col.addLayout(buttons)
        self._prefill()

    def _prefill(self) -> None:
        from sync import config

        try:
            self.url_edit.setText(config.get_value(self.ctx.data_dir, "supabase.url") or "")
            self.key_edit.setText(config.get_value(self.ctx.data_dir, "supabase.anon_key") or "")
        except Exception as exc:  # noqa: BLE001 - a broken config.json: let the user type it again
            self.show_message(str(exc))
        email = self.ctx.account_email or ""
        self.email_edit.setText(email)
        first = next((e for e in (self.url_edit, self.key_edit, self.email_edit) if not e.text()), self.password_edit)
        first.setFocus()

    def show_message(self, text: str, error: bool = True) -> None:
        self.message.setObjectName("Error" if error else "Muted")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.setText(text)

    def _busy(self, busy: bool, text: str = "") -> None:
        for widget in (self.url_edit, self.key_edit, self.email_edit, self.password_edit,
                       self.create_button, self.sign_in_button):
            widget.setEnabled(not busy)
        if busy:
            self.show_message(text, error=False)

    def submit(self, create: bool = False) -> None:
        url, key = self.url_edit.text().strip(), self.key_edit.text().strip()
        email, password = self.email_edit.text().strip(), self.password_edit.text()
        missing = [name for name, value in (("the project URL", url), ("the anon key", key),
                                            ("your email", email), ("a password", password)) if not value]
        if missing:
            self.show_message("Fill in " + ", ".join(missing) + ".")
            return
        data_dir = self.ctx.data_dir
        self._busy(True, "Checking the project, then creating your account…" if create
                   else "Checking the project, then signing in…")
        secrets = self.ctx.secrets
        Op(self, lambda: obtain_session(data_dir, url, key, email, password, create, secrets),
           "Signing in").success(self._got_session).failure(self._refused).run()

    def _got_session(self, session) -> None:
        self.session = session
        self.signed_in.emit(session)
        self.accept()

    def _refused(self, exc: BaseException) -> None:
        from agent.logging_setup import redact

        self._busy(False)
        text = str(exc) or type(exc).__name__
        self.show_message(redact(text[0].upper() + text[1:] if text else text))
        self.password_edit.setFocus()
