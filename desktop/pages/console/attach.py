"""Attachments and knowledge in the Console: files dropped on the composer, an image pasted into it, or
picked with the paperclip are read and checked in the background (agent.attachments.reading: a refused
file is a clear error and never becomes a chip), wait as chips above the composer (× removes one) and go
with the next message; the knowledge selector names the set whose passages the next turns carry.

A chip under a message opens its attachment: the local copy, else downloaded through Storage first —
always in the background — then copied under its own name into a temporary folder and handed to the
system's viewer. A citation opens its file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QObject, QUrl
from PySide6.QtGui import QDesktopServices, QImage, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog

from desktop.bus import bus
from desktop.ops import Op

MAX_PENDING = 10  # files waiting for one message


def choose_files(parent) -> list[str]:
    """The paperclip's file dialog (tests replace it)."""
    paths, _ = QFileDialog.getOpenFileNames(parent, "Attach files")
    return paths


def open_path(path: Path) -> bool:
    """Hand a file to the system's viewer (tests replace it)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def pending_chips(files) -> tuple:
    """The chips a message being sent shows until it is read back with its stored attachments."""
    from desktop.message_extras import AttachmentChip

    return tuple(AttachmentChip("", f.name, f.mime_type, f.size, "", True) for f in files)


def storage_of(ctx):
    """() -> the signed-in account's Storage client, or None (signed out: the error then says so)."""
    def storage():
        sync = getattr(ctx, "sync", None)
        engine = getattr(sync, "engine", None) if sync is not None else None
        return engine.storage() if engine is not None and ctx.account_email else None
    return storage


