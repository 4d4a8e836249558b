"""The Tools page's tester (like Letta's tool tester): pick a tool, write its arguments, Run, read the result.

The arguments box starts with a skeleton from the tool's input schema (each property with an empty value
of its type). The call runs in an Op (the server is started first if it is not running) with the host's
time limit; Cancel stops it. The result is plain text — a server's output is untrusted — with its size
and whether it was cut.
"""

from __future__ import annotations

import json
import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from desktop.ops import Op
from desktop.safe_text import Label

EMPTY = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}


def skeleton(schema: dict | None) -> str:
    """Arguments to start from: every property of the schema with an empty value of its type."""
    properties = (schema or {}).get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return "{}"
    out = {}
    for name, prop in properties.items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        out[str(name)] = EMPTY.get(kind if isinstance(kind, str) else "")
    return json.dumps(out, indent=2, ensure_ascii=False)


class ToolTester(QFrame):
    ran = Signal(object)  # the ToolResult (or the exception) of the last run

    def __init__(self, run_call, parent=None):
        """`run_call(server, tool, arguments, cancel) -> ToolResult` runs in an Op (a worker thread)."""
        super().__init__(parent)
        self.setObjectName("Card")
        self._run_call = run_call
        self._cancel = None
        self._tools: dict[str, dict | None] = {}
        self.server: str | None = None
        col = QVBoxLayout(self)
        col.setContentsMargins(14, 10, 14, 10)
        col.addWidget(Label("Test a tool", objectName="SectionTitle"))
        row = QHBoxLayout()
        self.tool = QComboBox()
        self.tool.currentIndexChanged.connect(self._tool_changed)
        row.addWidget(self.tool, 1)
        self.run_button = QPushButton("Run")
        self.run_button.setProperty("primary", True)
        self.run_button.clicked.connect(self.run)
        row.addWidget(self.run_button)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.cancel_button)
        col.addLayout(row)
        self.arguments = QPlainTextEdit()
        self.arguments.setObjectName("ToolArguments")
        self.arguments.setPlaceholderText("Arguments: a JSON object")
        self.arguments.setFixedHeight(90)
        col.addWidget(self.arguments)
        self.status = Label("", objectName="Muted")
        self.status.setWordWrap(True)
        col.addWidget(self.status)
        self.result = QPlainTextEdit()
        self.result.setObjectName("ToolResult")
        self.result.setReadOnly(True)
        self.result.setPlaceholderText("The result appears here, as plain text.")
        col.addWidget(self.result, 1)

    def set_tools(self, server: str | None, tools) -> None:
        """The selected server and its ToolState items (keeps the chosen tool when it is still there)."""
        same_server = server == self.server
        if not same_server:
            self.result.clear()
            self.status.clear()
        self.server = server
        current = self.tool.currentText()
        self._tools = {t.name: t.input_schema for t in tools}
        self.tool.blockSignals(True)
        self.tool.clear()
        self.tool.addItems(sorted(self._tools))
        found = self.tool.findText(current)
        self.tool.setCurrentIndex(found if found >= 0 else 0)
        self.tool.blockSignals(False)
        if not (same_server and found >= 0):  # a reload keeps the arguments being written
            self._tool_changed()
        self.run_button.setEnabled(bool(self._tools) and self._cancel is None)

    def _tool_changed(self) -> None:
        self.arguments.setPlainText(skeleton(self._tools.get(self.tool.currentText())))

    def run(self) -> None:
        from agent.llm.client import CancelToken

        tool, server = self.tool.currentText(), self.server
        if not tool or not server:
            return
        try:
            arguments = json.loads(self.arguments.toPlainText() or "{}")
        except ValueError as exc:
            self.status.setText(f"The arguments are not valid JSON: {exc}")
            return
        if not isinstance(arguments, dict):
            self.status.setText("The arguments must be a JSON object, like {\"path\": \"/tmp\"}.")
            return
        self._cancel = cancel = CancelToken()
        started = time.monotonic()
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Running {tool}…")
        self.result.clear()
        call = self._run_call
        Op(self, lambda: call(server, tool, arguments, cancel), f"Testing {tool}").success(
            lambda result: self._done(result, time.monotonic() - started)).failure(self._failed).run()

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
            self.status.setText("Cancelling…")

    def _finish(self) -> None:
        self._cancel = None
        self.run_button.setEnabled(bool(self._tools))
        self.cancel_button.setEnabled(False)

    def _done(self, result, seconds: float) -> None:
        self._finish()
        cut = f", cut from {result.full_length:,} characters" if result.truncated else ""
        self.status.setText(f"{'The tool reported an error' if result.is_error else 'Done'} in {seconds:.2f} s "
                            f"· {len(result.text):,} characters{cut}")
        self.result.setPlainText(result.text)
        self.ran.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        self.status.setText(str(exc))
        self.result.clear()
        self.ran.emit(exc)
