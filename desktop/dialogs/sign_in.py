"""The sign-in dialog: which Supabase project (URL + anon key, remembered), then email and password.

Sign in / Create account first check the project with one request (sync.project: a clear sentence
when it is not a Supabase project, not reachable, or refuses the key), remember it in config.json,
then ask Supabase Auth for a session on the window's one sync engine (ctx.sync.engine); its refusals
are shown as plain sentences (sync.auth_errors). The session is kept in the data dir's secret store
(sync.secrets), beside the API keys. Where that store cannot keep it yet — no OS keychain and no
choice made, or the encrypted key file locked — the dialog asks right here (`StoreChoice`): an
encrypted file with a passphrase, or memory only; a fresh device never has to visit Settings first.
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
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop.ops import Op
from desktop.safe_text import Label

INTRO = ("Sync keeps this data in your own Supabase project and on every device you sign in on. "
         "Your project's URL and anon key are under Project Settings → API.")
MIN_PASSPHRASE = 8  # as in Settings: a new key file's passphrase guards every API key


def obtain_session(engine, url: str, key: str, email: str, password: str, create: bool):
    """Pool thread: check the project, remember it, get a session on `engine` (kept in its secret store)."""
    from sync import config
    from sync.project import check_project

    info = check_project(url, key)
    config.set_value(engine.data_dir, "supabase.url", info.url)
    config.set_value(engine.data_dir, "supabase.anon_key", key.strip())
    engine.reconfigure()  # another project or a new anon key: a fresh auth client and REST client
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


def store_undecided(secrets) -> bool:
    """The secret store cannot keep a session yet: no keychain and no choice, or the key file locked."""
    status = secrets.status() if secrets is not None else None
    return status is not None and (status.needs_choice or status.locked)


class StoreChoice(QWidget):
    """Where the session will be kept, asked only when the secret store cannot keep it yet: no OS keychain
    and no choice made (an encrypted file with a new passphrase, typed twice, or memory only), or the
    key file is locked (its passphrase)."""

    def __init__(self, secrets):
        super().__init__()
        self.secrets = secrets
        status = secrets.status() if secrets is not None else None
        self.needed = store_undecided(secrets)
        self.creating = status is not None and status.needs_choice and not status.key_file_exists
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 4, 0, 4)
        if status is not None and status.locked:
            text = ("Your session will be kept in the encrypted key file with your API keys. "
                    "Enter its passphrase to unlock it.")
        else:
            text = ("This computer has no OS keychain. Where should MIRARI keep your session "
                    "(and your API keys)?")
        self.explain = Label(text, objectName="Muted")
        self.explain.setWordWrap(True)
        col.addWidget(self.explain)
        self.file_choice = QRadioButton("In an encrypted file, unlocked by a passphrase")
        self.memory_choice = QRadioButton("In memory only — you sign in again each time MIRARI starts")
        self.file_choice.setChecked(True)
        self.passphrase = QLineEdit(echoMode=QLineEdit.EchoMode.Password,
                                    placeholderText="Passphrase of the key file")
        self.repeat = QLineEdit(echoMode=QLineEdit.EchoMode.Password, placeholderText="Repeat the passphrase")
        choosing = status is not None and status.needs_choice
        if choosing:
            col.addWidget(self.file_choice)
        row = QHBoxLayout()
        row.setContentsMargins(24 if choosing else 0, 0, 0, 0)
        row.addWidget(self.passphrase, 1)
        row.addWidget(self.repeat, 1)
        col.addLayout(row)
        if choosing:
            col.addWidget(self.memory_choice)
        self.file_choice.setVisible(choosing)
        self.memory_choice.setVisible(choosing)
        self.repeat.setVisible(self.creating)
        self.memory_choice.toggled.connect(self._chosen)
        self.setVisible(self.needed)

    def _chosen(self) -> None:
        memory = self.memory_choice.isChecked()
        self.passphrase.setEnabled(not memory)
        self.repeat.setEnabled(not memory)

    def problem(self) -> str | None:
        """What is wrong with the choice as typed, or None."""
        if not self.needed or self.memory_choice.isChecked():
            return None
        text = self.passphrase.text()
        if not text:
            return "Enter the passphrase of the key file." if not self.creating else \
                "Choose a passphrase for the key file (or keep the session in memory only)."
        if self.creating and len(text) < MIN_PASSPHRASE:
            return f"Use at least {MIN_PASSPHRASE} characters: this passphrase guards your API keys and session."
        if self.creating and self.repeat.text() != text:
            return "The two passphrases do not match. Type them again."
        return None

    def apply(self):
        """A callable for a pool thread that puts the choice into effect (scrypt takes ~0.1 s), or None."""
        if not self.needed:
            return None
        secrets = self.secrets
        if self.memory_choice.isChecked():
            return secrets.use_memory_only
        passphrase = self.passphrase.text()
        return lambda: secrets.use_encrypted_file(passphrase)

    def set_busy(self, busy: bool) -> None:
        for widget in (self.file_choice, self.memory_choice, self.passphrase, self.repeat):
            widget.setEnabled(not busy)
        if not busy:
            self._chosen()


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
        self.store_choice = StoreChoice(ctx.secrets)
        col.addWidget(self.store_choice)
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
        self.store_choice.set_busy(busy)
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
        problem = self.store_choice.problem()
        if problem:
            self.show_message(problem)
            (self.store_choice.repeat if "match" in problem else self.store_choice.passphrase).setFocus()
            return
        choose = self.store_choice.apply()
        engine = self.ctx.sync.engine
        self._busy(True, "Checking the project, then creating your account…" if create
                   else "Checking the project, then signing in…")

        def work():
            if choose is not None:
                choose()  # a wrong passphrase stops here, before the network
            return obtain_session(engine, url, key, email, password, create)

        self._chose_store = choose is not None
        Op(self, work, "Signing in").success(self._got_session).failure(self._refused).run()

    def _got_session(self, session) -> None:
        self.session = session
        self._store_changed()
        self.signed_in.emit(session)
        self.accept()

    def _store_changed(self) -> None:
        """Settings and Bind show where keys are kept: tell them when the dialog chose it."""
        if getattr(self, "_chose_store", False):
            from desktop.bus import bus

            bus.keys_changed.emit(self.ctx.secrets.mode)

    def _refused(self, exc: BaseException) -> None:
        from agent.logging_setup import redact

        self._busy(False)
        self._store_changed()  # the store may be unlocked (or chosen) although the sign-in failed
        still_needed = store_undecided(self.ctx.secrets)
        if not still_needed:
            self.store_choice.hide()
            self.store_choice.needed = False
        text = str(exc) or type(exc).__name__
        self.show_message(redact(text[0].upper() + text[1:] if text else text))
        (self.store_choice.passphrase if still_needed else self.password_edit).setFocus()
