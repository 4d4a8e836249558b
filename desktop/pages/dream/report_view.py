"""One dream report: what it was, how far it got and what it used, its proposals (each with Accept and
Reject, or the decision already taken) and its findings (replay verdicts side by side).

A proposal to revise a skill's prompt shows the change as a line diff (Mirror's PromptDiffView), so
Accept is never blind; a stress finding lists what failed, each distinct line once with its count."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.models.dream_model import STATUS_WORDS
from desktop.models.thread_model import relative_time
from desktop.safe_text import Html, HtmlLabel, Label, escape
from desktop.widgets.prompt_diff import PromptDiffView

VERDICT_WORDS = {"better": "▲ better", "worse": "▼ worse", "same": "= same"}


def _label(text: str, name: str = "", rich: bool = False) -> QLabel:
    """Plain text, or (rich) an `Html` value: the report's fields come from a model and from sync."""
    kind = HtmlLabel if rich else Label
    label = kind(text, objectName=name) if name else kind(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ReportView(QWidget):
    decide = Signal(str, str, bool)  # report id, proposal id, accept?

    def __init__(self):
        super().__init__()
        self._col = QVBoxLayout(self)
        self._col.setContentsMargins(12, 6, 6, 6)
        self._col.setSpacing(8)
        self.report = None
        self.proposal_cards: dict[str, QFrame] = {}
        self.prompt_diffs: dict[str, PromptDiffView] = {}  # proposal id -> the diff of an "edit" proposal

    def show_report(self, report, connection_name) -> None:
        self.report = report
        self.proposal_cards, self.prompt_diffs = {}, {}
        while self._col.count():
            item = self._col.takeAt(0)
            if item.widget() is not None:  # hidden now: deleteLater waits for the event loop
                item.widget().hide()
                item.widget().deleteLater()
        if report is None:
            self._col.addWidget(_label("Pick a dream on the left to see what it found.", "Muted"))
            self._col.addStretch(1)
            return
        title = Label(f"{report.kind.capitalize()} — {STATUS_WORDS.get(report.status, report.status)}",
                      objectName="PageTitle")
        self._col.addWidget(title)
        budget = report.budget or {}
        used = (f"{budget.get('requests', 0)} of {budget.get('max_requests', '?')} requests, "
                f"{budget.get('chars', 0):,} of {budget.get('max_chars', 0):,} characters")
        when = relative_time(report.started_at) or report.started_at[:16]
        self._col.addWidget(_label(f"{connection_name(report.agent_connection_id)} · started {when} · "
                                   f"used {used}", "Muted"))
        if report.summary:
            self._col.addWidget(_label(report.summary))
        proposals = [p for p in report.proposals or [] if isinstance(p, dict)]
        self._col.addWidget(_label(f"Proposals ({len(proposals)})" if proposals else "No changes proposed.",
                                   "Muted"))
        for number, proposal in enumerate(proposals, 1):
            card = self._proposal_card(report.id, number, proposal)
            self.proposal_cards[str(proposal.get("id"))] = card
            self._col.addWidget(card)
        findings = [f for f in report.findings or [] if isinstance(f, dict)]
        if findings:
            self._col.addWidget(_label(f"Findings ({len(findings)})", "Muted"))
            for finding in findings:
                self._col.addWidget(self._finding(finding))
        self._col.addStretch(1)

    def _proposal_card(self, report_id: str, number: int, proposal: dict) -> QFrame:
        card = QFrame(objectName="Card")
        row = QHBoxLayout(card)
        row.setContentsMargins(12, 8, 12, 8)
        text = QVBoxLayout()
        text.addWidget(_label(f"{number}. {proposal.get('title', proposal.get('kind', ''))}"))
        detail = _detail(proposal)
        if detail:
            text.addWidget(_label(detail, "Muted", rich=True))
        if proposal.get("kind") == "edit":
            text.addWidget(self._prompt_change(proposal))
        row.addLayout(text, 1)
        state = proposal.get("state")
        if state == "open":
            accept = QPushButton("Accept")
            accept.setProperty("primary", True)
            reject = QPushButton("Reject")
            pid = str(proposal.get("id"))
            accept.clicked.connect(lambda: self.decide.emit(report_id, pid, True))
            reject.clicked.connect(lambda: self.decide.emit(report_id, pid, False))
            row.addWidget(accept)
            row.addWidget(reject)
        else:
            row.addWidget(Label("✓ Accepted" if state == "accepted" else "✗ Rejected", objectName="Muted"))
        return card

    def _prompt_change(self, proposal: dict) -> QWidget:
        """The revised template prompt against the one the dream tested (− removed, + added)."""
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 4, 0, 0)
        col.setSpacing(2)
        old, new = proposal.get("old_template_prompt"), proposal.get("template_prompt")
        old, new = (old if isinstance(old, str) else ""), (new if isinstance(new, str) else "")
        diff = PromptDiffView(max_lines_shown=14)
        diff.show_diff(old, new)
        removed, added = diff.changed_lines()
        col.addWidget(_label(f"The skill's prompt, changed (− {removed} line{'s' if removed != 1 else ''} "
                             f"removed, + {added} added):", "Muted"))
        col.addWidget(diff)
        self.prompt_diffs[str(proposal.get("id"))] = diff
        return box

    def _finding(self, finding: dict) -> QWidget:
        if finding.get("kind") == "replay":
            verdict = VERDICT_WORDS.get(finding.get("verdict"), finding.get("verdict", ""))
            html = Html("<b>{}</b> — {}<br><span>before: {}</span><br><span>now: {}</span>").format(
                verdict, _short(finding.get("question", ""), 160), _short(finding.get("old", ""), 240),
                _short(finding.get("new", ""), 240))
            if finding.get("reason"):
                html += Html("<br><i>{}</i>").format(_short(finding["reason"], 240))
            return _label(html, rich=True)
        if finding.get("kind") == "stress":
            from agent.dream.stress import count_lines

            failures = finding.get("failures")
            lines = count_lines(failures) if isinstance(failures, list) else []
            text = str(finding.get("text", ""))
            return _label("\n".join([text, *(f"  ✗ {line}" for line in lines)]))
        return _label("• " + str(finding.get("text", "")))


def _detail(proposal: dict) -> Html:
    kind = proposal.get("kind")
    if kind in ("merge", "keep_one"):
        labels = proposal.get("labels") or []
        lines = [Html("“{}”").format(label) for label in labels]
        if kind == "merge" and proposal.get("label"):
            lines.append(Html("→ “{}”").format(proposal["label"]))
        if proposal.get("reason"):
            lines.append(Html("<i>{}</i>").format(proposal["reason"]))
        return Html("<br>").join(lines)
    if kind == "reword":
        return Html("“{}”<br>→ “{}”").format(proposal.get("old_label", ""), proposal.get("label", ""))
    if kind == "delete":
        return Html("“{}”").format(proposal.get("label", ""))
    if kind in ("demote", "edit"):
        return escape(proposal.get("reason", ""))
    return Html("")


def _short(text: str, limit: int) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
