"""Settings: where the data lives, where API keys are kept (with the explicit no-keychain fallback),
the theme, the snippet that lets other apps use this memory (MCP), and backups
(desktop.pages.settings.backups_card). Passphrase work (scrypt) runs in an Op, like everything slow."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop import theme
from desktop.bus import bus
from desktop.ops import Op
from desktop.pages.protocol import PageHooks
from desktop.safe_text import Html, HtmlLabel, Label

MIN_PASSPHRASE = 8  # for a new key file; an existing one opens with whatever it was made with
THEME_LABELS = {"system": "Follow the OS", "light": "Light", "dark": "Dark"}


def _card(title: str) -> tuple[QFrame, QVBoxLayout]:
    card = QFrame(objectName="Card")
    col = QVBoxLayout(card)
    col.setContentsMargins(18, 14, 18, 14)
    heading = Label(title)
    heading.setStyleSheet("font-weight: 600; font-size: 14px;")
    col.addWidget(heading)
    return card, col


class SettingsPage(QWidget, PageHooks):
    secrets_changed = Signal(str)  # the new mode

    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        page = QVBoxLayout(self)
        page.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea(frameShape=QFrame.Shape.NoFrame, widgetResizable=True)
        page.addWidget(scroll)
        content = QWidget()
        scroll.setWidget(content)
        outer = QVBoxLayout(content)
        outer.setContentsMargins(22, 14, 22, 14)
        outer.setSpacing(14)
        outer.addWidget(Label("Settings", objectName="PageTitle"))

        # --- data ---
        card, col = _card("Data location")
        db_path = ctx.db.path if ctx.db is not None else ctx.data_dir
        self.data_label = Label(str(ctx.data_dir))
        self.data_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.data_label)
        note = Label(f"Database: {db_path}. Change it with --data-dir or MIRARI_DATA_DIR; "
                     "backups: below (one is made before every schema upgrade).", objectName="Muted")
        note.setWordWrap(True)
        col.addWidget(note)
        from agent.logging_setup import current_log_file

        log_file = current_log_file()
        self.log_label = Label(f"Log: {log_file} (API keys are masked in it)" if log_file else
                               "Log: console only", objectName="Muted")
        self.log_label.setWordWrap(True)
        self.log_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.log_label)
        open_button = QPushButton("Open folder")
        open_button.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(ctx.data_dir))))
        col.addWidget(open_button, 0, Qt.AlignmentFlag.AlignLeft)
        outer.addWidget(card)

        # --- keys ---
        card, col = _card("API keys")
        self.key_status = HtmlLabel("")
        self.key_status.setWordWrap(True)
        col.addWidget(self.key_status)
        self.key_explain = Label("", objectName="Muted")
        self.key_explain.setWordWrap(True)
        col.addWidget(self.key_explain)
        self.fallback = QWidget()
        fcol = QVBoxLayout(self.fallback)
        fcol.setContentsMargins(0, 6, 0, 0)
        row = QHBoxLayout()
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("Passphrase for the encrypted key file")
        self.passphrase.returnPressed.connect(self.use_encrypted_file)
        # Only when the file is created: a typo there would lock the keys away for good.
        self.passphrase_repeat = QLineEdit()
        self.passphrase_repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase_repeat.setPlaceholderText("Repeat the passphrase")
        self.passphrase_repeat.returnPressed.connect(self.use_encrypted_file)
        self.file_button = QPushButton("Use encrypted file")
        self.file_button.clicked.connect(self.use_encrypted_file)
        row.addWidget(self.passphrase, 1)
        row.addWidget(self.passphrase_repeat, 1)
        row.addWidget(self.file_button)
        fcol.addLayout(row)
        self.memory_button = QPushButton("Keep keys in memory only")
        self.memory_button.setToolTip("Keys are forgotten when MIRARI exits; nothing is written to disk")
        self.memory_button.clicked.connect(self.use_memory_only)
        fcol.addWidget(self.memory_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.key_error = Label("", objectName="Error")
        self.key_error.setWordWrap(True)
        self.key_error.hide()
        fcol.addWidget(self.key_error)
        col.addWidget(self.fallback)
        outer.addWidget(card)

        # --- appearance ---
        card, col = _card("Appearance")
        row = QHBoxLayout()
        row.addWidget(Label("Theme"))
        self.theme_combo = QComboBox()
        for key, label in THEME_LABELS.items():
            self.theme_combo.addItem(label, key)
        self.theme_combo.setCurrentIndex(max(0, self.theme_combo.findData(ctx.settings.theme)))
        self.theme_combo.currentIndexChanged.connect(self._theme_picked)
        row.addWidget(self.theme_combo)
        row.addStretch(1)
        col.addLayout(row)
        outer.addWidget(card)
        outer.addWidget(self._mcp_card())

        # --- backups ---
        self.backups = None
        if ctx.backups is not None:
            from desktop.pages.settings.backups_card import BackupsCard

            self.backups = BackupsCard(ctx, ctx.backups)
            outer.addWidget(self.backups)
        outer.addStretch(1)
        self.show_key_status()
        # The start-up prompt and the sign-in dialog unlock or choose the store too.
        bus.keys_changed.connect(self.show_key_status)

    # --- keys ------------------------------------------------------------------------------------
    def show_key_status(self, _mode: str = "") -> None:
        status = self.ctx.secrets.status()
        self.key_status.setText(Html("<b>Keys are kept in:</b> {}").format(status.label))
        if status.mode == "keychain":
            self.key_explain.setText("Each connection's key is stored in your operating system's keychain under "
                                     "“MIRARI”. Keys never enter the database, exports, logs or sync.")
        elif status.mode == "encrypted_file":
            self.key_explain.setText("No OS keychain is available, so keys are kept in an AES-encrypted file in "
                                     "the data folder, unlocked with your passphrase."
                                     + (" Enter the passphrase to unlock it." if status.locked else ""))
        elif status.mode == "memory":
            self.key_explain.setText("Keys live in memory only and are forgotten when MIRARI exits. "
                                     "Choose an encrypted file to keep them.")
        else:
            self.key_explain.setText("This machine has no OS keychain. MIRARI will not store keys in plain "
                                     "text: choose an encrypted file (protected by a passphrase) or memory only.")
        self.fallback.setVisible(status.mode != "keychain")
        self._creating = not status.key_file_exists
        self.passphrase_repeat.setVisible(self._creating)
        self.file_button.setText("Unlock" if status.key_file_exists and status.mode != "memory" else
                                 "Use encrypted file")
        self.memory_button.setVisible(status.mode != "memory")

    def use_encrypted_file(self) -> None:
        passphrase = self.passphrase.text()
        if not passphrase:
            self._key_problem("Enter a passphrase first.")
            return
        if self._creating:
            if len(passphrase) < MIN_PASSPHRASE:
                self._key_problem(f"Use at least {MIN_PASSPHRASE} characters: this passphrase guards your API keys.")
                return
            if self.passphrase_repeat.text() != passphrase:
                self._key_problem("The two passphrases do not match. Type them again.")
                self.passphrase_repeat.clear()
                return
        secrets = self.ctx.secrets
        self.file_button.setEnabled(False)
        Op(self, lambda: secrets.use_encrypted_file(passphrase), "Unlocking the key file").success(
            lambda _r: self._key_mode_changed()).failure(self._key_failed).run()

    def use_memory_only(self) -> None:
        self.ctx.secrets.use_memory_only()
        self._key_mode_changed()

    def _key_mode_changed(self) -> None:
        self.file_button.setEnabled(True)
        self.passphrase.clear()
        self.passphrase_repeat.clear()
        self.key_error.hide()
        bus.keys_changed.emit(self.ctx.secrets.mode)  # shows it here too, and on Bind; sync goes on if locked
        self.secrets_changed.emit(self.ctx.secrets.mode)

    def _key_failed(self, exc: BaseException) -> None:
        self.file_button.setEnabled(True)
        self._key_problem(str(exc))

    def _key_problem(self, text: str) -> None:
        self.key_error.setText(text)
        self.key_error.show()

    # --- other apps -------------------------------------------------------------------------------
    def _mcp_card(self) -> QFrame:
        from agent.mcp_server.snippet import config_snippet

        card, col = _card("Other apps (MCP)")
        note = Label("Claude Desktop, Cursor and other MCP apps can search this memory and add to it: paste this "
                      "into their MCP configuration (claude_desktop_config.json, ~/.cursor/mcp.json). Paused facts "
                      "are never served; the Atlas shows which app used each fact.", objectName="Muted")
        note.setWordWrap(True)
        col.addWidget(note)
        self.mcp_snippet = QPlainTextEdit(objectName="McpSnippet")
        self.mcp_snippet.setReadOnly(True)
        self.mcp_snippet.setPlainText(config_snippet(self.ctx.data_dir))
        self.mcp_snippet.setFixedHeight(112)
        col.addWidget(self.mcp_snippet)
        copy = QPushButton("Copy")
        copy.clicked.connect(self.copy_mcp_snippet)
        col.addWidget(copy, 0, Qt.AlignmentFlag.AlignLeft)
        return card

    def copy_mcp_snippet(self) -> None:
        from PySide6.QtWidgets import QApplication

        QApplication.clipboard().setText(self.mcp_snippet.toPlainText())
        bus.notice.emit("Copied: paste it into the app's MCP configuration")

    # --- theme ----------------------------------------------------------------------------------
    def _theme_picked(self) -> None:
        from PySide6.QtWidgets import QApplication

        choice = self.theme_combo.currentData()
        self.ctx.settings.theme = choice
        theme.apply_theme(QApplication.instance(), choice)  # says so on bus.theme_changed
