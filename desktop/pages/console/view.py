"""The Console's widgets and nothing else: threads and search on the left; header, transcript and
composer on the right. Every widget is a public attribute; no database, no behaviour, no handlers.

`ConsolePage` (page.py) is the controller: it subclasses this view, gives it its models and
wires the widgets to what they do; the helpers beside it (turns.py, actions.py) go
through the page's public methods and these public widgets only.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QListView,
    QMenu,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.pages.console.attach_bar import AttachBar
from desktop.safe_text import Label
from desktop.widgets.composer import Composer
from desktop.widgets.elided_label import ElidedLabel
from desktop.widgets.search_panel import SearchBox
from desktop.widgets.transcript_view import TranscriptView


class CollapsingHeader(QWidget):
    """A row whose trailing buttons fold into one "⋯" menu button when the row is too narrow to show
    them whole. The choice depends only on the row's width and the widgets' size hints (hidden ones
    included), never on what is shown now, so it cannot flip back and forth."""

    TITLE_ROOM = 120  # what the first widget (the title) keeps before the buttons fold

    def __init__(self):
        super().__init__()
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self._folding: list[QWidget] = []
        self._keep: list[QWidget] = []
        self._more: QWidget | None = None
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def fold(self, widgets: list[QWidget], into: QWidget, keep: list[QWidget]) -> None:
        self._folding, self._more, self._keep = widgets, into, keep
        self._arrange(self.width())

    def needed_width(self) -> int:
        """The width that shows every button whole beside the title's room and the others' minimum."""
        spacing = max(0, self.row.spacing())
        title, *others = self._keep
        widths = [self.TITLE_ROOM] + [w.minimumSizeHint().width() for w in others] + \
                 [w.sizeHint().width() for w in self._folding]
        return sum(widths) + spacing * (len(widths) - 1)

    def folded(self) -> bool:
        return self._more is not None and self._more.isVisibleTo(self)

    def _arrange(self, width: int) -> None:
        if self._more is None:
            return
        fold = width < self.needed_width()
        for widget in self._folding:
            widget.setVisible(not fold)
        self._more.setVisible(fold)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._arrange(event.size().width())
        super().resizeEvent(event)


class ConsoleView(QWidget):
    """`search_results` is the widget shown instead of the thread list while a search is typed."""

    def __init__(self, search_results: QWidget):
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self._thread_column(search_results))
        row.addWidget(self._conversation_column(), 1)

    def _thread_column(self, search_results: QWidget) -> QWidget:
        left = QWidget()
        left.setMinimumWidth(230)  # gives way to the conversation in a small window
        left.setMaximumWidth(260)
        col = QVBoxLayout(left)
        col.setContentsMargins(12, 14, 6, 10)
        head = QHBoxLayout()
        head.addWidget(Label("Threads", objectName="PageTitle"))
        head.addStretch(1)
        self.new_button = QPushButton("+ New thread")
        head.addWidget(self.new_button)
        col.addLayout(head)
        self.search_box = SearchBox()
        col.addWidget(self.search_box)
        self.thread_view = QListView(objectName="Threads")
        self.thread_view.setMouseTracking(True)
        self.thread_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # titles elide
        self.thread_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.thread_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.search_results = search_results
        self.left_stack = QStackedWidget()  # the thread list, or the search results over it
        self.left_stack.addWidget(self.thread_view)
        self.left_stack.addWidget(self.search_results)
        col.addWidget(self.left_stack, 1)
        return left

    def _conversation_column(self) -> QWidget:
        right = QWidget()
        col = QVBoxLayout(right)
        col.setContentsMargins(6, 14, 14, 12)
        col.setSpacing(8)
        self.header = CollapsingHeader()
        header = self.header.row
        self.title_label = ElidedLabel("No thread yet", objectName="PageTitle")
        self.title_label.setMinimumWidth(60)
        header.addWidget(self.title_label, 1)
        self.connection_combo = QComboBox()
        # Shares spare width with the title and shrinks to ~10 characters (never below): with
        # AdjustToContents its minimum was the longest name, which overlapped the buttons in a small window.
        self.connection_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.connection_combo.setMinimumContentsLength(10)
        self.connection_combo.setMaximumWidth(340)
        self.connection_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.connection_combo.setToolTip("The connection this thread talks to")
        header.addWidget(self.connection_combo, 1)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Ask one question of several connections and see the replies side by side")
        header.addWidget(self.compare_button)
        self.settings_button = QPushButton("Settings")
        self.settings_button.setToolTip("This thread's connection, temperature, max tokens, stop sequences and "
                                        "system prompt addition")
        header.addWidget(self.settings_button)
        self.prompt_button = QPushButton("System prompt")
        self.prompt_button.setToolTip("Preview exactly what is sent as the system message")
        header.addWidget(self.prompt_button)
        self.export_button = QToolButton()
        self.export_button.setText("Export ▾")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_menu = QMenu(self.export_button)
        self.export_markdown_action = self.export_menu.addAction("As Markdown…")
        self.export_json_action = self.export_menu.addAction("As JSON…")
        self.export_button.setMenu(self.export_menu)
        header.addWidget(self.export_button)
        # In a narrow window the buttons fold into "⋯" (a squeezed button read "em pro", "E…▾").
        self.prompt_action = QAction("System prompt…", self)
        self.compare_action = QAction("Compare…", self)
        self.settings_action = QAction("Thread settings…", self)
        self.more_button = QToolButton(text="⋯")
        self.more_button.setToolTip("Compare, thread settings, system prompt, export")
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.more_menu = QMenu(self.more_button)
        self.more_menu.addAction(self.compare_action)
        self.more_menu.addAction(self.settings_action)
        self.more_menu.addAction(self.prompt_action)
        self.more_menu.addSeparator()
        self.more_menu.addAction(self.export_markdown_action)
        self.more_menu.addAction(self.export_json_action)
        self.more_button.setMenu(self.more_menu)
        header.addWidget(self.more_button)
        self.header.fold([self.compare_button, self.settings_button, self.prompt_button, self.export_button],
                         into=self.more_button,
                         keep=[self.title_label, self.connection_combo])
        col.addWidget(self.header)
        self.connection_note = Label("", objectName="Muted")
        col.addWidget(self.connection_note)

        self.view = TranscriptView()
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        col.addWidget(self.view, 1)
        self.empty_label = Label("", alignment=Qt.AlignmentFlag.AlignCenter, objectName="Muted")
        self.empty_label.setWordWrap(True)
        col.addWidget(self.empty_label)

        self.attach_bar = AttachBar()  # files waiting to be sent, the knowledge set
        col.addWidget(self.attach_bar)
        composer_row = QHBoxLayout()
        self.composer = Composer()
        composer_row.addWidget(self.composer, 1)
        self.send_button = QPushButton("Send")
        self.send_button.setProperty("primary", True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.hide()
        composer_row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        composer_row.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignBottom)
        col.addLayout(composer_row)
        return right

    def set_streaming(self, streaming: bool) -> None:
        """While a reply streams: Stop instead of Send, and nothing that would leave the thread."""
        self.send_button.setVisible(not streaming)
        self.stop_button.setVisible(streaming)
        self.composer.setReadOnly(streaming)
        self.new_button.setEnabled(not streaming)
        self.thread_view.setEnabled(not streaming)

    def set_empty_text(self, text: str) -> None:
        self.empty_label.setText(text)
        self.empty_label.setVisible(bool(text))
