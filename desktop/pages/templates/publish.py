"""The Publish tab: pick skills and memory nodes, name the template, see exactly what will be shared.

The preview is agent.templates.publish.preview() — the very document publish() writes and sync sends — shown as
readable text (agent.templates.text), so what is shown is what leaves the machine: the four fields of
each skill, label/category/strength of each memory node, and the template's own name, description,
category and visibility. Never keys, connections, ids or sources. Problems (sizes, counts, an empty
pick) are shown before Publish is possible.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.ops import Op
from desktop.safe_text import Label

ID_ROLE = Qt.ItemDataRole.UserRole + 1


def load_choices(db):
    """Runs on a pool thread: live skills and memory nodes as (id, text, detail)."""
    from sqlmodel import select

    from agent.memory.atlas import effective_strength
    from local_schema.models import MemoryNode, Skill

    with db.session() as s:
        skills = s.exec(select(Skill).where(Skill.deleted_at.is_(None)).order_by(Skill.name, Skill.id)).all()
        nodes = s.exec(select(MemoryNode).where(MemoryNode.deleted_at.is_(None))).all()
    node_rows = sorted(((n.id, n.label, f"{n.category or 'no category'} · {effective_strength(n):.2f}")
                        for n in nodes), key=lambda r: r[1].lower())
    return ([(k.id, k.name, f"{k.status} · {k.category or 'no category'}") for k in skills], node_rows)


def _preview_or_problem(db, args):
    """The preview, or the rule it breaks (returned, not raised: an unfinished draft is no failure)."""
    from agent.templates.publish import preview

    try:
        return preview(db, *args)
    except ValueError as exc:  # TemplateInvalid, TemplateError
        return exc


class PublishTab(QWidget):
    published = Signal(str)  # template id

    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.document: dict | None = None
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 8, 0, 0)
        row.setSpacing(14)

        picks = QVBoxLayout()
        picks.addWidget(Label("Skills to share", objectName="Muted"))
        self.skills = QListWidget()
        picks.addWidget(self.skills, 1)
        picks.addWidget(Label("Memory to share", objectName="Muted"))
        self.memory = QListWidget()
        picks.addWidget(self.memory, 1)
        row.addLayout(picks, 2)

        right = QVBoxLayout()
        form = QFormLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. Concise technical writer")
        self.description_edit = QPlainTextEdit()
        self.description_edit.setFixedHeight(64)
        self.category_edit = QLineEdit()
        self.category_edit.setPlaceholderText("e.g. writing")
        self.public_box = QCheckBox("Public — anyone signed in to this Supabase project can find and install it")
        form.addRow("Name", self.name_edit)
        form.addRow("Description", self.description_edit)
        form.addRow("Category", self.category_edit)
        form.addRow("", self.public_box)
        right.addLayout(form)
        right.addWidget(Label("Exactly what will be shared (no keys, no connections, no ids):", objectName="Muted"))
        self.preview = QPlainTextEdit(readOnly=True)
        self.preview.setObjectName("TemplatePreview")
        right.addWidget(self.preview, 1)
        self.problem = Label("", objectName="Error")
        self.problem.setWordWrap(True)
        right.addWidget(self.problem)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.publish_button = QPushButton("Publish")
        self.publish_button.setProperty("primary", True)
        self.publish_button.clicked.connect(self.publish)
        buttons.addWidget(self.publish_button)
        right.addLayout(buttons)
        row.addLayout(right, 3)

        # Re-previewing on every keystroke would read the database per key: wait for a pause.
        self._debounce = QTimer(self, singleShot=True, interval=150)
        self._debounce.timeout.connect(self.update_preview)
        for signal in (self.name_edit.textChanged, self.description_edit.textChanged,
                       self.category_edit.textChanged, self.public_box.toggled,
                       self.skills.itemChanged, self.memory.itemChanged):
            signal.connect(lambda *_: self._debounce.start())
        self.refresh()

    def refresh(self) -> None:
        Op(self, lambda: load_choices(self.ctx.db), "Loading skills and memory").success(self._show).run()

    def _show(self, result) -> None:
        skills, nodes = result
        for widget, rows in ((self.skills, skills), (self.memory, nodes)):
            checked = set(self._checked(widget))
            widget.blockSignals(True)
            widget.clear()
            for row_id, text, detail in rows:
                item = QListWidgetItem(f"{text}\n{detail}")
                item.setData(ID_ROLE, row_id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if row_id in checked else Qt.CheckState.Unchecked)
                widget.addItem(item)
            widget.blockSignals(False)
        self.update_preview()

    @staticmethod
    def _checked(widget: QListWidget) -> list[str]:
        return [widget.item(i).data(ID_ROLE) for i in range(widget.count())
                if widget.item(i).checkState() == Qt.CheckState.Checked]

    def check(self, skill_ids=(), memory_ids=()) -> None:
        """Tick these rows (tests and callers that preselect)."""
        for widget, ids in ((self.skills, set(skill_ids)), (self.memory, set(memory_ids))):
            for i in range(widget.count()):
                if widget.item(i).data(ID_ROLE) in ids:
                    widget.item(i).setCheckState(Qt.CheckState.Checked)

    def _args(self) -> tuple:
        return (self.name_edit.text(), self.description_edit.toPlainText(), self.category_edit.text(),
                self._checked(self.skills), self._checked(self.memory), self.public_box.isChecked())

    def update_preview(self) -> None:
        args = self._args()
        if not args[3] and not args[4]:
            self._not_publishable("Pick at least one skill or memory node to share.")
            return
        Op(self, lambda: _preview_or_problem(self.ctx.db, args), "Previewing a template").success(
            self._previewed).failure(self._not_publishable).run()

    def _previewed(self, document) -> None:
        if isinstance(document, Exception):  # a rule the draft breaks: expected while typing
            self._not_publishable(document)
            return
        from agent.templates.text import describe_template

        self.document = document
        self.preview.setPlainText(describe_template(document))
        self.problem.setText("")
        self.publish_button.setEnabled(True)

    def _not_publishable(self, exc: BaseException | str) -> None:
        self.document = None
        self.preview.setPlainText("")
        self.problem.setText(str(exc))
        self.publish_button.setEnabled(False)

    def publish(self) -> None:
        from agent.templates.publish import publish

        args = self._args()
        self.publish_button.setEnabled(False)
        Op(self, lambda: publish(self.ctx.db, *args), "Publishing a template").success(
            self._published).failure(self._not_publishable).run()

    def _published(self, template) -> None:
        self.name_edit.clear()
        self.description_edit.clear()
        self.category_edit.clear()
        self.public_box.setChecked(False)
        for widget in (self.skills, self.memory):
            for i in range(widget.count()):
                widget.item(i).setCheckState(Qt.CheckState.Unchecked)
        self.published.emit(template.id)
