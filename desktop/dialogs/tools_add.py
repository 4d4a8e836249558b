"""The Tools page's "Add server" dialog: a command line (stdio) or a URL (streamable HTTP).

The command line is split like a shell would (shlex), environment and headers are K=V lines. Nothing is
checked here beyond what is needed to build the call: agent.tools.config checks everything and says what
is wrong in one sentence, shown in the dialog, which stays open with what was typed.
"""

from __future__ import annotations

import shlex

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QVBoxLayout,
)

from desktop.ops import Op
from desktop.safe_text import Label


def pairs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class AddServerDialog(QDialog):
    added = Signal(object)  # the ServerConfig

    def __init__(self, parent, db, secrets):
        super().__init__(parent)
        self.db, self.secrets = db, secrets
        self.setWindowTitle("Add a tools server")
        self.setMinimumWidth(520)
        col = QVBoxLayout(self)
        kinds = QHBoxLayout()
        self.stdio = QRadioButton("Command (stdio)")
        self.http = QRadioButton("URL (streamable HTTP)")
        self.stdio.setChecked(True)
        group = QButtonGroup(self)
        for button in (self.stdio, self.http):
            group.addButton(button)
            kinds.addWidget(button)
        kinds.addStretch(1)
        col.addLayout(kinds)
        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setPlaceholderText("files")
        form.addRow("Name", self.name)
        self.command = QLineEdit()
        self.command.setPlaceholderText("npx -y @modelcontextprotocol/server-filesystem ~/Documents")
        form.addRow("Command", self.command)
        self.env = QPlainTextEdit()
        self.env.setPlaceholderText("KEY=value, one per line")
        self.env.setFixedHeight(60)
        form.addRow("Environment", self.env)
        self.url = QLineEdit()
        self.url.setPlaceholderText("https://example.com/mcp")
        form.addRow("URL", self.url)
        self.headers = QPlainTextEdit()
        self.headers.setPlaceholderText("Authorization=Bearer …, one per line (kept in the key store)")
        self.headers.setFixedHeight(60)
        form.addRow("Headers", self.headers)
        col.addLayout(form)
        self.error = Label("", objectName="Error")
        self.error.setWordWrap(True)
        self.error.hide()
        col.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        col.addWidget(self.buttons)
        self.stdio.toggled.connect(self._kind_changed)
        self._kind_changed()

    def _kind_changed(self) -> None:
        stdio = self.stdio.isChecked()
        for widget in (self.command, self.env):
            widget.setEnabled(stdio)
        for widget in (self.url, self.headers):
            widget.setEnabled(not stdio)

    def save(self) -> None:
        from agent.tools.config import add_http_server, add_stdio_server, parse_pairs

        db, secrets, name = self.db, self.secrets, self.name.text()
        if self.stdio.isChecked():
            try:
                words = shlex.split(self.command.text())
            except ValueError as exc:
                self._problem(f"The command line cannot be read: {exc}.")
                return
            env = pairs(self.env.toPlainText())

            def run():
                return add_stdio_server(db, name, words[0] if words else "", words[1:], parse_pairs(env, "Environment"))
        else:
            url, headers = self.url.text(), pairs(self.headers.toPlainText())

            def run():
                return add_http_server(db, name, url, parse_pairs(headers, "A header"), secrets)

        self.buttons.setEnabled(False)
        Op(self, run, "Adding a tools server").success(self._saved).failure(
            lambda exc: self._problem(str(exc))).run()

    def _saved(self, server) -> None:
        self.added.emit(server)
        self.accept()

    def _problem(self, text: str) -> None:
        self.buttons.setEnabled(True)
        self.error.setText(text)
        self.error.show()
