"""Settings → Backups: the backups in the folder (date, kind, size, what they hold), Back up now, Verify,
Restore…, Open folder, and the schedule, thinning and folder settings.

Reading the folder (a manifest per archive) runs in an Op; backing up, verifying and restoring are long
jobs of the window's BackupController. Everything shown from an archive is plain text.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from desktop.ops import Op
from desktop.safe_text import Label, message_box, tip

COLUMNS = ("Date", "Kind", "Size", "Contents")


def _size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3)):,} KB"


def _when(created_at: str | None) -> str:
    from datetime import datetime

    try:
        return datetime.fromisoformat(created_at).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return "?"


class BackupsCard(QFrame):
    def __init__(self, ctx, controller):
        super().__init__(objectName="Card")
        self.ctx, self.controller = ctx, controller
        self.entries = []
        col = QVBoxLayout(self)
        col.setContentsMargins(18, 14, 18, 14)
        heading = Label("Backups")
        heading.setStyleSheet("font-weight: 600; font-size: 14px;")
        col.addWidget(heading)
        self.folder_label = Label("", objectName="Muted")
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.folder_label)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        for i in range(3):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(200)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        col.addWidget(self.table)

        row = QHBoxLayout()
        self.backup_button = QPushButton("Back up now")
        self.backup_button.clicked.connect(self.back_up_now)
        self.verify_button = QPushButton("Verify")
        self.verify_button.clicked.connect(self.verify_selected)
        self.restore_button = QPushButton("Restore…")
        self.restore_button.setToolTip("Replace your data with the selected backup (your data is backed up first)")
        self.restore_button.clicked.connect(self.restore_selected)
        self.open_button = QPushButton("Open folder")
        self.open_button.clicked.connect(self.open_folder)
        for button in (self.backup_button, self.verify_button, self.restore_button, self.open_button):
            row.addWidget(button)
        row.addStretch(1)
        col.addLayout(row)
        self.result_label = Label("", objectName="Muted")
        self.result_label.setWordWrap(True)
        col.addWidget(self.result_label)

        settings = controller.settings()
        schedule = QHBoxLayout()
        self.automatic = QCheckBox("Back up automatically every")
        self.automatic.setChecked(settings.automatic)
        self.every = QSpinBox(minimum=5, maximum=24 * 60, suffix=" min")
        self.every.setValue(settings.every_minutes)
        schedule.addWidget(self.automatic)
        schedule.addWidget(self.every)
        schedule.addWidget(Label("when something changed, and on quit"))
        schedule.addStretch(1)
        col.addLayout(schedule)
        keep = QHBoxLayout()
        keep.addWidget(Label("Keep"))
        self.daily = QSpinBox(minimum=0, maximum=366, suffix=" daily")
        self.weekly = QSpinBox(minimum=0, maximum=520, suffix=" weekly")
        self.monthly = QSpinBox(minimum=0, maximum=1200, suffix=" monthly")
        for box, value in ((self.daily, settings.keep_daily), (self.weekly, settings.keep_weekly),
                           (self.monthly, settings.keep_monthly)):
            box.setValue(value)
            keep.addWidget(box)
        keep.addWidget(Label("(today's and yesterday's all; yours are never removed)", objectName="Muted"))
        keep.addStretch(1)
        col.addLayout(keep)
        where = QHBoxLayout()
        self.choose_button = QPushButton("Change folder…")
        self.choose_button.clicked.connect(self.choose_folder)
        self.default_button = QPushButton("Use the default folder")
        self.default_button.clicked.connect(self.use_default_folder)
        where.addWidget(self.choose_button)
        where.addWidget(self.default_button)
        where.addStretch(1)
        col.addLayout(where)
        for box in (self.every, self.daily, self.weekly, self.monthly):
            box.valueChanged.connect(self._save)
        self.automatic.toggled.connect(self._save)

        controller.backups_changed.connect(self.refresh)
        controller.verified.connect(self._show_verification)
        controller.refused.connect(lambda reason: self.result_label.setText(f"Not restored: {reason}"))
        self._show_folder()
        self._selection_changed()
        self.refresh()

    # -- the list -----------------------------------------------------------------------------------------
    def refresh(self) -> None:
        from agent.backup.service import list_backups

        data_dir = self.ctx.data_dir
        Op(self, lambda: list_backups(data_dir), "Reading the backups").success(self._show).run()

    def _show(self, entries) -> None:
        keep = self.selected()
        self.entries = entries
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            if entry.problem:
                cells = ("?", "unreadable", _size(entry.size), entry.problem)
            else:
                who = f"  [{entry.account}]" if entry.account else ""
                cells = (_when(entry.created_at), entry.kind or "?", _size(entry.size), entry.summary() + who)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(str(text))
                item.setToolTip(tip(str(entry.path)))
                self.table.setItem(row, column, item)
        paths = [e.path for e in entries]
        self.table.selectRow(paths.index(keep.path) if keep is not None and keep.path in paths else 0)
        self._selection_changed()

    def selected(self):
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows and rows[0].row() < len(self.entries) else None

    def _selection_changed(self) -> None:
        entry = self.selected()
        self.verify_button.setEnabled(entry is not None)
        self.restore_button.setEnabled(entry is not None and entry.problem is None)

    def _show_folder(self) -> None:
        folder = self.controller.folder()
        self.folder_label.setText(f"Folder: {folder}. A backup holds the whole database and the attachments' "
                                  "files, checked by a sha256 of each; never your API keys.")

    # -- actions ------------------------------------------------------------------------------------------
    def back_up_now(self):
        self.result_label.setText("Backing up…")
        job = self.controller.back_up("manual")
        job.finished.connect(lambda archive: self.result_label.setText(f"Backed up: {archive.path.name}"))
        job.failed.connect(lambda exc: self.result_label.setText(f"The backup failed: {exc}"))
        return job

    def verify_selected(self):
        entry = self.selected()
        if entry is None:
            return None
        self.result_label.setText(f"Verifying {entry.path.name}…")
        return self.controller.verify(entry.path)

    def _show_verification(self, path: Path, result) -> None:
        if result.sound:
            self.result_label.setText(f"{path.name} is sound: every file's sha256 matches, the database passes "
                                      "SQLite's integrity check and holds the rows its manifest lists.")
        else:
            self.result_label.setText(f"{path.name} is not sound: " + "; ".join(result.problems))

    def restore_selected(self, confirm: bool = True):
        entry = self.selected()
        if entry is None or entry.problem is not None:
            return None
        if confirm and not self._confirm_restore(entry):
            return None
        self.result_label.setText(f"Checking {entry.path.name} before restoring it…")
        return self.controller.restore(entry.path)

    def _confirm_restore(self, entry) -> bool:
        signed_in = self.ctx.account_email is not None
        text = (f"Replace your data with the backup of {_when(entry.created_at)} ({entry.summary()})?\n\n"
                "Your data as it is now is backed up first (a “before restore” backup), so this can be undone.")
        if signed_in:
            text += ("\n\nYou are signed in: what your other devices changed since this backup stays, and is "
                     "pulled again. Changes that were waiting in the backup are held in the Sync panel for you "
                     "to Retry or Discard; nothing old is sent over newer data.")
        box = message_box(QMessageBox.Icon.Question, "Restore from a backup", text, self)
        go = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is go

    def open_folder(self) -> None:
        folder = self.controller.folder()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    # -- settings -----------------------------------------------------------------------------------------
    def _save(self) -> None:
        settings = self.controller.settings()
        settings.automatic = self.automatic.isChecked()
        settings.every_minutes = self.every.value()
        settings.keep_daily, settings.keep_weekly = self.daily.value(), self.weekly.value()
        settings.keep_monthly = self.monthly.value()
        self.controller.save_settings(settings)

    def choose_folder(self, folder: str | None = None) -> None:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Folder for backups", str(self.controller.folder()))
        if not folder:
            return
        self.set_folder(folder)

    def use_default_folder(self) -> None:
        self.set_folder("")

    def set_folder(self, folder: str) -> None:
        settings = self.controller.settings()
        settings.folder = folder
        self.controller.save_settings(settings)
        self._show_folder()
        self.refresh()
