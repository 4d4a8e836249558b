"""What a Markdown image in a message becomes: never a file read or a request.

A message comes from a model, or from another device through sync, so `![x](/dev/zero)` or
`![x](https://tracker.example/pixel)` must not make the window read a device file or tell a server
who read the message. After Qt parses the Markdown, every image in the document is replaced — before
anything lays it out, which is when Qt would load it:

- an inline `data:` image (PNG, JPEG, GIF, WebP or BMP, at most MAX_DATA_BYTES decoded and MAX_SIDE
  pixels a side) is decoded here and handed to the document as a resource under a name of ours, shown
  at most MAX_SHOWN_WIDTH wide;
- anything else — a local path, file://, http(s)://, qrc:, a UNC path, an SVG, an oversized or broken
  `data:` image — becomes link-styled text, "▣ alt (where)", with the address as its href. Links in
  the transcript are never followed.
"""

from __future__ import annotations

import base64
import binascii
import re

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QUrl
from PySide6.QtGui import (
    QColor,
    QImage,
    QImageReader,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextImageFormat,
)

MAX_DATA_BYTES = 256 * 1024  # decoded; a screenshot-sized PNG fits, a megabyte blob does not
MAX_SIDE = 4096  # pixels, checked from the header before any decoding
MAX_SHOWN_WIDTH = 480
MAX_SHOWN_ADDRESS = 120  # characters of the address shown in the text; the tooltip has more
MAX_HREF = 2048
RESOURCE_SCHEME = "mirari-image"  # our own names for decoded images: nothing on disk has one
_RASTER = {"png", "jpeg", "jpg", "gif", "webp", "bmp"}  # no SVG: it can name files of its own
_DATA_URL = re.compile(r"data:image/(png|jpeg|jpg|gif|webp|bmp);base64,([A-Za-z0-9+/=\s]+)", re.IGNORECASE)


def decode_data_image(src: str) -> QImage | None:
    """The image in a `data:` URL when it is a small raster image, else None."""
    if len(src) > MAX_DATA_BYTES * 4 // 3 + 64:  # base64 is 4/3 of the bytes: too big before decoding
        return None
    match = _DATA_URL.fullmatch(src.strip())
    if match is None:
        return None
    try:
        raw = base64.b64decode("".join(match.group(2).split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw or len(raw) > MAX_DATA_BYTES:
        return None
    data = QByteArray(raw)
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    reader.setDecideFormatFromContent(True)
    if bytes(reader.format().data()).decode().lower() not in _RASTER:
        return None
    size = reader.size()
    if not size.isValid() or not (0 < size.width() <= MAX_SIDE and 0 < size.height() <= MAX_SIDE):
        return None
    image = reader.read()
    return None if image.isNull() else image


def _image_positions(doc: QTextDocument) -> list[tuple[int, QTextImageFormat]]:
    found = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            fmt = fragment.charFormat()
            if fmt.isImageFormat():
                found.extend((fragment.position() + i, fmt.toImageFormat()) for i in range(fragment.length()))
            it += 1
        block = block.next()
    return found


def _shown_address(src: str) -> str:
    line = " ".join(src.split())
    return line if len(line) <= MAX_SHOWN_ADDRESS else line[: MAX_SHOWN_ADDRESS - 1] + "…"


def replace_images(doc: QTextDocument, link_color: str) -> int:
    """Replace every image in `doc` as the module says; returns how many were shown as images."""
    shown = 0
    # From the end, so replacing one (an image is one character, its text longer) moves no other.
    for position, fmt in reversed(_image_positions(doc)):
        src = fmt.name()
        cursor = QTextCursor(doc)
        cursor.setPosition(position)
        cursor.setPosition(position + 1, QTextCursor.MoveMode.KeepAnchor)
        image = decode_data_image(src) if src.lstrip().lower().startswith("data:") else None
        alt = str(fmt.property(QTextFormat.Property.ImageAltText) or "").strip()
        cursor.removeSelectedText()
        if image is not None:
            name = f"{RESOURCE_SCHEME}:{position}"
            doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
            shown_fmt = QTextImageFormat()
            shown_fmt.setName(name)
            scale = min(1.0, MAX_SHOWN_WIDTH / image.width())
            shown_fmt.setWidth(image.width() * scale)
            shown_fmt.setHeight(image.height() * scale)
            cursor.insertImage(shown_fmt)
            shown += 1
            continue
        link = QTextCharFormat()  # fresh: the format beside it may be another image's
        link.setForeground(QColor(link_color))
        link.setFontUnderline(True)
        if src and len(src) <= MAX_HREF:
            link.setAnchor(True)
            link.setAnchorHref(src)
        where = "inline image, not shown" if src.lstrip().lower().startswith("data:") else _shown_address(src)
        cursor.insertText(f"▣ {alt or 'image'} ({where})", link)
    return shown
