"""The widgets above the Console's composer (no behaviour; attach.py drives them): the files waiting to be
sent as chips with ×, the paperclip that picks files, and the knowledge-set selector."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QSizePolicy, QToolButton, QWidget

from desktop.safe_text import Label, tip

NO_KNOWLEDGE = "No knowledge"


def paperclip_icon(color: QColor, size: int = 20) -> QIcon:
    """A paperclip drawn with lines (no emoji font needed): two nested U shapes."""
    pixmap = QPixmap(size * 2, size * 2)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(color, 3.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    path = QPainterPath(QPointF(26, 12))
    path.lineTo(26, 30)
    path.arcTo(QRectF(14, 24, 12, 12), 0, -180)
    path.lineTo(14, 8)
    path.arcTo(QRectF(14, 2, 16, 12), 180, -180)
    path.lineTo(30, 30)
    path.arcTo(QRectF(10, 22, 20, 16), 0, -180)
    path.lineTo(10, 14)
    painter.drawPath(path)
    painter.end()
    return QIcon(pixmap)


class PendingChip(QToolButton):
    """One file waiting to be sent: "name ×"; clicking it removes it."""

    remove = Signal(int)

    def __init__(self, index: int, label: str, detail: str):
        super().__init__()
        self.index = index
        self.setObjectName("AttachmentChip")
        self.setText(f"{label}  ×")  # a button's text is plain text
        self.setToolTip(tip(f"{detail}\nClick to remove it"))
        self.setAccessibleName(f"Remove {label}")
        self.clicked.connect(lambda: self.remove.emit(self.index))


class AttachBar(QWidget):
    """A row over the composer: the `paperclip`, the pending files (`chips_row`), and `knowledge_combo`
    ("No knowledge" or a knowledge set's name, hidden while there is no set). The paperclip is not in the
    composer's row: at 700 px that row has no room left beside Send and the Tools switch."""

    def __init__(self):
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        self.paperclip = QToolButton()
        self.paperclip.setIcon(paperclip_icon(QColor("#8a8f98")))  # a grey that reads in both themes
        self.paperclip.setObjectName("Paperclip")
        self.paperclip.setToolTip("Attach files: images, text, Markdown, code, CSV, JSON, PDFs (or drop or paste them)")
        self.paperclip.setAccessibleName("Attach files")
        row.addWidget(self.paperclip)
        self.chips_host = QWidget()
        self.chips_row = QHBoxLayout(self.chips_host)
        self.chips_row.setContentsMargins(0, 0, 0, 0)
        self.chips_row.setSpacing(6)
        self.chips_row.addStretch(1)  # chips stay together on the left
        row.addWidget(self.chips_host, 1)
        row.addStretch(0)  # keeps the selector its own size while no chip is shown
        self.knowledge_label = Label("Knowledge", objectName="Muted")
        row.addWidget(self.knowledge_label)
        self.knowledge_combo = QComboBox()
        self.knowledge_combo.setObjectName("KnowledgeSelector")
        self.knowledge_combo.setToolTip("Add the best passages of a knowledge folder to each message you send")
        self.knowledge_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.knowledge_combo.setMinimumContentsLength(12)
        self.knowledge_combo.addItem(NO_KNOWLEDGE, None)
        row.addWidget(self.knowledge_combo)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def chips(self) -> list[PendingChip]:
        return [self.chips_row.itemAt(i).widget() for i in range(self.chips_row.count())
                if isinstance(self.chips_row.itemAt(i).widget(), PendingChip)]

    def show_chips(self, items: list[tuple[str, str]]) -> list[PendingChip]:
        """Show (label, detail) chips in order; the old ones go."""
        for chip in self.chips():
            self.chips_row.removeWidget(chip)
            chip.deleteLater()
        made = []
        for i, (label, detail) in enumerate(items):
            chip = PendingChip(i, label, detail)
            self.chips_row.insertWidget(self.chips_row.count() - 1, chip)
            made.append(chip)
        self.chips_host.setVisible(bool(items))
        return made

    def set_knowledge_sets(self, names: list[str], keep: str | None) -> None:
        combo = self.knowledge_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(NO_KNOWLEDGE, None)
        for name in names:
            combo.addItem(name, name)
        found = combo.findData(keep) if keep else 0
        combo.setCurrentIndex(max(found, 0))
        combo.blockSignals(False)
        visible = bool(names)
        self.knowledge_label.setVisible(visible)
        self.knowledge_combo.setVisible(visible)

    def knowledge(self) -> str | None:
        return self.knowledge_combo.currentData()
