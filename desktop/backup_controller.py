"""Backups in the window: automatic ones (every `every_minutes` when something changed, and on quit), and
the actions of Settings → Backups and File → Export all…, each a long job on ctx.jobs (progress, Cancel).

Something changed = a committed write to the open database since the last backup, the app's own or a
sync cycle's (the controller is one of the open database's change listeners). A restore goes through
the window's data-switch path (desktop.data_switch): pages stopped, database closed, restore with the app
lock held, database reopened, pages rebuilt. Migrations make their own archive (local_schema.prepare).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from desktop.bus import bus

log = logging.getLogger(__name__)


class BackupController(QObject):
    backups_changed = Signal()  # an archive was made, restored or removed: lists read the folder again
    verified = Signal(object, object)  # (path, local_schema.backup.verify.Verification)
    refused = Signal(str)  # a restore refused before anything was touched (another account's backup)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.ctx = window.ctx
        self.changed = False  # a write since the last backup
        self.running = None  # the automatic backup's job while it runs
        self._listened = None  # the database whose change listener is ours (between start and stop)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.tick)

    # -- settings and schedule --------------------------------------------------------------------------
    def settings(self):
        from local_schema.backup.settings import load_settings

        return load_settings(self.ctx.data_dir)

    def save_settings(self, settings) -> None:
        from local_schema.backup.settings import save_settings

        save_settings(self.ctx.data_dir, settings)
        self.start()

    def folder(self) -> Path:
        from local_schema.backup.settings import backups_dir

        return backups_dir(self.ctx.data_dir)

    def start(self) -> None:
        """(Re)arm the timer for the open database; called when it is ready and when settings change."""
        settings = self.settings()
        self._timer.stop()
        self._listen(self.ctx.db)
        if settings.automatic and self.ctx.db is not None:
            self._timer.start(settings.every_minutes * 60_000)

    def stop(self) -> None:
        self._timer.stop()
        self._listen(None)

    def _listen(self, db) -> None:
        if db is self._listened:
            return
        if self._listened is not None:
            self._listened.remove_change_listener(self._on_written)
        self._listened = db
        if db is not None:
            db.add_change_listener(self._on_written)

    def _on_written(self, _tables, _origin) -> None:
        """The database's change listener (the writing thread): a commit, the app's own or sync's."""
        self.changed = True

    def tick(self) -> None:
        """The timer: back up if something changed since the last backup (and none is running)."""
        if not self.changed or self.running is not None or self.ctx.db is None or not self.settings().automatic:
            return
        self.running = self.back_up("automatic")
        self.running.state_changed.connect(self._automatic_ended)

    def _automatic_ended(self, state: str) -> None:
        if state not in ("queued", "running"):
            self.running = None

    # -- actions (long jobs) -------------------------------------------------------------------------------
    def back_up(self, kind: str = "manual"):
        """Back up now as a long job; returns the Job. `changed` is cleared when it starts, so writes made
        while it runs count towards the next one."""
        from agent.backup.service import create_backup

        data_dir, db_path = self.ctx.data_dir, Path(self.ctx.db.path)
        self.changed = False

        def work(job):
            return create_backup(data_dir, kind=kind, database=db_path, progress=job.on_progress, check=job.check)

        job = self.ctx.jobs.submit("Backing up" if kind == "manual" else f"Backing up ({kind})", work)
        job.finished.connect(lambda archive: self._made(archive, kind))
        job.failed.connect(lambda exc: self._backup_failed(exc, kind))
        job.cancelled.connect(self._backup_cancelled)
        return job

    def _made(self, archive, kind: str) -> None:
        if kind == "manual":
            bus.notice.emit(f"Backed up to {archive.path.name}")
        self.backups_changed.emit()

    def _backup_failed(self, exc: BaseException, kind: str) -> None:
        self.changed = True  # still to be backed up
        bus.error.emit(f"The backup failed: {exc}")

    def _backup_cancelled(self) -> None:
        self.changed = True

    def backup_on_quit(self) -> None:
        """Called as the window closes (before the database does): one last automatic backup if something
        changed since the last one. Runs on the caller's thread: the window is gone by then."""
        from agent.backup.service import create_backup

        if not self.changed or self.ctx.db is None or not self.settings().automatic:
            return
        try:
            create_backup(self.ctx.data_dir, kind="automatic", database=Path(self.ctx.db.path))
            self.changed = False
        except Exception as exc:  # noqa: BLE001 - quitting must never fail; the next start backs up again
            log.warning("the backup on quit failed: %s", exc)

    def verify(self, path: Path):
        from agent.backup.service import verify_backup

        data_dir = self.ctx.data_dir
        job = self.ctx.jobs.submit(f"Verifying {Path(path).name}", lambda job: verify_backup(
            path, data_dir, progress=job.on_progress, check=job.check))
        job.finished.connect(lambda result: self.verified.emit(Path(path), result))
        return job

    def restore(self, path: Path):
        """Verify (a long job), then restore through the data switch. Returns the verification job."""
        job = self.verify(path)
        job.finished.connect(lambda result: self._restore_verified(Path(path), result))
        return job

    def _restore_verified(self, path: Path, verification) -> None:
        from agent.backup.service import check_account, restore_backup
        from local_schema.backup.archive import ArchiveProblem

        if not verification.sound:
            bus.error.emit(f"Not restored: {verification.reason}")
            return
        try:  # said before the pages are torn down for the switch
            check_account(self.ctx.data_dir, verification.manifest)
        except ArchiveProblem as exc:
            bus.error.emit(f"Not restored: {exc}")
            self.refused.emit(str(exc))
            return
        from desktop.data_switch import DataSwitch

        ctx = self.ctx
        held = ctx.app_lock is not None
        switch = DataSwitch(self.window, lambda: restore_backup(ctx.data_dir, path, app_lock_held=held),
                            "Restoring your data from the backup…")
        switch.done.connect(self._restored)
        switch.failed.connect(lambda exc: bus.error.emit(f"Not restored: {exc}"))
        self.restore_switch = switch.start()

    def _restored(self, restored) -> None:
        self.changed = False
        self.window.statusBar().showMessage(restored.summary(), 30_000)
        self.backups_changed.emit()

    def export_all(self, fmt: str, target: Path):
        from agent.backup.export_all import export_all

        db = self.ctx.db
        job = self.ctx.jobs.submit("Exporting all your data",
                                   lambda job: export_all(db, fmt, target, progress=job.on_progress, check=job.check))
        job.finished.connect(lambda result: bus.notice.emit(result.summary()))
        job.failed.connect(lambda exc: bus.error.emit(f"The export failed: {exc}"))
        return job
