"""The status line under the Bind form: glyph, online/offline/error, the reason and the check time."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import QHBoxLayout, QWidget

from desktop.models.connection_model import GLYPHS, status_color
from desktop.safe_text import Label

_WORDS = {"online": "Online", "offline": "Offline", "error": "Error"}


class StatusLine(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 6, 0, 6)
        self.glyph = Label("")
        self.word = Label("")
        self.reason = Label("")
        self.reason.setWordWrap(True)
        self.when = Label("", objectName="Muted")
        row.addWidget(self.glyph)
        row.addWidget(self.word)
        row.addWidget(self.reason, 1)
        row.addWidget(self.when)
        self.status = ""
        self._shown: tuple[str, str | None, str | None] | None = None

    def clear(self) -> None:
        self.status = ""
        self._shown = None
        for label in (self.glyph, self.word, self.reason, self.when):
            label.setText("")

    def show_testing(self) -> None:
        self.status = "testing"
        self.glyph.setText("◌")
        self.word.setText("Testing…")
        self.reason.setText("")

    def recolour(self, _colors=None) -> None:
        """After a theme switch: the colours are baked into the style sheets, so set them again."""
        if self._shown is not None and self.status != "testing":
            self.show_check(*self._shown)

    def show_check(self, status: str, error: str | None, checked_at: str | None) -> None:
        self.status = status
        self._shown = (status, error, checked_at)
        if checked_at is None and not error:
            # A new connection's stored status is "offline" by default: that is not a finding.
            self.glyph.setText("○")
            self.glyph.setStyleSheet(f"color: {status_color('offline')}; font-size: 15px;")
            self.word.setText("Not tested")
            self.word.setStyleSheet(f"color: {status_color('offline')}; font-weight: 600;")
            self.reason.setText("Press Test connection to check that it answers.")
            self.when.setText("")
            return
        color = status_color(status)
        self.glyph.setText(GLYPHS.get(status, "○"))
        self.glyph.setStyleSheet(f"color: {color}; font-size: 15px;")
        self.word.setText(_WORDS.get(status, status))
        self.word.setStyleSheet(f"color: {color}; font-weight: 600;")
        self.reason.setText(error or ("Reachable and answering." if status == "online" else ""))
        self.when.setText(f"Last check {_local(checked_at)}" if checked_at else "")


def _local(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso
