"""Markdown → QTextDocument with pygments-highlighted code blocks.

Qt's own Markdown parser (md4c) builds the document; code fences come out as blocks carrying the
`BlockCodeFence` property and their language, and we colour those blocks' characters with pygments
tokens. The result also lists each code block's text and block range so the delegate can place a
Copy button on it and hit-test clicks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from pygments import lex
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.styles import get_style_by_name
from pygments.util import ClassNotFound
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)

from desktop.safe_text import SafeDocument
from desktop.theme import Colors
from desktop.widgets.markdown_images import replace_images

_FENCE = QTextFormat.Property.BlockCodeFence
_LANG = QTextFormat.Property.BlockCodeLanguage


@dataclass
class CodeBlock:
    first_block: int  # QTextBlock numbers, inclusive
    last_block: int
    language: str
    text: str


@dataclass
class Rendered:
    doc: QTextDocument
    code_blocks: list[CodeBlock] = field(default_factory=list)


@lru_cache(maxsize=64)
def _lexer(language: str):
    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


@lru_cache(maxsize=4)
def _token_formats(style_name: str) -> dict:
    style = get_style_by_name(style_name)
    formats = {}
    for token, spec in style:
        fmt = QTextCharFormat()
        if spec["color"]:
            fmt.setForeground(QColor("#" + spec["color"]))
        if spec["bold"]:
            fmt.setFontWeight(QFont.Weight.Bold)
        if spec["italic"]:
            fmt.setFontItalic(True)
        formats[token] = fmt
    return formats


def _format_for(token, formats: dict) -> QTextCharFormat | None:
    while token is not None:
        fmt = formats.get(token)
        if fmt is not None and fmt.hasProperty(QTextFormat.Property.ForegroundBrush):
            return fmt
        token = token.parent
    return None


def _mono_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPointSizeF(max(8.0, font.pointSizeF() * 0.95))
    return font


def _collect_code_blocks(doc: QTextDocument) -> list[CodeBlock]:
    blocks: list[CodeBlock] = []
    block = doc.begin()
    current: CodeBlock | None = None
    lines: list[str] = []
    while block.isValid():
        fmt = block.blockFormat()
        if fmt.hasProperty(_FENCE):
            if current is None:
                current = CodeBlock(block.blockNumber(), block.blockNumber(), str(fmt.property(_LANG) or ""), "")
                lines = []
            current.last_block = block.blockNumber()
            lines.append(block.text())
        elif current is not None:
            current.text = "\n".join(lines)
            blocks.append(current)
            current = None
        block = block.next()
    if current is not None:
        current.text = "\n".join(lines)
        blocks.append(current)
    return blocks


def _highlight(doc: QTextDocument, code: CodeBlock, colors: Colors) -> None:
    # Unlabelled fences stay plain: guessing a lexer costs tens of milliseconds per block.
    lexer = _lexer(code.language.lower()) if code.language else None
    formats = _token_formats(colors.pygments_style)
    mono = _mono_font()
    cursor = QTextCursor(doc)
    # Background and font for the whole block range, then token colours on top.
    start = doc.findBlockByNumber(code.first_block).position()
    end_block = doc.findBlockByNumber(code.last_block)
    end = end_block.position() + end_block.length() - 1
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    base = QTextCharFormat()
    base.setFont(mono)
    base.setForeground(QColor(colors.text))
    cursor.mergeCharFormat(base)
    block_fmt = QTextBlockFormat()
    block_fmt.setLeftMargin(10)
    block_fmt.setRightMargin(10)
    # md4c marks fences non-breaking: a long line then ran past the bubble (the delegate cannot scroll
    # sideways). Wrapped instead; Copy still gives the original lines.
    block_fmt.setNonBreakableLines(False)
    block_fmt.setTopMargin(0)
    block_fmt.setBottomMargin(0)
    cursor.mergeBlockFormat(block_fmt)
    # Margins collapse and block rects exclude them: 14 px around a code block leaves room for the
    # painted panel's 6 px padding (see CODE_PAD in the delegate) plus an 8 px gap to the prose.
    for number, margin in ((code.first_block, "top"), (code.last_block, "bottom")):
        edge = QTextCursor(doc.findBlockByNumber(number))
        fmt = QTextBlockFormat()
        (fmt.setTopMargin if margin == "top" else fmt.setBottomMargin)(14)
        edge.mergeBlockFormat(fmt)
    if lexer is None or isinstance(lexer, TextLexer):
        return
    # Token offsets are relative to the code text, whose "\n" map 1:1 onto block separators.
    offset = 0
    for token, value in lex(code.text, lexer):
        fmt = _format_for(token, formats)
        if fmt is not None and value.strip():
            cursor.setPosition(start + offset)
            cursor.setPosition(start + offset + len(value), QTextCursor.MoveMode.KeepAnchor)
            cursor.mergeCharFormat(fmt)
        offset += len(value)


def _space_paragraphs(doc: QTextDocument) -> None:
    """md4c leaves paragraphs flush against each other and against code; give them a little air
    (but not between the items of one list or the lines of one code block)."""
    block = doc.begin()
    while block.isValid():
        nxt = block.next()
        if nxt.isValid():
            same_list = block.textList() is not None and nxt.textList() is not None
            same_code = block.blockFormat().hasProperty(_FENCE) and nxt.blockFormat().hasProperty(_FENCE)
            fmt = QTextBlockFormat()
            if same_list or same_code:
                pass
            else:
                fmt.setBottomMargin(8)
                QTextCursor(block).mergeBlockFormat(fmt)
        block = nxt


_BLOCK_START = re.compile(r"^\s*([-*+]\s|\d+[.)]\s|#{1,6}\s|>|```|~~~)")


def hard_breaks(text: str) -> str:
    """Keep the line breaks a person typed, which Markdown would join into one line.

    A single newline inside a paragraph becomes U+2028 (a line break inside the same block, so no
    paragraph spacing); newlines around blank lines, list items, headings, quotes and code fences,
    and everything inside a fence, stay as they are.
    """
    lines = text.split("\n")
    out = lines[:1]
    fenced = bool(lines) and lines[0].lstrip().startswith(("```", "~~~"))
    for prev, line in zip(lines, lines[1:], strict=False):
        fence = line.lstrip().startswith(("```", "~~~"))
        joinable = (not fenced and not fence and prev.strip() and line.strip()
                    and not _BLOCK_START.match(line) and not prev.lstrip().startswith(("```", "~~~")))
        out.append(("\u2028" if joinable else "\n") + line)
        if fence:
            fenced = not fenced
    return "".join(out)


def render_markdown(text: str, colors: Colors, base_font: QFont, markdown: bool = True) -> Rendered:
    """A message as a document. The text is untrusted (a model's reply, another device's row): raw HTML
    in it is shown as text (SafeDocument parses Markdown without HTML), and no image is ever loaded
    from where it points (markdown_images); the document itself loads no resource."""
    doc = SafeDocument()
    doc.setDocumentMargin(0)
    doc.setDefaultFont(base_font)
    doc.setDefaultStyleSheet(f"a {{ color: {colors.accent}; }}")
    if markdown:
        doc.setMarkdown(text, QTextDocument.MarkdownFeature.MarkdownDialectGitHub)
        if "![" in text:  # without raw HTML an image can only come from Markdown's ![alt](…) / ![alt][ref]
            replace_images(doc, colors.accent)
    else:
        doc.setPlainText(text)
    rendered = Rendered(doc, _collect_code_blocks(doc) if markdown else [])
    _space_paragraphs(doc)
    for code in rendered.code_blocks:
        _highlight(doc, code, colors)
    return rendered
