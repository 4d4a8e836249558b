"""The Skill Forge's two dialogs: Suggest Skill (context + connection) and the test-case editor.

Both only collect and check input; the page runs the work (a long job for Suggest Skill, a save for
test cases), so nothing here touches the database or the network.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from agent.llm.structured import Invalid
from agent.skills.cases import KIND_LABELS, KINDS, MAX_EXPECTATIONS, validate_test_cases
from desktop.safe_text import Label


def _error_label() -> QLabel:
    label = Label("", objectName="Error")
    label.setWordWrap(True)
    label.hide()
    return label


class SuggestDialog(QDialog):
    """Context typed or taken from a Console thread, and the connection that drafts the skill."""

    def __init__(self, parent, connections: list[tuple[str, str]], threads: list[tuple[str, str]],
                 connection_id: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("Suggest Skill")
        self.setMinimumWidth(520)
        col = QVBoxLayout(self)
        intro = Label("The chosen connection drafts a skill — name, description, category, template prompt "
                      "and a few test cases. It arrives as a suggestion: accept, test and promote it, or dismiss it.",
                      objectName="Muted")
        intro.setWordWrap(True)
        col.addWidget(intro)
        form = QFormLayout()
        self.connection_combo = QComboBox()
        for cid, label in connections:
            self.connection_combo.addItem(label, cid)
        found = self.connection_combo.findData(connection_id)
        self.connection_combo.setCurrentIndex(max(found, 0))
        form.addRow("Drafted by", self.connection_combo)
        col.addLayout(form)

        self.typed = QRadioButton("Context you type (optional)")
        self.from_thread = QRadioButton("A Console thread")
        group = QButtonGroup(self)
        group.addButton(self.typed)
        group.addButton(self.from_thread)
        self.typed.setChecked(True)
        col.addWidget(self.typed)
        self.context_edit = QPlainTextEdit()
        self.context_edit.setPlaceholderText("What should the skill help with? e.g. “I often ask for summaries of "
                                             "long articles and want them as short bullets.” Leave empty for a "
                                             "generally useful skill.")
        self.context_edit.setFixedHeight(110)
        col.addWidget(self.context_edit)
        col.addWidget(self.from_thread)
        self.thread_combo = QComboBox()
        for tid, title in threads:
            self.thread_combo.addItem(title, tid)
        self.from_thread.setEnabled(bool(threads))
        if not threads:
            self.from_thread.setText("A Console thread (none with messages yet)")
        col.addWidget(self.thread_combo)
        self.typed.toggled.connect(self._sync_enabled)
        self._sync_enabled()
        self.error = _error_label()
        col.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.addButton("Suggest", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setProperty("primary", True)
        self.ok_button.setEnabled(bool(connections))
        if not connections:
            self.error.setText("Bind a connection first (I. Bind): a skill is drafted by one of your agents.")
            self.error.show()
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        col.addWidget(buttons)

    def _sync_enabled(self) -> None:
        self.context_edit.setEnabled(self.typed.isChecked())
        self.thread_combo.setEnabled(self.from_thread.isChecked())

    def values(self) -> dict:
        """{connection_id, context, conversation_id} for agent.skills.suggest.suggest_skill."""
        use_thread = self.from_thread.isChecked() and self.thread_combo.currentData()
        return {"connection_id": self.connection_combo.currentData(),
                "context": None if use_thread else self.context_edit.toPlainText().strip() or None,
                "conversation_id": self.thread_combo.currentData() if use_thread else None}


class _ExpectationRow(QWidget):
    def __init__(self, expectation: dict | None, on_remove):
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.kind = QComboBox()
        for kind in KINDS:
            self.kind.addItem(KIND_LABELS[kind], kind)
        self.value = QLineEdit()
        self.number = QSpinBox()
        self.number.setRange(1, 200_000)
        self.number.setValue(400)
        row.addWidget(self.kind)
        row.addWidget(self.value, 1)
        row.addWidget(self.number, 1)
        remove = QPushButton("Remove")
        remove.clicked.connect(lambda: on_remove(self))
        row.addWidget(remove)
        expectation = expectation or {"kind": "contains", "value": ""}
        self.kind.setCurrentIndex(max(self.kind.findData(expectation.get("kind")), 0))
        if expectation.get("kind") == "max_chars":
            self.number.setValue(int(expectation.get("value") or 400))
        else:
            self.value.setText(str(expectation.get("value") or ""))
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    def _kind_changed(self, *_args) -> None:
        kind = self.kind.currentData()
        self.value.setVisible(kind in ("contains", "not_contains", "regex"))
        self.number.setVisible(kind == "max_chars")
        self.value.setPlaceholderText({"regex": r"a pattern, e.g. ^• \w+  ((?i) for any case)"}.get(
            kind, "text the reply must (not) contain; any case"))

    def value_dict(self) -> dict:
        kind = self.kind.currentData()
        if kind == "max_chars":
            return {"kind": kind, "value": self.number.value()}
        if kind == "is_json":
            return {"kind": kind}
        return {"kind": kind, "value": self.value.text()}


class TestCaseDialog(QDialog):
    """One test case: the prompt to send and the checks its reply must pass (all of them)."""

    __test__ = False  # not a pytest class

    def __init__(self, parent, case: dict | None = None):
        super().__init__(parent)
        self.setWindowTitle("Test case" if case else "New test case")
        self.setMinimumWidth(560)
        col = QVBoxLayout(self)
        col.addWidget(Label("Prompt — the user message sent with and without the skill"))
        self.prompt_edit = QPlainTextEdit((case or {}).get("prompt", ""))
        self.prompt_edit.setFixedHeight(90)
        col.addWidget(self.prompt_edit)
        col.addWidget(Label("The reply passes when every check holds"))
        self.rows_box = QVBoxLayout()
        self.rows: list[_ExpectationRow] = []
        col.addLayout(self.rows_box)
        self.add_button = QPushButton("+ Add check")
        self.add_button.clicked.connect(lambda: self.add_expectation(None))
        col.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)
        for expectation in (case or {}).get("expectations") or [None]:
            self.add_expectation(expectation)
        self.error = _error_label()
        col.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        col.addWidget(buttons)
        self.result_case: dict | None = None

    def add_expectation(self, expectation: dict | None) -> None:
        row = _ExpectationRow(expectation, self._remove)
        self.rows.append(row)
        self.rows_box.addWidget(row)
        self.add_button.setEnabled(len(self.rows) < MAX_EXPECTATIONS)

    def _remove(self, row: _ExpectationRow) -> None:
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        self.add_button.setEnabled(len(self.rows) < MAX_EXPECTATIONS)

    def case(self) -> dict:
        return {"prompt": self.prompt_edit.toPlainText(), "expectations": [r.value_dict() for r in self.rows]}

    def accept(self) -> None:
        """Checked with the same rules as the save (agent.skills.cases); the problem is shown here."""
        try:
            (self.result_case,) = validate_test_cases([self.case()])
        except Invalid as problem:
            self.error.setText(str(problem).replace("Test case 1", "This test case").replace("Test case 1,", ""))
            self.error.show()
            return
        super().accept()
