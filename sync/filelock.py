"""A cross-process lock file: one sync cycle at a time per database, even across processes (GUI + CLI).

POSIX: flock() on the whole file. Windows: msvcrt.locking() on its first byte. Both are released by
the OS when the process dies, so a crash never leaves a stale lock; both conflict between two handles
even inside one process, so two FileLocks on one path exclude each other everywhere.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

LockPrimitive = Callable[[int], None]  # raises OSError when the lock is held elsewhere


class LockTimeout(Exception):
    pass


def primitives(windows: bool) -> tuple[LockPrimitive, LockPrimitive]:
    """(lock, unlock) for an open file descriptor: non-blocking, exclusive."""
    if windows:
        import msvcrt

        def lock(fd: int) -> None:
            # msvcrt locks from the current position: always the first byte (it may lie past the
            # end of the empty file; Windows allows that).
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # one try; OSError (EACCES) if held

        def unlock(fd: int) -> None:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        def lock(fd: int) -> None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

        def unlock(fd: int) -> None:
            fcntl.flock(fd, fcntl.LOCK_UN)
    return lock, unlock


class FileLock:
    def __init__(self, path: Path, lock_primitives: tuple[LockPrimitive, LockPrimitive] | None = None):
        self.path = Path(path)
        self._lock, self._unlock = lock_primitives or primitives(os.name == "nt")
        self._fd: int | None = None

    def acquire(self, timeout: float) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if hasattr(os, "fchmod"):
            with contextlib.suppress(OSError):  # (not ours to change: the lock still works)
                os.fchmod(fd, 0o600)  # a lock file left wider by an older version (or another umask)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._lock(fd)
                self._fd = fd
                return
            except OSError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeout(f"another sync of this database is running (lock {self.path})") from None
                time.sleep(0.05)

    def release(self) -> None:
        if self._fd is not None:
            try:
                self._unlock(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None
