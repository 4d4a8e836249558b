"""Text from data is shown as text: never as Qt rich text, and nothing it names is ever loaded.

Qt guesses. A QLabel, a QMessageBox, a tooltip or a form label shows a string as HTML when it *looks*
like HTML (`Qt.mightBeRichText`: a known tag, or "&lt;", on the first line), and rich text loads what
it names: `<img src="/dev/zero">` reads a local file until memory runs out, on the UI thread. Almost
every string MIRARI shows can come from outside — a template another user published, a model's reply,
a row synced from another device, a server's error — so the widgets that show data are these:

- `Label`: a QLabel that is always plain text (refuses any other format). Every label in `desktop/` is
  one; `tests/desktop/test_rich_text_lint.py` fails on a bare `QLabel(`.
- `Html`, `escape`, `HtmlLabel`: the few places that format (bold, colours, a diff) build an `Html`
  value from constant markup; every value put into it is escaped (`Html("<b>{}</b>").format(name)`),
  and a rich sink escapes any plain `str` it is given, so data cannot become markup by mistake.
- `tip(text)`: a tooltip that shows `text` as it is, bounded in length.
- `ask`, `inform`, `warn`, `message_box`: message boxes with plain text.
- `SafeDocument`, `SafeTextBrowser`: rich-text documents that never load a resource (no file, no
  network); Markdown in them is parsed without raw HTML.

The rules and where each outside input is checked: docs/security.md.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtWidgets import QLabel, QMessageBox, QTextBrowser

TIP_MAX_CHARS = 2_000  # a tooltip is a glance; a 200,000-character message is not shown whole in one
NO_HTML = QTextDocument.MarkdownFeature.MarkdownNoHTML
GITHUB = QTextDocument.MarkdownFeature.MarkdownDialectGitHub


class Html(str):
    """Markup that is safe to render: constant markup, with every value put into it escaped.

    Only this module makes one from a non-constant string (the lint test checks); everything else
    builds it with `Html("<b>{}</b>").format(value)`, `Html(...) + value`, `Html("<br>").join(values)`.
    """

    __slots__ = ()

    def format(self, *args, **kwargs) -> Html:  # noqa: A003 - str API
        return Html(str.format(self, *map(escape, args), **{k: escape(v) for k, v in kwargs.items()}))

    def __add__(self, other) -> Html:
        return Html(str.__add__(self, escape(other)))

    def __radd__(self, other) -> Html:  # "text" + Html(...): Python asks the subclass first
        return Html(str.__add__(escape(other), self))

    def join(self, values) -> Html:
        return Html(str.join(self, (escape(v) for v in values)))


def escape(value) -> Html:
    """`value` as markup that shows it literally (an `Html` value is already markup: kept)."""
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


def tip(text: str | None) -> str:
    """A tooltip that shows `text` as it is. Tooltips have no plain-text mode (Qt guesses), so the text
    goes escaped into a rich paragraph that keeps its line breaks; past TIP_MAX_CHARS it ends in "…"."""
    if not text:
        return ""
    text = str(text)
    if len(text) > TIP_MAX_CHARS:
        text = text[:TIP_MAX_CHARS] + "…"
    return f"<p style='white-space:pre-wrap'>{html.escape(text, quote=False)}</p>"


class Label(QLabel):
    """A QLabel that shows its text as it is, whatever the text looks like."""

    def __init__(self, text: str = "", parent=None, **kwargs):
        super().__init__(parent, **kwargs)
        super().setTextFormat(Qt.TextFormat.PlainText)  # before any text: never parsed as HTML
        self.setText(text)

    def setTextFormat(self, fmt) -> None:  # noqa: N802 - Qt API
        if fmt != Qt.TextFormat.PlainText:
            raise ValueError("a Label shows plain text only; formatted text is an HtmlLabel with Html")
        super().setTextFormat(fmt)


class HtmlLabel(QLabel):
    """A label with formatting: it takes `Html`; a plain `str` given to it is shown literally."""

    def __init__(self, text: str = "", parent=None, **kwargs):
        super().__init__(parent, **kwargs)
        super().setTextFormat(Qt.TextFormat.RichText)
        self.setText(text)

    def setText(self, text) -> None:  # noqa: N802 - Qt API
        super().setText(escape(text))

    def setTextFormat(self, fmt) -> None:  # noqa: N802 - Qt API
        raise ValueError("an HtmlLabel's format is fixed")


def _no_resource(kind: int):
    """What a document gets instead of a file or URL it names: a blank pixel for an image (an empty
    answer would make Qt try to load the name itself), nothing for anything else."""
    if kind == QTextDocument.ResourceType.ImageResource.value:
        blank = QImage(1, 1, QImage.Format.Format_ARGB32)
        blank.fill(0)
        return blank
    return QByteArray()


def _kind(kind) -> int:
    return kind.value if hasattr(kind, "value") else int(kind)


class SafeDocument(QTextDocument):
    """A QTextDocument that loads nothing: images it was given (`addResource`) are shown, any other
    name (a local path, file://, http://, qrc) is never opened. Markdown is parsed without raw HTML."""

    def loadResource(self, kind, _url):  # noqa: N802 - Qt API
        return _no_resource(_kind(kind))

    def setHtml(self, text) -> None:  # noqa: N802 - Qt API
        super().setHtml(escape(text))

    def setMarkdown(self, text: str, features=GITHUB) -> None:  # noqa: N802 - Qt API
        super().setMarkdown(text, features | NO_HTML)


class SafeTextBrowser(QTextBrowser):
    """A read-only rich-text view that loads nothing and follows no link (see SafeDocument)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)

    def loadResource(self, kind, _url):  # noqa: N802 - Qt API
        return _no_resource(_kind(kind))

    def setHtml(self, text) -> None:  # noqa: N802 - Qt API
        super().setHtml(escape(text))

    def setMarkdown(self, text: str) -> None:  # noqa: N802 - Qt API
        self.document().setMarkdown(text, GITHUB | NO_HTML)

    def setSource(self, *_args) -> None:  # noqa: N802 - Qt API: a browser of ours never navigates
        return None


# --- message boxes ------------------------------------------------------------------------------------
Button = QMessageBox.StandardButton


def message_box(icon: QMessageBox.Icon, title: str, text: str, parent=None,
                buttons: Button = Button.NoButton) -> QMessageBox:
    """A QMessageBox whose text is plain (QMessageBox's own constructor and statics guess, like QLabel)."""
    box = QMessageBox(icon, title, "", buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text)
    return box


def ask(parent, title: str, text: str, buttons: Button = Button.Yes | Button.No,
        default: Button = Button.NoButton) -> Button:
    """QMessageBox.question with plain text: the button pressed (Escape gives the escape button)."""
    box = message_box(QMessageBox.Icon.Question, title, text, parent, buttons)
    box.setDefaultButton(default)
    return Button(box.exec())


def inform(parent, title: str, text: str) -> None:
    message_box(QMessageBox.Icon.Information, title, text, parent, Button.Ok).exec()


def warn(parent, title: str, text: str) -> None:
    message_box(QMessageBox.Icon.Warning, title, text, parent, Button.Ok).exec()
