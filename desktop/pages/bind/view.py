"""Bind's widgets and nothing else: the connection list and the presets on the left, the form on the
right. Every widget is a public attribute; no database, no behaviour, no handlers.

`BindPage` (page.py) is the controller: it subclasses this view, gives the list its model and wires
the widgets to what they do.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.models.connection_model import ConnectionDelegate
from desktop.pages.bind.status import StatusLine
from desktop.safe_text import Label, tip


class BindView(QWidget):
    """`preset_buttons` maps a preset's label to its button; `errors` a form field to its error line."""

    def __init__(self):
        super().__init__()
        outer = QHBoxLayout(self)
        outer.setContentsMargins(18, 14, 18, 14)
        outer.setSpacing(16)
        outer.addLayout(self._list_column(), 0)
        outer.addWidget(self._form_card(), 1)

    def _list_column(self) -> QVBoxLayout:
        left = QVBoxLayout()
        left.addWidget(Label("Connections", objectName="PageTitle"))
        self.list = QListView()
        self.list.setItemDelegate(ConnectionDelegate(self.list))
        self.list.setMinimumWidth(260)
        left.addWidget(self.list, 1)
        self.empty_note = Label("No connections yet. Pick a preset below, fill in the form, Save.",
                                objectName="Muted")
        self.empty_note.setWordWrap(True)
        left.addWidget(self.empty_note)
        left.addWidget(Label("New from a preset", objectName="Muted"))
        self.preset_buttons: dict[str, QPushButton] = {}
        grid = QVBoxLayout()
        grid.setSpacing(4)
        from agent.connections.presets import PRESETS

        for preset in PRESETS:
            button = QPushButton(preset.label)
            button.setToolTip(tip(f"{preset.base_url or '(your URL)'} · {preset.model or '(your model)'}"))
            self.preset_buttons[preset.label] = button
            grid.addWidget(button)
        left.addLayout(grid)
        return left

    def _form_card(self) -> QFrame:
        card = QFrame(objectName="Card")
        form_col = QVBoxLayout(card)
        form_col.setContentsMargins(20, 16, 20, 16)
        self.form_title = Label("New connection", objectName="PageTitle")
        form_col.addWidget(self.form_title)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setVerticalSpacing(4)
        self.name_edit = QLineEdit()
        self.provider_combo = QComboBox()
        from agent.connections.presets import PROVIDERS

        self.provider_combo.addItems(PROVIDERS)
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("https://host/v1  — /chat/completions is appended")
        self.model_edit = QLineEdit()
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setPlaceholderText("Base system prompt for this agent (optional)")
        self.prompt_edit.setFixedHeight(90)
        # Attachments: an image goes to this connection only when its model takes images (docs/attachments.md).
        self.images_check = QCheckBox("Its model takes images (image attachments are sent to it)")
        self.errors: dict[str, Label] = {}
        for field, label, widget in (
            ("name", "Name", self.name_edit), ("provider", "Provider", self.provider_combo),
            ("base_url", "Base URL", self.url_edit), ("model", "Model", self.model_edit),
            ("api_key", "API key", self.key_edit), ("system_prompt", "System prompt", self.prompt_edit),
        ):
            box = QVBoxLayout()
            box.setSpacing(2)
            box.addWidget(widget)
            error = Label("", objectName="Error")
            error.hide()
            box.addWidget(error)
            self.errors[field] = error
            form.addRow(Label(label), box)
        form.addRow("", self.images_check)
        form_col.addLayout(form)
        self.key_note = Label("", objectName="Muted")
        self.key_note.setWordWrap(True)
        form_col.addWidget(self.key_note)
        self.status = StatusLine()
        form_col.addWidget(self.status)
        form_col.addStretch(1)
        buttons = QHBoxLayout()
        self.test_button = QPushButton("Test connection")
        self.delete_button = QPushButton("Delete")
        self.save_button = QPushButton("Save")
        self.save_button.setProperty("primary", True)
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        form_col.addLayout(buttons)
        return card
