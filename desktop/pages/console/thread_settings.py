"""The open thread's own settings in a small panel: connection, temperature, max tokens, stop sequences
and an addition to the system prompt. Read with agent.chat.tree.thread_settings and saved with
agent.chat.tree.set_settings (every value checked there; nothing is written when one is wrong), so the
next request carries them exactly as `mirari threads set` would make it.

"Default" means the connection's own (temperature 0.7, no token limit, no stop sequence). Stop
sequences are one per line; write a line break inside one as \\n.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from desktop.ops import Op
from desktop.safe_text import Label

DEFAULT = "default"


def stop_lines(stop: tuple[str, ...]) -> str:
    return "\n".join(s.replace("\\", "\\\\").replace("\n", "\\n") for s in stop)


def parse_stop_lines(text: str) -> list[str]:
    """One stop sequence per non-empty line; \\n is a line break and \\\\ a backslash."""
    out = []
    for line in text.split("\n"):
        if not line:
            continue
        value, i = [], 0
        while i < len(line):
            if line[i] == "\\" and i + 1 < len(line) and line[i + 1] in "n\\":
                value.append("\n" if line[i + 1] == "n" else "\\")
                i += 2
            else:
                value.append(line[i])
                i += 1
        out.append("".join(value))
    return out


class ThreadSettingsDialog(QDialog):
    saved = Signal(object)  # agent.chat.tree.ThreadSettings as stored

    def __init__(self, page, conversation_id: str):
        super().__init__(page)
        self.page, self.conversation_id = page, conversation_id
        self.setObjectName("ThreadSettings")
        self.setWindowTitle("Thread settings")
        self.resize(520, 480)
        layout = QVBoxLayout(self)
        note = Label("These settings belong to this thread (they sync with it) and shape every request it "
                     "sends. Default keeps the connection's own.", objectName="Muted")
        note.setWordWrap(True)
        layout.addWidget(note)
        form = QFormLayout()
        self.connection = QComboBox()
        for cid, (name, model) in page.connection_names.items():
            self.connection.addItem(f"{name} · {model}", cid)
        form.addRow("Connection", self.connection)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(-0.1, 2.0)  # the bottom step reads "default"
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setSpecialValueText(DEFAULT)
        form.addRow("Temperature", self.temperature)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(0, 1_000_000)  # 0 reads "default"
        self.max_tokens.setSingleStep(256)
        self.max_tokens.setSpecialValueText(DEFAULT)
        form.addRow("Max tokens", self.max_tokens)
        self.stop = QPlainTextEdit()
        self.stop.setPlaceholderText("One per line, at most 4 (\\n for a line break)")
        self.stop.setMaximumHeight(80)
        form.addRow("Stop sequences", self.stop)
        self.addition = QPlainTextEdit()
        self.addition.setPlaceholderText("Added after the connection's system prompt, for this thread only")
        form.addRow("System prompt addition", self.addition)
        layout.addLayout(form, 1)
        self.error_label = Label("", objectName="Error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        layout.addWidget(self.error_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.save_button = QPushButton("Save")
        self.save_button.setProperty("primary", True)
        self.save_button.setEnabled(False)  # until the stored settings are read
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout.addLayout(buttons)
        self.cancel_button.clicked.connect(self.reject)
        self.save_button.clicked.connect(self.save)
        self.load()

    def load(self) -> None:
        db, cid = self.page.ctx.db, self.conversation_id

        def read():
            from agent.chat.tree import live_thread_in, thread_settings

            with db.session() as s:
                return thread_settings(live_thread_in(s, cid))

        Op(self, read, "Reading the thread's settings").success(self.show_settings).failure(
            lambda exc: self.show_error(f"Could not read the settings: {exc}")).run()

    def show_settings(self, settings) -> None:
        found = self.connection.findData(settings.connection_id)
        self.connection.setCurrentIndex(found if found >= 0 else 0)
        self.temperature.setValue(self.temperature.minimum() if settings.temperature is None else settings.temperature)
        self.max_tokens.setValue(settings.max_tokens or 0)
        self.stop.setPlainText(stop_lines(settings.stop))
        self.addition.setPlainText(settings.system_addition or "")
        self.save_button.setEnabled(True)

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def values(self) -> dict:
        temperature = self.temperature.value()
        return {"connection_id": self.connection.currentData(),
                "temperature": None if temperature <= self.temperature.minimum() else round(temperature, 2),
                "max_tokens": self.max_tokens.value() or None,
                "stop": parse_stop_lines(self.stop.toPlainText()),
                "system_addition": self.addition.toPlainText()}

    def save(self) -> None:
        db, cid, values = self.page.ctx.db, self.conversation_id, self.values()
        if values["connection_id"] is None:
            values.pop("connection_id")  # no connection to choose from: leave the thread's as it is

        def save():
            from agent.chat.tree import set_settings

            return set_settings(db, cid, **values)

        def saved(settings) -> None:
            self.page.follow_thread_settings(cid, settings)
            self.saved.emit(settings)
            self.accept()

        def failed(exc: BaseException) -> None:  # ValueError names the value; what was typed stays
            self.save_button.setEnabled(True)
            self.show_error(str(exc))

        self.show_error("")
        self.save_button.setEnabled(False)
        Op(self, save, "Saving the thread's settings").success(saved).failure(failed).run()
