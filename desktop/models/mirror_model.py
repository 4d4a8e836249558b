"""Mirror reports for the Mirror page's list (agent.mirror.review.ReportSummary rows, newest first)."""

from __future__ import annotations

from desktop.models.record_list_model import RecordListModel
from desktop.models.thread_model import TwoLineDelegate, relative_time


def counts_text(report) -> str:
    s, w, r = report.counts
    return f"{s} strengths · {w} weaknesses · {r} recommendations"


class ReportListModel(RecordListModel):
    def display(self, report) -> str:
        return report.title  # for accessibility and keyboard search; the delegate paints

    def tooltip(self, report) -> str:
        lines = [report.title, f"{report.connection_name or 'a deleted connection'} · {counts_text(report)}"]
        if report.unverified:
            lines.append(f"{report.unverified} claim(s) without verified evidence")
        if report.applied:
            lines.append("Its suggested prompt is applied")
        return "\n".join(lines)


class ReportDelegate(TwoLineDelegate):
    def title(self, report) -> str:
        return ("✓ " if report.applied else "") + report.title

    def meta(self, report) -> str:
        s, w, r = report.counts
        unverified = f" · {report.unverified} unverified" if report.unverified else ""
        who = report.connection_name or "deleted connection"
        return f"{who} · {s}/{w}/{r}{unverified} · {relative_time(report.created_at)}"
