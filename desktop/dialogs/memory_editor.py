"""The small editor that adds one fact to the Atlas: "+ Add" on the Atlas page and "Promote to Atlas"
in the Console. Label (Enter saves, Shift+Enter is a line break), category, strength. The save runs
agent.memory.atlas.add_node in an Op: the no-duplicates rule applies, and the dialog stays open with the
reason if the Atlas refuses (so nothing typed is lost)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QPlainTextEdit,
    QVBoxLayout,
)

from desktop.bus import bus
from desktop.ops import Op
from desktop.safe_text import Label

LABEL_LIMIT = 2000  # agent.memory.atlas.LABEL_LIMIT (not imported here: the dialog must open without agent/)
CATEGORIES = ("fact", "preference", "goal", "style")


class _LabelEdit(QPlainTextEdit):
    submitted = Signal()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class MemoryEditor(QDialog):
    saved = Signal(object)  # agent.memory.atlas.AddResult

    def __init__(self, parent, db, *, title: str, label: str = "", category: str = "fact",
                 strength: float = 0.5, source: str = "manual", note: str = ""):
        super().__init__(parent)
        self.setObjectName("MemoryEditor")
        self.setWindowTitle(title)
        self.resize(520, 300)
        self.db, self.source = db, source
        layout = QVBoxLayout(self)
        if note:
            hint = Label(note, objectName="EditorNote")
            hint.setProperty("muted", True)
            hint.setWordWrap(True)
            layout.addWidget(hint)
        form = QFormLayout()
        self.label_edit = _LabelEdit()
        self.label_edit.setPlaceholderText("The fact itself, e.g. “Prefers tea over coffee”")
        self.label_edit.setPlainText(label)
        self.label_edit.setTabChangesFocus(True)
        self.label_edit.submitted.connect(self.save)
        self.label_edit.textChanged.connect(self._check)
        form.addRow("Fact", self.label_edit)
        self.count = Label("", objectName="Muted")
        form.addRow("", self.count)
        self.category = QComboBox()
        self.category.setEditable(True)
        self.category.addItems(CATEGORIES)
        self.category.setCurrentText(category or "fact")
        self.category.lineEdit().returnPressed.connect(self.save)
        form.addRow("Category", self.category)
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.0, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setDecimals(2)
        self.strength.setValue(strength)
        self.strength.setToolTip("0.75 or more: injected into every chat turn")
        form.addRow("Strength", self.strength)
        layout.addLayout(form)
        self.error = Label("", objectName="Error")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._saving = False
        self._check()
        self.label_edit.setFocus()
        self.label_edit.moveCursor(QTextCursor.MoveOperation.End)  # edit down from the text, not over it

    def text(self) -> str:
        return " ".join(self.label_edit.toPlainText().split())

    def _check(self) -> None:
        length = len(self.text())
        self.count.setText(f"{length:,} / {LABEL_LIMIT:,} characters")
        self.count.setObjectName("Error" if length > LABEL_LIMIT else "Muted")
        self.count.style().polish(self.count)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(0 < length <= LABEL_LIMIT and
                                                                             not self._saving)

    def save(self) -> None:
        label, category, strength = self.text(), self.category.currentText(), self.strength.value()
        if self._saving or not (0 < len(label) <= LABEL_LIMIT):
            return
        self._saving = True
        self._check()
        db, source = self.db, self.source

        def add():
            from agent.memory.atlas import add_node

            return add_node(db, label, category, strength, source)

        Op(self, add, "Saving to the Atlas").success(self._saved).failure(self._failed).run()

    def _saved(self, result) -> None:
        self._saving = False
        bus.notice.emit(result.message)
        self.saved.emit(result)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._saving = False
        self.error.setText(str(exc))
        self.error.show()
        self._check()
