"""The Catalogue tab: the public templates on the server — search, category, sort, pages, install.

Every request runs in a background op on the window's one SyncEngine (ctx.sync.engine), whose session
follows every sign-in and sign-out. Offline or signed out, the tab says so plainly instead of showing a list.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.ops import Op
from desktop.safe_text import Label

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1


def with_catalogue(ctx, fn):
    """Run fn(catalogue) with the signed-in user's catalogue, on the window's one sync engine (its
    session and secret store: signed in there means signed in here)."""
    from sync.catalogue import Catalogue

    return fn(Catalogue.for_engine(ctx.sync.engine))


def describe(entry) -> str:
    """The detail text of a catalogue entry: what installing it would bring, item by item (names and
    facts; the prompts stay with the template until installed)."""
    from agent.templates.text import describe_memory, describe_skills

    lines = [entry.name, "", entry.description or "(no description)", "",
             f"Category: {entry.category or '—'} · {entry.installs} install(s)"
             + (" · yours" if entry.mine else ""), ""]
    lines += describe_skills(entry.payload, prompts=False, heading=", installed as suggested:")
    lines.append("")
    lines += describe_memory(entry.payload, strengths=False,
                             heading=", added to your Atlas at 0.50 (what it already holds is skipped):")
    return "\n".join(lines)


class CatalogueTab(QWidget):
    installed = Signal(object)  # agent.templates.install.InstallResult
    page_shown = Signal()

    def __init__(self, ctx):
        super().__init__()
        from sync.catalogue import PAGE_SIZE

        self.ctx = ctx
        self.offset, self.page_size, self.page = 0, PAGE_SIZE, None
        self.categories: set[str] = set()
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 8, 0, 0)
        controls = QHBoxLayout()
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search the public catalogue")
        self.search_edit.returnPressed.connect(self.first_page)
        self.category_combo = QComboBox()
        self.category_combo.setEditable(True)
        self.category_combo.setMinimumWidth(150)
        self.category_combo.addItem("All categories", None)
        self.category_combo.activated.connect(lambda _i: self.first_page())
        self.category_combo.lineEdit().returnPressed.connect(self.first_page)
        self.sort_combo = QComboBox()
        self.sort_combo.addItem("Most installed", "installs")
        self.sort_combo.addItem("Newest", "recent")
        self.sort_combo.activated.connect(lambda _i: self.first_page())
        self.search_button = QPushButton("Search")
        self.search_button.clicked.connect(self.first_page)
        controls.addWidget(self.search_edit, 1)
        controls.addWidget(self.category_combo)
        controls.addWidget(self.sort_combo)
        controls.addWidget(self.search_button)
        box.addLayout(controls)
        self.notice = Label("", objectName="Muted")
        self.notice.setWordWrap(True)
        box.addWidget(self.notice)
        row = QHBoxLayout()
        self.list = QListWidget()
        self.list.currentItemChanged.connect(self._selected)
        row.addWidget(self.list, 2)
        right = QVBoxLayout()
        self.detail = QPlainTextEdit(readOnly=True)
        right.addWidget(self.detail, 1)
        self.install_button = QPushButton("Install")
        self.install_button.setProperty("primary", True)
        self.install_button.setEnabled(False)
        self.install_button.clicked.connect(self.install_current)
        right.addWidget(self.install_button, 0, Qt.AlignmentFlag.AlignRight)
        row.addLayout(right, 3)
        box.addLayout(row, 1)
        pager = QHBoxLayout()
        self.prev_button = QPushButton("◀ Previous")
        self.prev_button.clicked.connect(lambda: self.load(max(0, self.offset - self.page_size)))
        self.next_button = QPushButton("Next ▶")
        self.next_button.clicked.connect(lambda: self.load(self.offset + self.page_size))
        self.position = Label("", objectName="Muted")
        pager.addWidget(self.prev_button)
        pager.addWidget(self.position, 1, Qt.AlignmentFlag.AlignCenter)
        pager.addWidget(self.next_button)
        box.addLayout(pager)
        self.prev_button.setEnabled(False)
        self.next_button.setEnabled(False)
        self.loaded_once = False  # the page loads the first page when the tab is first shown

    # --- browsing -----------------------------------------------------------------------------------
    def query(self) -> tuple[str, str | None, str]:
        text = self.category_combo.currentText().strip()
        category = None if not text or text == "All categories" else text
        return self.search_edit.text(), category, self.sort_combo.currentData()

    def first_page(self) -> None:
        self.load(0)

    def load(self, offset: int) -> None:
        search, category, sort = self.query()
        size = self.page_size
        self.notice.setText("Loading the catalogue…")
        self.loaded_once = True
        Op(self, lambda: with_catalogue(self.ctx, lambda c: c.page(search, category, sort, offset, size)),
           "Browsing the catalogue").success(self._show).failure(self._unavailable).run()

    def _show(self, page) -> None:
        self.page, self.offset = page, page.offset
        self.list.clear()
        for entry in page.entries:
            text = (f"{entry.name}{'  (yours)' if entry.mine else ''}\n"
                    f"{entry.category or 'no category'} · {entry.skill_count} skills · "
                    f"{entry.memory_count} memories · {entry.installs} installs")
            item = QListWidgetItem(text)
            item.setData(ENTRY_ROLE, entry)
            self.list.addItem(item)
            if entry.category:
                self.categories.add(entry.category)
        self._fill_categories()
        shown = len(page.entries)
        total = page.total
        if shown:
            self.position.setText(f"{page.offset + 1}–{page.offset + shown}" + (f" of {total}" if total else ""))
            self.notice.setText("")
        else:
            self.position.setText("")
            self.notice.setText("No public template matches." if page.offset == 0 else "No more templates.")
        self.prev_button.setEnabled(page.offset > 0)
        self.next_button.setEnabled(page.has_more)
        self.detail.clear()
        self.install_button.setEnabled(False)
        if shown:
            self.list.setCurrentRow(0)
        self.page_shown.emit()

    def _fill_categories(self) -> None:
        current = self.category_combo.currentText()
        self.category_combo.blockSignals(True)
        self.category_combo.clear()
        self.category_combo.addItem("All categories", None)
        for category in sorted(self.categories, key=str.lower):
            self.category_combo.addItem(category, category)
        self.category_combo.setCurrentText(current)
        self.category_combo.blockSignals(False)

    def _unavailable(self, exc: BaseException) -> None:
        self.list.clear()
        self.detail.clear()
        self.position.setText("")
        self.prev_button.setEnabled(False)
        self.next_button.setEnabled(False)
        self.install_button.setEnabled(False)
        self.notice.setText(str(exc))  # "Offline: …", "Sign in to use the public catalogue …"
        self.page_shown.emit()

    def _selected(self, current, _previous) -> None:
        entry = current.data(ENTRY_ROLE) if current is not None else None
        self.detail.setPlainText(describe(entry) if entry else "")
        self.install_button.setEnabled(entry is not None)

    def current_entry(self):
        item = self.list.currentItem()
        return item.data(ENTRY_ROLE) if item is not None else None

    # --- installing ---------------------------------------------------------------------------------
    def install_current(self) -> None:
        entry = self.current_entry()
        if entry is not None:
            self.install(entry.id)

    def install(self, template_id: str) -> None:
        from agent.templates.install import install_from_catalogue

        db = self.ctx.db
        self.install_button.setEnabled(False)
        self.notice.setText("Installing…")
        Op(self, lambda: with_catalogue(self.ctx, lambda c: install_from_catalogue(db, c, template_id)),
           "Installing a template").success(self._installed).failure(self._install_failed).run()

    def _installed(self, result) -> None:
        self.notice.setText(result.summary())
        self.install_button.setEnabled(self.current_entry() is not None)
        self.installed.emit(result)

    def _install_failed(self, exc: BaseException) -> None:
        self.notice.setText(str(exc))
        self.install_button.setEnabled(self.current_entry() is not None)
