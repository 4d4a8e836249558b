"""Templates — yours (synced), the public catalogue (online), what you installed, and Publish.

Yours: visibility, export to a `.mirari-template.json` file, withdraw. Installed: each template that
brought you skills or memory, and exactly what it brought ("installed from"). Import file… installs a
template file after validating it like a publish; an invalid file writes nothing and says why.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.bus import bus
from desktop.ops import Op
from desktop.pages.protocol import PageHooks
from desktop.pages.templates.catalogue import CatalogueTab
from desktop.pages.templates.publish import PublishTab
from desktop.safe_text import Label, ask, tip
from local_schema.files import is_device_name

ID_ROLE = Qt.ItemDataRole.UserRole + 1


def load_own(db):
    """Runs on a pool thread: your templates and what installed templates brought."""
    from agent.templates.install import installed
    from agent.templates.publish import get_template, list_templates

    own = list_templates(db)
    documents = {}
    for info in own:  # exactly what each one shares, for the detail pane
        t = get_template(db, info.id)
        documents[info.id] = {"name": t.name, "description": t.description, "category": t.category,
                              "is_public": t.is_public, "payload": t.payload}
    return own, installed(db), documents


class TemplatesPage(QWidget, PageHooks):
    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.own: list = []
        self.installed: list = []
        self.documents: dict[str, dict] = {}
        page = QVBoxLayout(self)
        page.setContentsMargins(18, 14, 18, 14)
        head = QHBoxLayout()
        head.addWidget(Label("Templates", objectName="PageTitle"))
        head.addStretch(1)
        self.import_button = QPushButton("Import file…")
        self.import_button.setToolTip("Install a .mirari-template.json file (checked first; nothing in it runs)")
        self.import_button.clicked.connect(self.choose_import)
        head.addWidget(self.import_button)
        page.addLayout(head)
        self.notice = Label("", objectName="Muted")
        self.notice.setWordWrap(True)
        page.addWidget(self.notice)
        # What the last install or import skipped, item by item with the reason (plain text: the names
        # come from another author or a file).
        self.skipped_view = QPlainTextEdit(readOnly=True, objectName="SkippedItems")
        self.skipped_view.setMaximumHeight(130)
        self.skipped_view.setVisible(False)
        page.addWidget(self.skipped_view)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._yours_tab(), "Yours")
        self.catalogue = CatalogueTab(ctx)
        self.tabs.addTab(self.catalogue, "Catalogue")
        self.installed_tree = QTreeWidget()
        self.installed_tree.setHeaderLabels(["Installed from", "Brought", "Status"])
        self.installed_tree.setColumnWidth(0, 320)
        self.installed_tree.setColumnWidth(1, 360)
        self.tabs.addTab(self.installed_tree, "Installed")
        self.publish_tab = PublishTab(ctx)
        self.publish_tab.published.connect(self._published)
        self.tabs.addTab(self.publish_tab, "Publish")
        self.tabs.currentChanged.connect(self._tab_changed)
        page.addWidget(self.tabs, 1)
        self.catalogue.installed.connect(self._catalogue_installed)
        self._style()
        bus.changed.connect(self._on_changed)
        bus.theme_changed.connect(self._style)
        self.refresh()

    def _yours_tab(self) -> QWidget:
        tab = QWidget()
        row = QHBoxLayout(tab)
        row.setContentsMargins(0, 8, 0, 0)
        self.own_list = QListWidget()
        self.own_list.currentItemChanged.connect(self._own_selected)
        row.addWidget(self.own_list, 2)
        right = QVBoxLayout()
        self.own_detail = QPlainTextEdit(readOnly=True)
        right.addWidget(self.own_detail, 1)
        buttons = QHBoxLayout()
        self.visibility_button = QPushButton("Make public")
        self.visibility_button.clicked.connect(self.toggle_public)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.choose_export)
        self.withdraw_button = QPushButton("Withdraw")
        self.withdraw_button.setToolTip("Delete this template (it leaves the catalogue; installs stay with "
                                        "their owners)")
        self.withdraw_button.clicked.connect(lambda: self.withdraw(confirm=True))
        for button in (self.visibility_button, self.export_button, self.withdraw_button):
            button.setEnabled(False)
            buttons.addWidget(button)
        buttons.addStretch(1)
        right.addLayout(buttons)
        row.addLayout(right, 3)
        self.own_empty = Label("No templates yet: bundle skills and memory in the Publish tab.", objectName="Muted")
        right.addWidget(self.own_empty)
        return tab

    # --- data ---------------------------------------------------------------------------------------
    def refresh(self) -> None:
        Op(self, lambda: load_own(self.ctx.db), "Loading templates").success(self._show).run()

    def _style(self, _colors=None) -> None:
        """Two-line rows need air; the pick lists' check boxes look like the app's other check boxes
        (the theme styles QCheckBox, not the boxes inside item views), in both themes."""
        from desktop.theme import colors

        c = colors()
        self.setStyleSheet(
            "QListWidget::item { padding: 5px 8px; }"
            f"QListWidget::indicator {{ width: 13px; height: 13px; border: 1px solid {c.muted}; border-radius: 3px;"
            f" background: {c.panel}; }}"
            f"QListWidget::indicator:checked {{ background: {c.accent}; border-color: {c.accent}; }}")

    def _on_changed(self, tables, _origin) -> None:
        tables = set(tables)
        if {"templates", "skills", "memory_nodes", "installed_templates"} & tables:
            self.refresh()
        if {"skills", "memory_nodes"} & tables:
            self.publish_tab.refresh()

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.catalogue and not self.catalogue.loaded_once:
            self.catalogue.first_page()

    def _show(self, result) -> None:
        self.own, self.installed, self.documents = result
        selected = self.current_own_id()
        self.own_list.clear()
        for t in self.own:
            state = ("public" if t.is_public else "private") + (" · waiting to sync" if t.waiting else "")
            item = QListWidgetItem(f"{t.name}\n{state} · {_plural(t.skill_count, 'skill')} · "
                                   f"{_plural(t.memory_count, 'memory', 'memories')} · {_installs(t.installs)}")
            item.setData(ID_ROLE, t.id)
            self.own_list.addItem(item)
            if t.id == selected:
                self.own_list.setCurrentItem(item)
        self.own_empty.setVisible(not self.own)
        if self.own_list.currentItem() is None and self.own:
            self.own_list.setCurrentRow(0)
        self._own_selected(self.own_list.currentItem(), None)
        self._show_installed()

    def _show_installed(self) -> None:
        self.installed_tree.clear()
        for view in self.installed:
            how = {"catalogue": "from the catalogue", "file": "from a file"}.get(view.origin or "", "on another device")
            top = QTreeWidgetItem([view.name, f"{len(view.items)} item(s), installed {how}", ""])
            top.setData(0, ID_ROLE, view.template_id)
            top.setToolTip(0, tip(f"template {view.template_id}"))
            for item in view.items:
                kind = "Skill" if item.kind == "skill" else "Memory"
                child = QTreeWidgetItem([f"Installed from {view.name}", f"{kind}: {item.text}", item.status or ""])
                child.setData(0, ID_ROLE, item.id)
                top.addChild(child)
            self.installed_tree.addTopLevelItem(top)
            top.setExpanded(True)
        if not self.installed:
            self.installed_tree.addTopLevelItem(QTreeWidgetItem(["Nothing installed yet", "", ""]))

    def current_own_id(self) -> str | None:
        item = self.own_list.currentItem()
        return item.data(ID_ROLE) if item is not None else None

    def _own_selected(self, current, _previous) -> None:
        template_id = current.data(ID_ROLE) if current is not None else None
        info = next((t for t in self.own if t.id == template_id), None)
        for button in (self.visibility_button, self.export_button, self.withdraw_button):
            button.setEnabled(info is not None)
        if info is None:
            self.own_detail.clear()
            return
        from agent.templates.text import describe_template

        self.visibility_button.setText("Make private" if info.is_public else "Make public")
        status = ("Public" if info.is_public else "Private") + f" · {_installs(info.installs)}" + (
            " · waiting to sync" if info.waiting else "") + (f" · category: {info.category}" if info.category else "")
        self.own_detail.setPlainText(describe_template(self.documents.get(template_id) or {}, status=status))

    # --- actions ------------------------------------------------------------------------------------
    def _published(self, template_id: str) -> None:
        self.notice.setText("Published. It reaches the server with the next sync.")
        self.tabs.setCurrentIndex(0)
        self.refresh()

    def toggle_public(self) -> None:
        from agent.templates.publish import set_public

        info = next((t for t in self.own if t.id == self.current_own_id()), None)
        if info is None:
            return
        Op(self, lambda: set_public(self.ctx.db, info.id, not info.is_public), "Changing visibility").success(
            lambda _t: self.refresh()).failure(self._failed).run()

    def withdraw(self, confirm: bool = True) -> None:
        from agent.templates.publish import delete_template

        info = next((t for t in self.own if t.id == self.current_own_id()), None)
        if info is None:
            return
        if confirm and ask(
                self, "Withdraw template", f"Withdraw “{info.name}”? It leaves the catalogue; what others "
                "installed from it stays theirs.") != QMessageBox.StandardButton.Yes:
            return
        Op(self, lambda: delete_template(self.ctx.db, info.id), "Withdrawing a template").success(
            lambda _r: self.refresh()).failure(self._failed).run()

    def choose_export(self) -> None:
        from agent.templates.publish import FILE_SUFFIX

        info = next((t for t in self.own if t.id == self.current_own_id()), None)
        if info is None:
            return
        start = Path(self.ctx.settings.export_dir or Path.home()) / f"{_file_stem(info.name)}{FILE_SUFFIX}"
        path, _ = QFileDialog.getSaveFileName(self, "Export template", str(start),
                                              f"MIRARI templates (*{FILE_SUFFIX})")
        if path:
            self.export(info.id, path)

    def export(self, template_id: str, path: str) -> None:
        from agent.templates.publish import export_template

        Op(self, lambda: export_template(self.ctx.db, template_id, path), "Exporting a template").success(
            lambda p: self.notice.setText(f"Exported to {p}")).failure(self._failed).run()

    def choose_import(self) -> None:
        from agent.templates.publish import FILE_SUFFIX

        path, _ = QFileDialog.getOpenFileName(self, "Import template", str(self.ctx.settings.export_dir or Path.home()),
                                              f"MIRARI templates (*{FILE_SUFFIX});;JSON (*.json)")
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> None:
        from agent.templates.install import import_file

        self.skipped_view.setVisible(False)

        Op(self, lambda: import_file(self.ctx.db, path), "Importing a template").success(
            self._imported).failure(self._import_failed).run()

    def _imported(self, result) -> None:
        self.notice.setText(result.summary())
        self.show_skipped(result)
        if result.skills_added or result.nodes_added:
            self.tabs.setCurrentWidget(self.installed_tree)
        self.refresh()

    def _catalogue_installed(self, result) -> None:
        self.show_skipped(result)
        self.refresh()

    def show_skipped(self, result) -> None:
        """List what an install or import left out, and why (hidden when nothing was skipped)."""
        lines = ["  • " + s.line() for s in result.skipped] + ([result.note] if result.note else [])
        if result.skipped:
            lines.insert(0, f"Skipped from “{result.name}” ({len(result.skipped)}):")
        self.skipped_view.setPlainText("\n".join(lines))
        self.skipped_view.setVisible(bool(lines))

    def _import_failed(self, exc: BaseException) -> None:
        problems = getattr(exc, "problems", None) or [str(exc)]
        self.notice.setText("Not imported — nothing was written. " + "; ".join(problems[:3])
                            + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""))

    def _failed(self, exc: BaseException) -> None:
        self.notice.setText(str(exc))


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _installs(n: int) -> str:
    return _plural(n, "install")


def _file_stem(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_ " else " " for ch in name).strip()
    stem = "-".join(keep.lower().split())[:60] or "template"
    return f"template-{stem}" if is_device_name(stem) else stem  # "nul.mirari.json" is no file on Windows
