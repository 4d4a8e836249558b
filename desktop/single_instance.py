"""One window per data dir: a second start of MIRARI with the same data dir brings the running window
to the front and exits, instead of opening a second window on the same files (which could not hold the
data dir's app lock, and would fight the first over sync).

The running window listens on a QLocalServer named after the data dir (and the user); a new start first
knocks there. The data dir's app lock (sync.accounts.app_lock) stays the arbiter: a start that gets no
answer but cannot take the lock either (a window still starting, or another process using the folder)
says plainly that the data is open elsewhere, and opens nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

KNOCK = b"show\n"
ANSWER = b"shown\n"
KNOCK_TIMEOUT_MS = 1000
STARTING_WAIT = 3.0  # seconds a start waits for a window that holds the data dir but does not answer yet


def server_name(data_dir: Path) -> str:
    """A name unique to this user and this data dir (a socket file in the temp dir on Unix, a named pipe
    on Windows), short enough for either."""
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "")
    digest = hashlib.sha256(f"{user}\n{Path(data_dir).resolve()}".encode()).hexdigest()[:20]
    return f"mirari-{digest}"


def knock(data_dir: Path, wait: float = 0.0) -> bool:
    """Ask the window already open on `data_dir` to come to the front. True if one answered. `wait`:
    keep trying that many seconds (a window that is still starting has not begun to listen yet)."""
    deadline = time.monotonic() + wait
    while True:
        socket = QLocalSocket()
        socket.connectToServer(server_name(data_dir))
        if socket.waitForConnected(KNOCK_TIMEOUT_MS):
            socket.write(KNOCK)
            socket.waitForBytesWritten(KNOCK_TIMEOUT_MS)
            answered = socket.waitForReadyRead(KNOCK_TIMEOUT_MS) and bytes(socket.readAll().data()) == ANSWER
            socket.disconnectFromServer()
            if answered:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


class InstanceServer(QObject):
    """Listens for later starts on the same data dir; `show_requested` asks the window to come forward."""

    show_requested = Signal()

    def __init__(self, data_dir: Path, parent=None):
        super().__init__(parent)
        self.name = server_name(data_dir)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        """Call only while holding the data dir's app lock: a socket file left by a crashed window is
        then certainly stale, and is removed."""
        if self._server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)
        if self._server.listen(self.name):
            return True
        log.warning("a second start cannot find this window: %s", self._server.errorString())
        return False

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)

    def _read(self, socket: QLocalSocket) -> None:
        if bytes(socket.readAll().data()).startswith(KNOCK.strip()):
            log.info("MIRARI was started again on this data folder: showing this window")
            socket.write(ANSWER)
            socket.flush()
            self.show_requested.emit()


def serve(window, data_dir: Path) -> InstanceServer:
    """Make `window` the one later starts on `data_dir` find (and bring to the front)."""
    server = InstanceServer(data_dir, window)
    server.show_requested.connect(lambda: bring_to_front(window))
    server.listen()
    return server


def bring_to_front(window) -> None:
    """Show the window, unminimised and raised (the window manager may still only flash it)."""
    from PySide6.QtCore import Qt

    window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()