class AttachController(QObject):
    def __init__(self, page):
        super().__init__(page)
        self.page = page
        self.bar = page.attach_bar
        self.files: list = []  # agent.attachments.reading.PreparedFile, in the order added
        self._taken: list = []  # the files of the message being sent, until its turn has stored them
        self._reading = 0
        self.bar.paperclip.clicked.connect(self.pick)
        self.bar.knowledge_combo.currentIndexChanged.connect(self._remember_knowledge)
        page.composer.setAcceptDrops(True)
        page.composer.installEventFilter(self)
        page.composer.viewport().installEventFilter(self)
        self.bar.show_chips([])
        bus.changed.connect(self._on_changed)
        page.turns.turn_finished.connect(lambda _result: self._taken.clear())  # stored with their message
        self.refresh_knowledge()

    @property
    def busy(self) -> bool:
        """Files are still being read: sending now would leave them out."""
        return self._reading > 0

    # --- adding --------------------------------------------------------------------------------
    def pick(self) -> None:
        paths = choose_files(self.page)
        if paths:
            self.add_paths(paths)

    def add_paths(self, paths: list[str]) -> None:
        from agent.attachments.reading import read_file

        settings = self.settings()
        for path in paths[: max(0, MAX_PENDING - len(self.files))]:
            self._read(lambda p=path: read_file(p, settings), Path(path).name)
        if len(paths) > MAX_PENDING - len(self.files):
            bus.error.emit(f"At most {MAX_PENDING} files go with one message.")

    def add_image(self, image: QImage, name: str = "pasted image.png") -> None:
        settings, image = self.settings(), QImage(image)  # a copy the worker owns

        def encode_and_check():  # a screenshot's PNG takes a while to encode: off the UI thread (QImage may)
            from agent.attachments.reading import prepare_bytes

            data = QByteArray()
            buffer = QBuffer(data)
            buffer.open(QIODevice.OpenModeFlag.WriteOnly)
            image.save(buffer, "PNG")
            return prepare_bytes(name, bytes(data.data()), settings)

        self._read(encode_and_check, name)

    def _read(self, read, name: str) -> None:
        self._reading += 1

        def done(prepared) -> None:
            self._reading -= 1
            if len(self.files) < MAX_PENDING:
                self.files.append(prepared)
                self._show()

        def refused(exc: BaseException) -> None:
            self._reading -= 1
            bus.error.emit(f"Not attached: {exc}")

        Op(self, read, f"Reading {name}").success(done).failure(refused).run()

    def remove(self, index: int) -> None:
        if 0 <= index < len(self.files):
            del self.files[index]
            self._show()

    def take(self) -> list:
        """The files for the message being sent; the chips go (restore() puts them back on a crash)."""
        files, self.files = self.files, []
        self._taken = list(files)
        self._show()
        return files

    def restore(self) -> None:
        if self._taken and not self.files:
            self.files, self._taken = self._taken, []
            self._show()

    def _show(self) -> None:
        items = [(f.name, f"{f.mime_type} · {f.size:,} bytes") for f in self.files]
        for chip in self.bar.show_chips(items):
            chip.remove.connect(self.remove)

    def settings(self):
        from agent.attachments.settings import load_settings

        return load_settings(self.page.ctx.data_dir)

    # --- drop and paste ------------------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and self._wanted(event.mimeData()):
            event.acceptProposedAction()
            return True
        if kind == QEvent.Type.Drop and self._wanted(event.mimeData()):
            event.acceptProposedAction()
            self._take_mime(event.mimeData())
            return True
        if kind == QEvent.Type.KeyPress and event.matches(QKeySequence.StandardKey.Paste):
            mime = QApplication.clipboard().mimeData()
            if mime is not None and self._wanted(mime):
                self._take_mime(mime)
                return True
        return False

    @staticmethod
    def _wanted(mime) -> bool:
        return mime.hasImage() or any(url.isLocalFile() for url in mime.urls())

    def _take_mime(self, mime) -> None:
        paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
        if paths:
            self.add_paths(paths)
        elif mime.hasImage():
            image = QImage(mime.imageData())
            if not image.isNull():
                self.add_image(image)

    # --- knowledge -----------------------------------------------------------------------------
    def knowledge(self) -> list[str]:
        name = self.bar.knowledge()
        return [name] if name else []

    def refresh_knowledge(self) -> None:
        db = self.page.ctx.db

        def names():
            from agent.knowledge.index import list_sets

            return [s.name for s in list_sets(db)]

        keep = self.bar.knowledge() or self.page.ctx.extras.get("console_knowledge")
        Op(self, names, "Loading knowledge sets").success(
            lambda found: self.bar.set_knowledge_sets(found, keep)).run()

    def _remember_knowledge(self, *_args) -> None:
        self.page.ctx.extras["console_knowledge"] = self.bar.knowledge()

    def _on_changed(self, tables, _initiator) -> None:
        if "knowledge_sets" in set(tables):
            self.refresh_knowledge()

    # --- opening ----------------------------------------------------------------------------------
    def open_chip(self, kind: str, value) -> None:
        if kind == "attachment" and not value.id:
            return  # the message is still being stored
        if kind == "citation":
            if value.file.is_file():
                open_path(value.file)
                bus.notice.emit(f"Opened {value.source}")
            else:
                bus.error.emit(f"{value.file} is no longer there.")
            return
        db, storage = self.page.ctx.db, storage_of(self.page.ctx)

        def fetch() -> Path:
            from agent.attachments.store import copy_to
            from sync import attachments as blobs

            client = None
            if blobs.local_copy(blobs.store_root(db), value.sha256, value.size) is None:
                client = storage()  # the download happens here, in the background
            folder = Path(tempfile.mkdtemp(prefix="mirari-open-"))
            return copy_to(db, value.id, folder, client)

        def opened(path: Path) -> None:
            open_path(path)
            if not value.local:
                self.page.transcript_ctl.refresh()  # the chip loses its ⤓ and an image shows its thumbnail

        Op(self, fetch, f"Opening {value.name}").success(opened).failure(
            lambda exc: bus.error.emit(f"Could not open {value.name}: {exc}")).run()
