"""The tools a skill needs: pick them from this device's enabled tools (desktop/pages/skills/tools_box.py).

Only collects and checks input; the page saves it (agent.skills.tools.set_skill_tools). Names the skill
already has that this device lacks stay listed (checked, marked "not on this device") so editing on one
machine never drops what another machine provides. Everything shown is plain text.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout

from agent.skills.forge import SkillError
from agent.skills.tools import AVAILABLE, parse_tool_list, validate_tool_names
from desktop.safe_text import Label


class SkillToolsDialog(QDialog):
    """Checkable list: the device's enabled tools plus the skill's own names; a line for other names."""

    def __init__(self, parent, skill_name: str, states: list[dict], device_tools: list[str]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Tools this skill needs")
        self.chosen: list[str] | None = None
        col = QVBoxLayout(self)
        intro = Label(f"Tools “{skill_name}” needs. Only names are stored and synced: each device offers the "
                      "ones it has enabled when the skill's tests run. Tick this device's tools:")
        intro.setWordWrap(True)
        col.addWidget(intro)
        self.list = QListWidget(objectName="SkillToolChoices")
        named = {s["name"]: s for s in states}
        for name in list(dict.fromkeys([*device_tools, *named])):
            state = named.get(name)
            suffix = "" if state is None or state["state"] == AVAILABLE else f"   ({state['state']} on this device)"
            item = QListWidgetItem(name + suffix)  # plain text: QListWidgetItem never guesses rich text
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in named else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        if not self.list.count():
            col.addWidget(Label("This device has no enabled tools: add an MCP server on the Tools page, "
                                "or type names below."))
        col.addWidget(self.list, 1)
        col.addWidget(Label("Other tools (server/tool, comma-separated):"))
        self.other_edit = QLineEdit(objectName="SkillToolsOther")
        self.other_edit.setPlaceholderText("e.g. files/read_file")
        col.addWidget(self.other_edit)
        self.error_label = Label("", objectName="Error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        col.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept_names)
        buttons.rejected.connect(self.reject)
        col.addWidget(buttons)
        self.resize(460, 380)

    def checked(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def accept_names(self) -> None:
        try:
            self.chosen = validate_tool_names(self.checked() + parse_tool_list(self.other_edit.text()))
        except SkillError as problem:
            self.error_label.setText(str(problem))
            self.error_label.show()
            return
        self.accept()
