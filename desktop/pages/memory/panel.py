"""The Atlas's "What the agent sees" panel: for a chosen connection, the exact memory block a chat turn
sends (agent.prompt.memory_block — the same function the prompt uses), its size in characters and
estimated tokens, the whole system message's size, and the nodes the cap of 40 left out. Below: which
outside apps read or wrote the selected fact (agent.mcp_server.access), as plain text."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
)

from desktop.safe_text import Label, tip

EMPTY_BLOCK = ("(no memory block: no node is at 0.75 or more, so nothing from the Atlas is sent — "
               "reinforce a node or raise its strength)")


class AgentViewPanel(QFrame):
    connection_changed = Signal(object)  # the chosen connection id (None: none bound yet)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("Card")
        self.block = None  # the last agent.prompt.MemoryBlock shown
        col = QVBoxLayout(self)
        col.setContentsMargins(14, 12, 14, 12)
        col.setSpacing(6)
        col.addWidget(Label("What the agent sees", objectName="SectionTitle"))
        self.connection = QComboBox()
        self.connection.setToolTip("The connection whose system message is shown")
        self.connection.currentIndexChanged.connect(lambda _i: self.connection_changed.emit(self.connection_id()))
        col.addWidget(self.connection)
        self.sizes = Label("", objectName="Muted")
        self.sizes.setWordWrap(True)
        self.sizes.setToolTip("Characters exactly; tokens estimated as characters ÷ 4 (a real tokenizer may "
                              "differ by a third either way). The system message is the connection's base "
                              "prompt, the memory block and the promoted skills.")
        col.addWidget(self.sizes)
        self.whole = QCheckBox("Show the whole system message")
        self.whole.setToolTip("Base prompt, memory block and promoted skills, exactly as sent")
        self.whole.toggled.connect(lambda _on: self._fill_text())
        col.addWidget(self.whole)
        self.text = QPlainTextEdit()
        self.text.setObjectName("AgentView")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        col.addWidget(self.text, 3)
        self.over_title = Label("", objectName="Muted")
        self.over_title.setWordWrap(True)
        col.addWidget(self.over_title)
        self.over_cap = QListWidget()
        self.over_cap.setObjectName("OverCap")
        col.addWidget(self.over_cap, 1)
        self.access_title = Label("", objectName="Muted")
        self.access_title.setWordWrap(True)
        col.addWidget(self.access_title)
        self.access = QListWidget()
        self.access.setObjectName("AccessLog")
        self.access.setWordWrap(True)
        self.access.setSpacing(3)
        self.access.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        col.addWidget(self.access, 1)
        self.show_access(None, [])

    def connection_id(self) -> str | None:
        return self.connection.currentData()

    def set_connections(self, rows: list[tuple[str, str]], wanted: str | None) -> None:
        """rows: (id, "name · model"); keeps the current choice (or `wanted`) when it still exists."""
        keep = self.connection_id() or wanted
        self.connection.blockSignals(True)
        self.connection.clear()
        for cid, title in rows:
            self.connection.addItem(title, cid)
        if not rows:
            self.connection.addItem("No connection yet (memory block only)", None)
        found = self.connection.findData(keep)
        self.connection.setCurrentIndex(found if found >= 0 else 0)
        self.connection.blockSignals(False)

    def show_block(self, block) -> None:
        self.block = block
        injected = len(block.injected)
        self.sizes.setText(
            f"Memory block — {injected} node{'s' if injected != 1 else ''} · {block.chars:,} chars · "
            f"≈{block.tokens:,} tokens\nSystem message — {block.system_chars:,} chars · ≈{block.system_tokens:,} tokens")
        self._fill_text()
        self.over_cap.clear()
        for view in block.over_cap:
            item = QListWidgetItem(f"{view.effective:.2f}  {view.node.label}")
            item.setData(Qt.ItemDataRole.UserRole, view.id)
            item.setToolTip(tip(view.node.label))
            self.over_cap.addItem(item)
        if block.over_cap:
            self.over_title.setText(f"Left out by the cap of 40 ({len(block.over_cap)}): strong enough, "
                                    "but not among the 40 strongest")
        else:
            self.over_title.setText("Nothing is left out by the cap of 40.")
        self.over_cap.setVisible(bool(block.over_cap))

    def _fill_text(self) -> None:
        if self.block is None:
            return
        if self.whole.isChecked():
            self.text.setPlainText(self.block.system or "(empty: no system message is sent)")
        else:
            self.text.setPlainText(self.block.block or EMPTY_BLOCK)

    def show_access(self, label: str | None, entries) -> None:
        """The selected fact's access log (agent.mcp_server.access.AccessEntry items, newest first)."""
        from local_schema.timestamps import parse_timestamp

        self.access.clear()
        if label is None:
            self.access_title.setText("Select a fact to see which other apps used it (mirari mcp serve).")
        elif not entries:
            self.access_title.setText(f"No other app has used “{label[:60]}”.")
        else:
            self.access_title.setText(f"Used by other apps ({len(entries)}{'+' if len(entries) >= 100 else ''}):")
        for entry in entries:
            try:
                when = parse_timestamp(entry.at).astimezone().strftime("%Y-%m-%d %H:%M")
            except ValueError:
                when = entry.at
            detail = f" · “{entry.detail[:80]}”" if entry.detail else ""
            item = QListWidgetItem(f"{entry.app} — {entry.action} ({entry.tool})\n{when}{detail}")
            item.setToolTip(tip(f"{entry.at}\n{entry.app} — {entry.action} by {entry.tool}\n{entry.detail}"))
            self.access.addItem(item)
        self.access.setVisible(bool(entries))
