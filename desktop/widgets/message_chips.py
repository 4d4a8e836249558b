"""Attachments and citations under a transcript message, as painted chips (the delegate lays out, paints
and hit-tests them with the same rectangles):

- an image attachment: a thumbnail box (its thumbnail once read in the background, else its name);
- any other attachment: a file chip, "name · size" (with ⤓ when the bytes are not on this device yet);
- a reply's citations: "↗ set/file:line" chips after "Sources".

Every text is drawn as plain text (QPainter.drawText), elided to its chip. The boxes' sizes never depend
on whether a thumbnail has loaded, so a row's height does not change when it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter, QPen, QPixmap

THUMB_W, THUMB_H = 120, 84
CHIP_MAX_W = 260
SPACING = 6
SOURCES = "Sources"


@dataclass
class Chip:
    kind: str  # "attachment" | "citation"
    value: object  # desktop.message_extras.AttachmentChip | agent.knowledge.citations.Citation
    rect: QRect
    label: str
    thumb: bool = False  # an image's thumbnail box


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def attachment_label(chip) -> str:
    mark = "" if chip.local else "  ↓"  # not on this device yet: opening downloads it
    return f"{chip.name} · {_size(chip.size)}{mark}"


def layout(row, left: int, top: int, width: int, metrics: QFontMetrics) -> tuple[list[Chip], int]:
    """The chips of `row` from (left, top) in a column `width` wide, wrapping; (chips, height used)."""
    items: list[tuple[str, object, str, bool]] = []
    for a in row.attachments:
        items.append(("attachment", a, attachment_label(a), a.is_image))
    for c in row.citations:
        items.append(("citation", c, f"↗ {c.source}", False))
    if not items:
        return [], 0
    chips: list[Chip] = []
    line_h = metrics.height() + 8
    x, y, tallest = left, top + 4, 0
    if row.citations and not row.attachments:
        x += metrics.horizontalAdvance(SOURCES) + 10
    for kind, value, label, thumb in items:
        w, h = (THUMB_W, THUMB_H) if thumb else (min(CHIP_MAX_W, metrics.horizontalAdvance(label) + 26), line_h)
        if x + w > left + width and x > left:
            x, y, tallest = left, y + tallest + SPACING, 0
        chips.append(Chip(kind, value, QRect(x, y, min(w, width), h), label, thumb))
        x += w + SPACING
        tallest = max(tallest, h)
    return chips, y + tallest - top + 4


def paint(painter: QPainter, chips: list[Chip], c, metrics: QFontMetrics, thumbs: ThumbnailCache | None) -> None:
    if not chips:
        return
    if chips[0].kind == "citation":
        first = chips[0].rect
        painter.setPen(QColor(c.muted))
        painter.drawText(QRect(first.left() - metrics.horizontalAdvance(SOURCES) - 10, first.top(),
                               metrics.horizontalAdvance(SOURCES) + 4, first.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, SOURCES)
    for chip in chips:
        rect = chip.rect
        painter.setPen(QPen(QColor(c.accent if chip.kind == "citation" else c.border), 1))
        painter.setBrush(QColor(c.panel))
        painter.drawRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        pixmap = thumbs.get(chip.value) if chip.thumb and thumbs is not None else None
        if pixmap is not None and not pixmap.isNull():
            scaled = pixmap.scaled(rect.size().shrunkBy(_margins()), Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
            painter.drawPixmap(rect.center().x() - scaled.width() // 2, rect.center().y() - scaled.height() // 2,
                               scaled)
            continue
        painter.setPen(QColor(c.accent if chip.kind == "citation" else c.text))
        inner = rect.adjusted(9, 0, -9, 0)
        flags = Qt.AlignmentFlag.AlignVCenter | (Qt.AlignmentFlag.AlignHCenter if chip.thumb else
                                                 Qt.AlignmentFlag.AlignLeft)
        painter.drawText(inner, flags, metrics.elidedText(chip.label, Qt.TextElideMode.ElideMiddle, inner.width()))


def _margins():
    from PySide6.QtCore import QMargins

    return QMargins(4, 4, 4, 4)


class ThumbnailCache(QObject):
    """Thumbnails of image attachments whose bytes are on this device, decoded off the UI thread (a
    QImage may be made in any thread; the QPixmap is made here). `ready` asks the view to repaint."""

    ready = Signal()
    MAX = 300

    def __init__(self, parent, db_of):
        super().__init__(parent)
        self._db_of = db_of  # () -> the open LocalDatabase (it changes when the account does)
        self._pixmaps: dict[str, QPixmap] = {}
        self._asked: set[str] = set()

    def get(self, chip) -> QPixmap | None:
        found = self._pixmaps.get(chip.sha256)
        if found is None and chip.local and len(chip.sha256) == 64 and chip.sha256 not in self._asked:
            self._load(chip)
        return found

    def _load(self, chip) -> None:
        from desktop.ops import Op
        from sync import attachments as blobs

        self._asked.add(chip.sha256)
        db = self._db_of()

        def read() -> QImage:
            path = blobs.local_copy(blobs.store_root(db), chip.sha256, chip.size)
            image = QImage(str(path)) if path is not None else QImage()
            return image.scaled(THUMB_W * 2, THUMB_H * 2, Qt.AspectRatioMode.KeepAspectRatio,
                                Qt.TransformationMode.SmoothTransformation) if not image.isNull() else image

        def done(image: QImage) -> None:
            if len(self._pixmaps) >= self.MAX:
                self._pixmaps.pop(next(iter(self._pixmaps)))
            self._pixmaps[chip.sha256] = QPixmap.fromImage(image)
            self.ready.emit()

        Op(self, read, "").success(done).failure(lambda _exc: None).run()
