"""Dream reports for the Dream page's list: newest first, kind, when, status, open proposals."""

from __future__ import annotations

from desktop.models.record_list_model import RecordListModel
from desktop.models.thread_model import TwoLineDelegate, relative_time

KIND_GLYPHS = {"consolidate": "◈", "replay": "↺", "stress": "⚡"}
STATUS_WORDS = {"running": "dreaming…", "done": "done", "partial": "stopped early", "cancelled": "cancelled",
                "failed": "failed", "interrupted": "interrupted"}


def open_proposals(report) -> int:
    return sum(1 for p in report.proposals or [] if isinstance(p, dict) and p.get("state") == "open")


class DreamListModel(RecordListModel):
    def display(self, report) -> str:
        return f"{report.kind} {report.status}"  # for accessibility and keyboard search; the delegate paints


    def tooltip(self, report) -> str:
        return report.summary or STATUS_WORDS.get(report.status, report.status)


class DreamDelegate(TwoLineDelegate):
    def title(self, report) -> str:
        return f"{KIND_GLYPHS.get(report.kind, '·')}  {report.kind.capitalize()}"

    def meta(self, report) -> str:
        waiting = open_proposals(report)
        tail = f" · {waiting} to review" if waiting else ""
        return f"{STATUS_WORDS.get(report.status, report.status)}{tail} · {relative_time(report.started_at)}"
