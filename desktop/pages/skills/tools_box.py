"""The skill card's "Tools" line: the tools the skill names, whether this device has them, Edit, and the
one-time confirmation before a test run offers them (docs/skills.md "Tests with tools").

A test run has no one to ask per call, so the person decides before it starts: tools marked "Always
for this tool" on this device run; the others are allowed for this run (Yes) or every call of them gets
the "denied" result (No). Plain text throughout (names come from other devices).
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QMessageBox, QPushButton, QWidget

from agent.skills.tools import ALL, AVAILABLE, NEVER, enabled_tool_names, stored_tools, tool_states
from desktop.safe_text import Label, ask

Button = QMessageBox.StandardButton


def describe_states(states: list[dict]) -> str:
    if not states:
        return "Tools: none — the skill's tests run without tools."
    parts = []
    for s in states:
        if s["state"] != AVAILABLE:
            parts.append(f"{s['name']} ({s['state']} here)")
        else:
            parts.append(s["name"] + (" (always allowed)" if s["always_allow"] else ""))
    return "Tools: " + ", ".join(parts)


def confirm_run(parent, states: list[dict]):
    """ALL / NEVER for the tools that would ask; NEVER with nothing to ask; None when the person cancels."""
    offered = [s for s in states if s["state"] == AVAILABLE]
    asking = [s["name"] for s in offered if not s["always_allow"]]
    if not asking:
        return NEVER
    always = [s["name"] for s in offered if s["always_allow"]]
    missing = [s["name"] for s in states if s["state"] != AVAILABLE]
    text = ("The test run offers the model these tools, and no one is asked during the run:\n\n"
            + "\n".join(f"  ⚒ {name}" for name in asking)
            + (f"\n\nAlways allowed on this device: {', '.join(always)}." if always else "")
            + (f"\nNot offered (missing or disabled here): {', '.join(missing)}." if missing else "")
            + "\n\nYes: allow their calls for this run. No: deny every call (the result records each denial).")
    answer = ask(parent, "Allow tools for this test run?", text, Button.Yes | Button.No | Button.Cancel, Button.No)
    return {Button.Yes: ALL, Button.No: NEVER}.get(answer)


class SkillToolsBox(QWidget):
    """One line under the prompt: the skill's tools and an Edit button (the card saves through an Op)."""

    def __init__(self, detail) -> None:
        super().__init__()
        self.detail = detail
        self.states: list[dict] = []
        self.names: list[str] = []
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = Label("", objectName="SkillTools")
        self.label.setWordWrap(True)
        row.addWidget(self.label, 1)
        self.edit_button = QPushButton("Tools…")
        self.edit_button.setToolTip("Choose the tools this skill needs from this device's enabled tools")
        self.edit_button.clicked.connect(self.edit)
        row.addWidget(self.edit_button)

    def show_skill(self, skill, servers) -> None:
        self.servers = list(servers or [])
        self.names = stored_tools(skill) if skill is not None else []
        self.states = tool_states(self.servers, self.names)
        self.label.setText(describe_states(self.states) if skill is not None else "")

    def edit(self) -> None:
        from desktop.dialogs.skill_tools import SkillToolsDialog

        row = self.detail.row
        if row is None:
            return
        dialog = SkillToolsDialog(self, row.skill.name, self.states, enabled_tool_names(self.servers))
        if dialog.exec() and dialog.chosen is not None and dialog.chosen != self.names:
            self.detail.save_tools(dialog.chosen)
