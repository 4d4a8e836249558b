"""◇ Knowledge: folders of files indexed on this device (agent.knowledge). Add a folder, see each set with
its files, passages and last index, reindex as a long job (progress, Cancel), remove, and search a set:
passages with file:line. Everything shown is plain text (file names and passages come from outside).
This module is the controller over KnowledgeView (view.py), which holds the widgets."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QListWidgetItem, QTableWidgetItem

from desktop.bus import bus
from desktop.ops import Op
from desktop.pages.knowledge.view import KnowledgeView
from desktop.pages.protocol import PageHooks

TABLES = frozenset({"knowledge_sets", "knowledge_files", "knowledge_chunks"})
SNIPPET_LINES = 4


def _when(stamp: str | None) -> str:
    if not stamp:
        return "never"
    return stamp[:16].replace("T", " ") + " UTC"


class KnowledgePage(KnowledgeView, PageHooks):
    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.job = None
        self.sets: list = []
        self._search_seq = 0
        self._set_running(False)
        self._wire()
        self.refresh()

    def _wire(self) -> None:
        self.choose_button.clicked.connect(self._choose_folder)
        self.add_button.clicked.connect(self.add_folder)
        self.reindex_button.clicked.connect(self.reindex_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.cancel_button.clicked.connect(self.cancel)
        self.search_edit.returnPressed.connect(self.search)
        self.search_button.clicked.connect(self.search)
        bus.changed.connect(self._on_changed)

    # -- sets ------------------------------------------------------------------------------------
    def refresh(self) -> None:
        from agent.knowledge.index import list_sets

        db = self.ctx.db
        Op(self, lambda: list_sets(db), "Reading knowledge sets").success(self._show_sets).run()

    def _show_sets(self, sets) -> None:
        selected = self.selected_name()
        self.sets = sets
        self.table.setRowCount(len(sets))
        for row, item in enumerate(sets):
            values = (item.name, item.folder, f"{item.files:,}", f"{item.passages:,}", f"{item.skipped:,}",
                      _when(item.indexed_at))
            for column, value in enumerate(values):
                cell = QTableWidgetItem(value)  # plain text
                if column in (2, 3, 4):
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, cell)
            if item.name == selected:
                self.table.selectRow(row)
        if self.table.currentRow() < 0 and sets:
            self.table.selectRow(0)
        self.empty.setVisible(not sets)
        current = self.search_set.currentText()
        self.search_set.clear()
        self.search_set.addItems([s.name for s in sets])
        if current:
            self.search_set.setCurrentText(current)

    def selected_name(self) -> str | None:
        row = self.table.currentRow()
        return self.sets[row].name if 0 <= row < len(self.sets) else None

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Knowledge folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            if not self.name_edit.text().strip():
                from pathlib import Path

                self.name_edit.setText(Path(folder).name)

    def add_folder(self) -> None:
        from agent.knowledge.index import add_set

        name, folder, db = self.name_edit.text(), self.folder_edit.text().strip(), self.ctx.db
        Op(self, lambda: add_set(db, name, folder), "Adding a knowledge folder") \
            .success(lambda _id: self._added(" ".join(name.split()))) \
            .failure(lambda exc: self.status.setText(str(exc))) \
            .run()

    def _added(self, name: str) -> None:
        self.name_edit.clear()
        self.folder_edit.clear()
        self.reindex(name)

    def remove_selected(self) -> None:
        from agent.knowledge.index import remove_set

        name, db = self.selected_name(), self.ctx.db
        if name is None or (self.job is not None and self.job.active):
            return
        Op(self, lambda: remove_set(db, name), "Removing a knowledge set") \
            .success(lambda _r: self._removed(name)).run()

    def _removed(self, name: str) -> None:
        self.status.setText(f"Removed {name} (its files are untouched).")
        self.results.clear()
        self.refresh()

    # -- reindex (a long job) ---------------------------------------------------------------------
    def reindex_selected(self) -> None:
        name = self.selected_name()
        if name is not None:
            self.reindex(name)

    def reindex(self, name: str) -> None:
        from agent.knowledge.index import reindex

        if self.job is not None and self.job.active:
            return
        db = self.ctx.db
        self.job = self.ctx.jobs.submit(f"Indexing {name}", lambda job_ctx: reindex(db, name, job_ctx),
                                        initiator=self)  # the job announces the passages it wrote
        self._set_running(True, f"Indexing {name}…")
        self.job.progressed.connect(self._show_progress)
        self.job.finished.connect(self._indexed)
        self.job.failed.connect(lambda exc: self._ended(str(exc)))
        self.job.cancelled.connect(lambda: self._ended("Cancelled."))

    def cancel(self) -> None:
        if self.job is not None and self.job.active:
            self.ctx.jobs.cancel(self.job)

    def _show_progress(self, done: int, total: int, text: str) -> None:
        scale = max(1, total // 1_000_000 + 1)  # a QProgressBar holds an int: megabytes past 2 GB
        self.progress.setRange(0, max(1, total // scale))
        self.progress.setValue(done // scale)
        self.progress_label.setText(text)

    def _indexed(self, report) -> None:
        if report.cancelled:
            self._ended(f"Cancelled: {report.read} files indexed before Cancel are kept.")
        else:
            self._ended(f"{report.name}: {report.files:,} files — {report.read:,} read, {report.unchanged:,} "
                        f"unchanged, {report.removed:,} removed, {report.skipped:,} skipped; "
                        f"{report.passages:,} passages written.")

    def _ended(self, message: str) -> None:
        self._set_running(False)
        self.status.setText(message)
        self.refresh()

    def _set_running(self, running: bool, text: str = "") -> None:
        for widget in (self.progress, self.cancel_button):
            widget.setVisible(running)
        self.reindex_button.setEnabled(not running)
        self.remove_button.setEnabled(not running)
        self.progress_label.setText(text)
        if running:
            self.progress.setRange(0, 0)

    # -- search ----------------------------------------------------------------------------------
    def search(self) -> None:
        from agent.knowledge.search import search

        name, query, db = self.search_set.currentText(), self.search_edit.text(), self.ctx.db
        if not name or not query.strip():
            self.results.clear()
            return
        self._search_seq += 1
        seq = self._search_seq
        Op(self, lambda: search(db, name, query, 20), "Searching knowledge") \
            .success(lambda passages: self._show_results(seq, passages)) \
            .failure(lambda exc: self.status.setText(str(exc))).run()

    def _show_results(self, seq: int, passages) -> None:
        if seq != self._search_seq:
            return  # a newer search is on its way
        self.results.clear()
        if not passages:
            self.results.addItem(QListWidgetItem("No passages match."))
        for passage in passages:
            lines = passage.text.splitlines()
            snippet = "\n".join(f"    {line}" for line in lines[:SNIPPET_LINES])
            more = "\n    …" if len(lines) > SNIPPET_LINES else ""
            self.results.addItem(QListWidgetItem(f"{passage.source}\n{snippet}{more}"))  # plain text, no tooltip

    def _on_changed(self, tables, _origin=None) -> None:
        if TABLES & set(tables) and _origin is not self:
            self.refresh()
