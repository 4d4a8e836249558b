"""The "New review" form of the Mirror page: title, the logs (Console threads picked from a list, or
pasted text), the connection under review, the reviewing connection, the budget, a live size preview
(characters, estimated tokens, which oldest parts are left out), and Run with progress and Cancel.

The form builds a ReviewSpec; the page previews it (an Op) and runs it (a long job)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from agent.mirror.request import MAX_BUDGET_TOKENS, MIN_BUDGET_TOKENS, ReviewSpec
from desktop.safe_text import Label

THREADS_TAB, PASTE_TAB = 0, 1


class ReviewForm(QWidget):
    changed = Signal()  # anything that changes what would be sent (debounced)
    run_clicked = Signal()
    cancel_clicked = Signal()
    budget_edited = Signal(int)

    def __init__(self):
        super().__init__()
        col = QVBoxLayout(self)
        col.setContentsMargins(4, 0, 0, 0)
        col.setSpacing(8)
        col.addWidget(Label("New review", objectName="PageTitle"))
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.title = QLineEdit(placeholderText="e.g. Coding help, last week")
        self.title.setMaxLength(500)
        form.addRow("Title", self.title)
        self.connection = QComboBox()
        self.connection.setToolTip("Whose behaviour is reviewed: its system prompt, memory and promoted skills are sent")
        form.addRow("Review", self.connection)
        self.reviewer = QComboBox()
        self.reviewer.setToolTip("The connection that writes the review (a stronger model can review a smaller one)")
        form.addRow("Reviewed by", self.reviewer)
        col.addLayout(form)

        self.source = QTabWidget()
        self.threads = QListWidget(objectName="MirrorThreads")
        self.threads.setToolTip("Tick the Console threads to review; their messages are sent with roles and times")
        self.source.addTab(self.threads, "Console threads")
        self.pasted = QPlainTextEdit(placeholderText="Paste logs here: any text, oldest at the top. "
                                                     "Blank lines separate the parts that can be left out.")
        self.source.addTab(self.pasted, "Paste logs")
        col.addWidget(self.source, 1)

        budget_row = QHBoxLayout()
        budget_row.addWidget(Label("Budget"))
        self.budget = QSpinBox()
        self.budget.setRange(MIN_BUDGET_TOKENS, MAX_BUDGET_TOKENS)
        self.budget.setSingleStep(1000)
        self.budget.setSuffix(" tokens")
        self.budget.setToolTip("Past this size (estimated tokens) the oldest parts of the logs are left out")
        budget_row.addWidget(self.budget)
        budget_row.addStretch(1)
        col.addLayout(budget_row)
        self.size = Label("", objectName="Muted")
        self.size.setWordWrap(True)
        self.size.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.size)

        run_row = QHBoxLayout()
        self.run_button = QPushButton("Run review")
        self.run_button.setProperty("primary", True)
        self.run_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.run_button.clicked.connect(self.run_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_clicked)
        self.cancel_button.hide()
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress, 1)
        run_row.addStretch(0)
        col.addLayout(run_row)
        self.status = Label("", objectName="Muted")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.status)

        self._debounce = QTimer(self, singleShot=True, interval=300)
        self._debounce.timeout.connect(self.changed)
        for signal in (self.title.textChanged, self.connection.currentIndexChanged, self.pasted.textChanged,
                       self.threads.itemChanged, self.source.currentChanged, self.budget.valueChanged):
            signal.connect(lambda *_args: self._debounce.start())  # not start(int): the args are no interval
        self.budget.editingFinished.connect(lambda: self.budget_edited.emit(self.budget.value()))
        self.running = False

    # -- filling ----------------------------------------------------------------------------------
    def set_connections(self, rows: list[tuple[str, str, str]]) -> None:
        """rows: (id, name, model). Keeps the current choices when they still exist."""
        keep, keep_reviewer = self.connection.currentData(), self.reviewer.currentData()
        for combo in (self.connection, self.reviewer):
            combo.blockSignals(True)
            combo.clear()
        self.reviewer.addItem("The same connection", "")
        for cid, name, model in rows:
            self.connection.addItem(f"{name} · {model}", cid)
            self.reviewer.addItem(f"{name} · {model}", cid)
        self.connection.setCurrentIndex(max(0, self.connection.findData(keep)))
        self.reviewer.setCurrentIndex(max(0, self.reviewer.findData(keep_reviewer)))
        for combo in (self.connection, self.reviewer):
            combo.blockSignals(False)
        self._debounce.start()

    def set_threads(self, threads) -> None:
        """threads: agent.chat.threads.ThreadSummary rows. Ticks survive a refresh."""
        ticked = set(self.checked_threads())
        self.threads.blockSignals(True)
        self.threads.clear()
        for t in threads:
            item = QListWidgetItem(f"{t.title}  ·  {t.message_count} message{'s' if t.message_count != 1 else ''}")
            item.setData(Qt.ItemDataRole.UserRole, t.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if t.id in ticked else Qt.CheckState.Unchecked)
            self.threads.addItem(item)
        self.threads.blockSignals(False)
        self._debounce.start()

    def checked_threads(self) -> list[str]:
        return [self.threads.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.threads.count())
                if self.threads.item(i).checkState() == Qt.CheckState.Checked]

    def set_checked(self, thread_ids: list[str]) -> None:
        for i in range(self.threads.count()):
            item = self.threads.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in thread_ids
                               else Qt.CheckState.Unchecked)

    def spec(self) -> ReviewSpec:
        """What Run would review, from the tab in front: threads or pasted text, never both."""
        threads = self.source.currentIndex() == THREADS_TAB
        return ReviewSpec(title=self.title.text().strip(), connection_id=self.connection.currentData() or "",
                          thread_ids=self.checked_threads() if threads else [],
                          pasted_logs="" if threads else self.pasted.toPlainText(),
                          reviewer_id=self.reviewer.currentData() or None, budget_tokens=self.budget.value())

    # -- preview and running ----------------------------------------------------------------------
    def show_preview(self, request) -> None:
        text = (f"{request.chars:,} characters · ~{request.tokens:,} tokens of a {self.budget.value():,}-token "
                f"budget · {len(request.included)} part{'s' if len(request.included) != 1 else ''} of the logs sent")
        left_out = request.omitted_summary()
        if left_out:
            text += "\nLeft out to fit the budget (the oldest): " + "; ".join(left_out)
        self.size.setText(text)
        self.size.setObjectName("Muted")
        self.size.style().polish(self.size)
        self.run_button.setEnabled(not self.running)

    def show_problem(self, message: str) -> None:
        self.size.setText(message)
        self.run_button.setEnabled(False)

    def set_running(self, running: bool, text: str = "") -> None:
        self.running = running
        self.run_button.setEnabled(not running)
        self.cancel_button.setVisible(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)
        self.status.setObjectName("Muted")
        self.status.style().polish(self.status)
        self.status.setText(text)

    def show_progress(self, done: int, total: int, text: str) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.status.setText(text)

    def show_error(self, text: str) -> None:
        self.status.setObjectName("Error")
        self.status.style().polish(self.status)
        self.status.setText(text)
