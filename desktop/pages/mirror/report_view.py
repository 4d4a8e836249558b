"""One Mirror report: four columns (strengths, weaknesses, recommendations, suggested prompt), the
evidence under each claim (unverified claims marked), the suggested prompt as a diff against the
connection's current prompt, and the one-click actions (Apply / Undo, recommendation → memory or skill).
The view only shows and asks; the page runs the actions (agent/mirror/review.py) and shows the result."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.models.thread_model import relative_time
from desktop.safe_text import Html, HtmlLabel, Label
from desktop.theme import colors
from desktop.widgets.prompt_diff import PromptDiffView

COLUMNS = (("strengths", "Strengths"), ("weaknesses", "Weaknesses"), ("recommendations", "Recommendations"))
WIDE_MIN = 760  # below this width the four columns become two rows of two


@dataclass
class ReportData:
    """What the view needs, loaded off the UI thread by the page."""

    report: object  # local_schema.models.MirrorReport
    connection_name: str  # "" when the connection is gone
    current_prompt: str | None  # the connection's prompt now; None when the connection is gone


def _label(text: str, name: str = "", rich: bool = False) -> QLabel:
    """Plain text, or (rich) an `Html` value: claims and quotes come from a model's answer."""
    kind = HtmlLabel if rich else Label
    label = kind(text, objectName=name) if name else kind(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ReportView(QWidget):
    apply_clicked = Signal(str)  # report id
    undo_clicked = Signal(str)
    to_memory = Signal(str, int)  # report id, recommendation number (from 1)
    to_skill = Signal(str, int)

    def __init__(self):
        super().__init__()
        self.data: ReportData | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 0, 0, 0)
        outer.setSpacing(6)
        self.title = _label("", "PageTitle")
        outer.addWidget(self.title)
        self.meta = _label("", "Muted")
        outer.addWidget(self.meta)
        self.extras = _label("", "Muted", rich=True)
        outer.addWidget(self.extras)
        # Four equal columns side by side; in a narrow window two rows of two (each column scrolls).
        self.columns = QWidget()
        self.grid = QGridLayout(self.columns)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(8)
        self.column_bodies: dict[str, QVBoxLayout] = {}
        self.cards = [self._column(key, heading) for key, heading in COLUMNS] + [self._prompt_column()]
        self.wide: bool | None = None
        self._arrange(True)
        outer.addWidget(self.columns, 1)
        self.buttons: dict[tuple[str, int], QToolButton] = {}  # ("memory"|"skill", n) -> button

    def _arrange(self, wide: bool) -> None:
        if wide == self.wide:
            return
        self.wide = wide
        for card in self.cards:
            self.grid.removeWidget(card)
        cells = [(0, i) for i in range(4)] if wide else [(0, 0), (0, 1), (1, 0), (1, 1)]
        for card, (row, column) in zip(self.cards, cells, strict=True):
            self.grid.addWidget(card, row, column)
        for column in range(4):
            self.grid.setColumnStretch(column, 1 if wide or column < 2 else 0)
        self.grid.setRowStretch(0, 1)
        self.grid.setRowStretch(1, 0 if wide else 1)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._arrange(event.size().width() >= WIDE_MIN)
        super().resizeEvent(event)

    # -- building ---------------------------------------------------------------------------------
    def _column(self, key: str, heading: str) -> QFrame:
        card = QFrame(objectName="Card")
        # The scroll area and its body take the card's colour (by default they paint the window's).
        card.setStyleSheet("QScrollArea, QWidget#ColumnBody { background: transparent; border: none; }")
        col = QVBoxLayout(card)
        col.setContentsMargins(10, 8, 4, 8)
        head = Label(heading)
        head.setStyleSheet("font-weight: 600;")
        col.addWidget(head)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        body.setObjectName("ColumnBody")
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(10)
        scroll.setWidget(body)
        col.addWidget(scroll, 1)
        self.column_bodies[key] = layout
        card.setMinimumWidth(140)
        return card

    def _prompt_column(self) -> QFrame:
        card = QFrame(objectName="Card")
        col = QVBoxLayout(card)
        col.setContentsMargins(10, 8, 10, 8)
        head = Label("Suggested prompt")
        head.setStyleSheet("font-weight: 600;")
        col.addWidget(head)
        self.prompt_state = _label("", "Muted")
        col.addWidget(self.prompt_state)
        self.diff = PromptDiffView()
        col.addWidget(self.diff, 1)
        row = QHBoxLayout()
        self.apply_button = QPushButton("Apply")
        self.apply_button.setProperty("primary", True)
        self.apply_button.setToolTip("Make the suggested prompt the connection's system prompt (Undo restores it)")
        self.apply_button.clicked.connect(lambda: self.data and self.apply_clicked.emit(self.data.report.id))
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Restore the prompt the connection had before Apply")
        self.undo_button.clicked.connect(lambda: self.data and self.undo_clicked.emit(self.data.report.id))
        row.addWidget(self.apply_button)
        row.addWidget(self.undo_button)
        row.addStretch(1)
        col.addLayout(row)
        card.setMinimumWidth(140)
        return card

    # -- showing ----------------------------------------------------------------------------------
    def show_report(self, data: ReportData | None) -> None:
        from agent.mirror.report import claim_of

        self.data = data
        self.buttons = {}
        for layout in self.column_bodies.values():
            while layout.count():
                item = layout.takeAt(0)
                if item.widget() is not None:  # hidden now: deleteLater waits for the event loop
                    item.widget().hide()
                    item.widget().deleteLater()
        if data is None:
            self.title.setText("")
            self.meta.setText("")
            self.extras.setText("")
            self.diff.clear()
            self.prompt_state.setText("")
            self.apply_button.setEnabled(False)
            self.undo_button.setEnabled(False)
            return
        report = data.report
        self.title.setText(report.title or "Untitled review")
        self.meta.setText(self._meta(data))
        self.extras.setText(self._extras(report.details or {}))
        self.extras.setVisible(bool(self.extras.text()))
        for key, _heading in COLUMNS:
            claims = [claim_of(item) for item in getattr(report, key) or []]
            layout = self.column_bodies[key]
            if not claims:
                layout.addWidget(_label("Nothing here.", "Muted"))
            for number, claim in enumerate(claims, start=1):
                layout.addWidget(self._claim(key, number, claim))
            layout.addStretch(1)
        self._show_prompt(data)

    def _meta(self, data: ReportData) -> str:
        report, details = data.report, data.report.details or {}
        reviewer = (details.get("reviewer") or {}).get("name")
        logs = details.get("logs") or {}
        sources = logs.get("sources") or []
        what = ", ".join(s.get("title", "") for s in sources[:3]) + (" …" if len(sources) > 3 else "")
        parts = [data.connection_name or "a deleted connection"]
        if reviewer and reviewer != data.connection_name:
            parts.append(f"reviewed by {reviewer}")
        if what:
            parts.append(what)
        if logs.get("tokens"):
            parts.append(f"~{logs['tokens']:,} tokens sent")
        if logs.get("parts_left_out"):
            parts.append(f"{logs['parts_left_out']} oldest part(s) left out")
        parts.append(relative_time(report.created_at) or report.created_at[:16])
        return " · ".join(parts)

    @staticmethod
    def _extras(details: dict) -> Html:
        lines = []
        used = [m.get("label", "") for m in details.get("memory_used") or []]
        if used:
            lines.append(Html("Memory the replies relied on (reinforced): {}").format("; ".join(map(str, used))))
        scores = [f"{s.get('name', '')} {float(s.get('score', 0)):.2f}" for s in details.get("skill_scores") or []]
        if scores:
            lines.append(Html("Skill scores: {}").format("; ".join(scores)))
        return Html("<br>").join(lines)

    def _claim(self, key: str, number: int, claim: dict) -> QWidget:
        c = colors()
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(3)
        prefix = f"{number}. " if key == "recommendations" else ""
        tag = Html("") if claim["verified"] else Html(' <span style="color:{};">⚠ unverified</span>').format(c.error)
        col.addWidget(_label(Html("{}{}").format(prefix + claim["text"], tag), rich=True))
        for evidence in claim["evidence"]:
            found = evidence.get("verified")
            mark = (Html('<span style="color:{};">✓</span>').format(c.online) if found
                    else Html('<span style="color:{};">✗ not in the logs:</span>').format(c.error))
            col.addWidget(_label(Html('{} <i style="color:{};">“{}”</i>').format(mark, c.muted, evidence["quote"]),
                                 rich=True))
        if not claim["evidence"]:
            col.addWidget(_label("no quote given", "Muted"))
        if key == "recommendations":
            col.addLayout(self._recommendation_actions(number, claim))
        return box

    def _recommendation_actions(self, number: int, claim: dict) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(6)
        for kind, text, linked, done in (("memory", "→ Memory", "memory_node_id", "✓ in the Atlas"),
                                         ("skill", "→ Skill", "skill_id", "✓ suggested skill")):
            button = QToolButton(text=done if claim.get(linked) else text)
            button.setStyleSheet("padding: 2px 7px;")
            button.setToolTip("Add to the Memory Atlas (source: this report)" if kind == "memory"
                              else "Add to the Skill Forge as a suggested skill")
            button.clicked.connect(lambda _c=False, k=kind, n=number: self._recommend(k, n))
            self.buttons[(kind, number)] = button
            row.addWidget(button)
        row.addStretch(1)
        return row

    def _recommend(self, kind: str, number: int) -> None:
        if self.data is not None:
            (self.to_memory if kind == "memory" else self.to_skill).emit(self.data.report.id, number)

    def _show_prompt(self, data: ReportData) -> None:
        report = data.report
        applied = report.applied_at is not None
        self.apply_button.setEnabled(bool(report.suggested_prompt) and not applied and data.current_prompt is not None)
        self.undo_button.setEnabled(applied and data.current_prompt is not None)
        if not report.suggested_prompt:
            self.prompt_state.setText("No change needed: the review suggests keeping the current prompt.")
            self.diff.show_diff(data.current_prompt, data.current_prompt)
            return
        if data.current_prompt is None:
            self.prompt_state.setText("The reviewed connection was deleted; the suggestion is shown on its own.")
            self.diff.show_diff("", report.suggested_prompt)
        elif applied:
            when = relative_time(report.applied_at) or report.applied_at[:16]
            self.prompt_state.setText(f"Applied {when}. The previous prompt is kept with this report; "
                                      "Undo restores it. Changes since the previous prompt:")
            self.diff.show_diff(report.previous_prompt, report.suggested_prompt)
        else:
            self.prompt_state.setText("Changes against the connection's current prompt (− removed, + added):")
            self.diff.show_diff(data.current_prompt, report.suggested_prompt)
