"""Settings — the controller over SettingsView (view.py): where the data lives, where API keys are kept
(with the explicit no-keychain fallback), the theme, the snippet that lets other apps use this memory
(MCP), and backups (desktop.pages.settings.backups_card). Passphrase work (scrypt) runs in an Op, like
everything slow."""

from __future__ import annotations

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices

from desktop import theme
from desktop.bus import bus
from desktop.ops import Op
from desktop.pages.protocol import PageHooks
from desktop.pages.settings.view import SettingsView
from desktop.safe_text import Html

MIN_PASSPHRASE = 8  # for a new key file; an existing one opens with whatever it was made with


class SettingsPage(SettingsView, PageHooks):
    secrets_changed = Signal(str)  # the new mode

    def __init__(self, ctx):
        self.ctx = ctx
        backups = None
        if ctx.backups is not None:
            from desktop.pages.settings.backups_card import BackupsCard

            backups = BackupsCard(ctx, ctx.backups)
        super().__init__(ctx.data_dir, ctx.db.path if ctx.db is not None else ctx.data_dir, backups)
        self.theme_combo.setCurrentIndex(max(0, self.theme_combo.findData(ctx.settings.theme)))
        self._wire()
        self.show_key_status()

    def _wire(self) -> None:
        self.open_button.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.ctx.data_dir))))
        self.passphrase.returnPressed.connect(self.use_encrypted_file)
        self.passphrase_repeat.returnPressed.connect(self.use_encrypted_file)
        self.file_button.clicked.connect(self.use_encrypted_file)
        self.memory_button.clicked.connect(self.use_memory_only)
        self.theme_combo.currentIndexChanged.connect(self._theme_picked)
        self.copy_button.clicked.connect(self.copy_mcp_snippet)
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
