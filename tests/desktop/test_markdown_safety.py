"""The Markdown renderer of the transcript loads nothing: images are inline `data:` images of bounded
size or link-styled text; raw HTML is shown as text. A message comes from a model or another device."""

from __future__ import annotations

import base64
import http.server
import threading

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QFont, QImage, QTextDocument

from desktop.safe_text import SafeDocument
from desktop.theme import LIGHT
from desktop.widgets.markdown_images import MAX_DATA_BYTES, MAX_SHOWN_WIDTH, RESOURCE_SCHEME
from desktop.widgets.markdown_render import render_markdown

pytestmark = pytest.mark.timeout(60)  # a file opened by mistake would block: fail, never hang


def _png(width: int, height: int, noise: bool = False) -> bytes:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(0x5147D9)
    if noise:  # incompressible pixels, so the file is big
        import random

        rng = random.Random(7)
        for y in range(height):
            for x in range(width):
                image.setPixel(x, y, rng.getrandbits(24))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data)


def _data_url(raw: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(raw).decode()}"


def _render(text: str):
    rendered = render_markdown(text, LIGHT, QFont())
    rendered.doc.setTextWidth(600)
    rendered.doc.size()  # lay it out: this is when Qt would load an image
    return rendered.doc


def _images(doc: QTextDocument) -> list[str]:
    names = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.isImageFormat():
                names.append(fmt.toImageFormat().name())
            it += 1
        block = block.next()
    return names


def _anchors(doc: QTextDocument) -> list[str]:
    hrefs = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.isAnchor():
                hrefs.append(fmt.anchorHref())
            it += 1
        block = block.next()
    return hrefs


def test_a_local_path_or_file_url_image_is_a_link_and_never_opened(qapp, fifo_trap):
    doc = _render(f"Look: ![the chart]({fifo_trap.path}) and ![x]({fifo_trap.path.as_uri()} \"t\") and "
                  f"![]({fifo_trap.path}) done")  # (Qt's parser drops an image without alt text)
    assert _images(doc) == []
    text = doc.toPlainText()
    assert f"▣ the chart ({fifo_trap.path})" in text
    assert f"▣ x ({fifo_trap.path.as_uri()})" in text
    assert _anchors(doc) == [str(fifo_trap.path), fifo_trap.path.as_uri()]
    assert fifo_trap.opens() == 0


def test_raw_html_in_markdown_is_shown_as_text(qapp, fifo_trap):
    tag = f'<img src="{fifo_trap.path}">'
    doc = _render(f"inline {tag} and <b>bold?</b>\n\n<div>{tag}</div>\n")
    text = doc.toPlainText()
    assert tag in text and "<b>bold?</b>" in text and "<div>" in text
    assert _images(doc) == []
    assert fifo_trap.opens() == 0


class _Counter(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):  # noqa: N802 - http.server API
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.wfile.write(_png(2, 2))

    def log_message(self, *_args):
        pass


def test_a_remote_image_is_a_link_and_never_fetched(qapp):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/pixel.png"
        doc = _render(f"![tracker]({url}) ![unc](\\\\\\\\server\\\\share\\\\x.png)")
        assert _images(doc) == []
        assert f"▣ tracker ({url})" in doc.toPlainText()
        assert url in _anchors(doc)
    finally:
        server.shutdown()
    assert _Counter.hits == 0


def test_a_small_inline_image_is_shown_from_the_message_itself(qapp):
    doc = _render(f"A dot: ![dot]({_data_url(_png(800, 40))})")
    (name,) = _images(doc)
    assert name.startswith(RESOURCE_SCHEME + ":")  # our name, with the decoded image as its resource
    image = doc.resource(QTextDocument.ResourceType.ImageResource, name)
    assert isinstance(image, QImage) and image.width() == 800
    block = doc.begin()
    fmt = next(f.charFormat() for f in _fragments(block) if f.charFormat().isImageFormat()).toImageFormat()
    assert fmt.width() == MAX_SHOWN_WIDTH and fmt.height() == pytest.approx(40 * MAX_SHOWN_WIDTH / 800)


def _fragments(block):
    it = block.begin()
    while not it.atEnd():
        yield it.fragment()
        it += 1


@pytest.mark.parametrize("what, url", [
    ("too many bytes", None),
    ("too many pixels", "big"),
    ("an SVG (it can name files of its own)", "svg"),
    ("not base64", "data:image/png;base64,@@@@"),
    ("not an image", _data_url(b"just text, no picture at all")),
])
def test_an_inline_image_that_is_too_big_or_not_a_picture_is_text(qapp, what, url):
    if url is None:
        raw = _png(400, 400, noise=True)
        assert len(raw) > MAX_DATA_BYTES
        url = _data_url(raw)
    elif url == "big":
        url = _data_url(_png(5000, 2))  # a few hundred bytes, 5,000 pixels wide
    elif url == "svg":
        svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><image href="/etc/passwd"/></svg>'
        url = _data_url(svg, "image/svg+xml")
    doc = _render(f"![pic]({url})")
    assert _images(doc) == [], what
    assert "▣ pic (inline image, not shown)" in doc.toPlainText()


def test_a_safe_document_loads_no_named_resource(qapp, fifo_trap):
    """The document under the renderer refuses by itself too: HTML given as a plain str is escaped,
    and an image name that reached it anyway (here set by hand) is never read."""
    from PySide6.QtGui import QTextCursor, QTextImageFormat

    doc = SafeDocument()
    doc.setHtml(f'<img src="{fifo_trap.path}">')
    assert doc.toPlainText() == f'<img src="{fifo_trap.path}">'
    fmt = QTextImageFormat()
    fmt.setName(str(fifo_trap.path))
    QTextCursor(doc).insertImage(fmt)
    doc.setTextWidth(300)
    doc.size()
    assert fifo_trap.opens() == 0
