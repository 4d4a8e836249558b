"""Settings' widgets and nothing else: the data location, the API key store, the theme, the MCP snippet
and the backups card. Every widget is a public attribute; no database, no behaviour, no handlers.

`SettingsPage` (page.py) is the controller: it subclasses this view, builds the backups card (a
component with its own behaviour, desktop/pages/settings/backups_card.py) and wires the widgets to what
they do.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
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

from desktop.safe_text import HtmlLabel, Label

THEME_LABELS = {"system": "Follow the OS", "light": "Light", "dark": "Dark"}


def _card(title: str) -> tuple[QFrame, QVBoxLayout]:
    card = QFrame(objectName="Card")
    col = QVBoxLayout(card)
    col.setContentsMargins(18, 14, 18, 14)
    heading = Label(title)
    heading.setStyleSheet("font-weight: 600; font-size: 14px;")
    col.addWidget(heading)
    return card, col


class SettingsView(QWidget):
    """`data_dir` and `db_path` are shown as they are; `backups` (None: no backups here) goes last."""

    def __init__(self, data_dir: Path, db_path: Path, backups: QWidget | None):
        super().__init__()
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
        outer.addWidget(self._data_card(data_dir, db_path))
        outer.addWidget(self._keys_card())
        outer.addWidget(self._appearance_card())
        outer.addWidget(self._mcp_card(data_dir))
        self.backups = backups
        if backups is not None:
            outer.addWidget(backups)
        outer.addStretch(1)

    def _data_card(self, data_dir: Path, db_path: Path) -> QFrame:
        card, col = _card("Data location")
        self.data_label = Label(str(data_dir))
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
        self.open_button = QPushButton("Open folder")
        col.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeft)
        return card

    def _keys_card(self) -> QFrame:
        card, col = _card("API keys")
        self.key_status = HtmlLabel("")
        self.key_status.setWordWrap(True)
        col.addWidget(self.key_status)
        self.key_explain = Label("", objectName="Muted")
        self.key_explain.setWordWrap(True)
        col.addWidget(self.key_explain)
        self.fallback = QWidget()  # the no-keychain choices: an encrypted file or memory only
        fcol = QVBoxLayout(self.fallback)
        fcol.setContentsMargins(0, 6, 0, 0)
        row = QHBoxLayout()
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("Passphrase for the encrypted key file")
        # Only when the file is created: a typo there would lock the keys away for good.
        self.passphrase_repeat = QLineEdit()
        self.passphrase_repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase_repeat.setPlaceholderText("Repeat the passphrase")
        self.file_button = QPushButton("Use encrypted file")
        row.addWidget(self.passphrase, 1)
        row.addWidget(self.passphrase_repeat, 1)
        row.addWidget(self.file_button)
        fcol.addLayout(row)
        self.memory_button = QPushButton("Keep keys in memory only")
        self.memory_button.setToolTip("Keys are forgotten when MIRARI exits; nothing is written to disk")
        fcol.addWidget(self.memory_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.key_error = Label("", objectName="Error")
        self.key_error.setWordWrap(True)
        self.key_error.hide()
        fcol.addWidget(self.key_error)
        col.addWidget(self.fallback)
        return card

    def _appearance_card(self) -> QFrame:
        card, col = _card("Appearance")
        row = QHBoxLayout()
        row.addWidget(Label("Theme"))
        self.theme_combo = QComboBox()
        for key, label in THEME_LABELS.items():
            self.theme_combo.addItem(label, key)
        row.addWidget(self.theme_combo)
        row.addStretch(1)
        col.addLayout(row)
        return card

    def _mcp_card(self, data_dir: Path) -> QFrame:
        from agent.mcp_server.snippet import config_snippet

        card, col = _card("Other apps (MCP)")
        note = Label("Claude Desktop, Cursor and other MCP apps can search this memory and add to it: paste this "
                     "into their MCP configuration (claude_desktop_config.json, ~/.cursor/mcp.json). Paused facts "
                     "are never served; the Atlas shows which app used each fact.", objectName="Muted")
        note.setWordWrap(True)
        col.addWidget(note)
        self.mcp_snippet = QPlainTextEdit(objectName="McpSnippet")
        self.mcp_snippet.setReadOnly(True)
        self.mcp_snippet.setPlainText(config_snippet(data_dir))
        self.mcp_snippet.setFixedHeight(112)
        col.addWidget(self.mcp_snippet)
        self.copy_button = QPushButton("Copy")
        col.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignLeft)
        return card
