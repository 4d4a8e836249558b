"""A prompt change shown as a line diff: unchanged lines plain, removed ones red and struck through,
added ones green. Mirror's suggested system prompt and Dream's revised skill prompt use the same view,
so Accept and Apply are never blind. The lines come from agent.mirror.review.prompt_diff; every line is
escaped (the prompts are model text)."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFrame

from desktop.safe_text import Html, SafeTextBrowser
from desktop.theme import colors


def _mix(fg: str, bg: str, amount: float) -> str:
    """`amount` of `fg` over `bg`, as #rrggbb (rich text has no alpha)."""
    a, b = QColor(fg), QColor(bg)
    return QColor(round(a.red() * amount + b.red() * (1 - amount)), round(a.green() * amount + b.green() * (1 - amount)),
                  round(a.blue() * amount + b.blue() * (1 - amount))).name()


def diff_html(lines: list[tuple[str, str]]) -> Html:
    """The prompt diff as rich text: added lines tinted green, removed ones red and struck through."""
    c = colors()
    styles = {"+": f"background-color:{_mix(c.online, c.panel, 0.18)};",
              "-": f"background-color:{_mix(c.error, c.panel, 0.16)}; text-decoration:line-through;",
              " ": f"color:{c.text};"}
    rows = []
    for tag, line in lines:
        rows.append(Html('<div style="{} white-space:pre-wrap;">{} {}</div>').format(
            styles[tag], tag, line or Html("&nbsp;")))
    return Html('<div style="font-family:monospace;">{}</div>').format(Html("").join(rows))


class PromptDiffView(SafeTextBrowser):
    """Read-only; `show_diff(old, new)` renders the change (None reads as an empty prompt).
    `max_lines_shown`: grow with the text up to that many lines, then scroll (for a card in a list)."""

    def __init__(self, parent=None, *, max_lines_shown: int | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.max_lines_shown = max_lines_shown
        self.lines: list[tuple[str, str]] = []
        if max_lines_shown:
            self.document().documentLayout().documentSizeChanged.connect(self._fit_height)

    def show_diff(self, old: str | None, new: str | None) -> None:
        from agent.mirror.review import prompt_diff

        self.lines = prompt_diff(old, new)
        self.setHtml(diff_html(self.lines))

    def _fit_height(self, size) -> None:
        """As tall as the laid-out text (wrapped lines included), up to `max_lines_shown` lines."""
        limit = self.max_lines_shown * self.fontMetrics().lineSpacing() + 8
        self.setFixedHeight(int(min(size.height(), limit)) + 2 * self.frameWidth() + 2)

    def changed_lines(self) -> tuple[int, int]:
        """(removed, added) line counts of what is shown."""
        return (sum(1 for tag, _ in self.lines if tag == "-"), sum(1 for tag, _ in self.lines if tag == "+"))
