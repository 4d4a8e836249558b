"""sync.filelock: one holder at a time per lock file, across processes, released by the OS at death.

The first tests use this OS's own primitive (flock on Linux and macOS, msvcrt.locking on Windows). The
Windows branch is also run here, on Linux, against a stand-in for msvcrt that keeps the documented
rules: a byte range locked through one handle is refused to every other handle, unlocking a range that
is not locked fails, and both act from the handle's current file position."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest

from sync import filelock
from sync.filelock import FileLock, LockTimeout

ROOT = Path(__file__).resolve().parents[2]


def test_two_locks_on_one_path_exclude_each_other_until_released(tmp_path):
    first, second = FileLock(tmp_path / "sync.lock"), FileLock(tmp_path / "sync.lock")
    first.acquire(timeout=0)
    started = time.monotonic()
    with pytest.raises(LockTimeout, match="another sync of this database is running"):
        second.acquire(timeout=0.2)
    assert time.monotonic() - started >= 0.2  # it waited for the holder before giving up
    first.release()
    second.acquire(timeout=0)
    second.release()
    first.release()  # releasing twice is harmless


def test_a_lock_held_by_a_killed_process_is_free_at_once(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        from sync.filelock import FileLock
        FileLock({str(tmp_path / "app.lock")!r}).acquire(timeout=0)
        print("held", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(LockTimeout):
            FileLock(tmp_path / "app.lock").acquire(timeout=0.1)
    finally:
        proc.kill()  # no release: a crash
        proc.wait(10)
    lock = FileLock(tmp_path / "app.lock")
    lock.acquire(timeout=5)
    lock.release()


class FakeMsvcrt(types.ModuleType):
    """msvcrt.locking's rules (mandatory byte-range locks per handle, from the current position)."""

    LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4

    def __init__(self) -> None:
        super().__init__("msvcrt")
        self.held: dict[tuple[int, int], int] = {}  # (file id, byte) -> fd holding it
        self.calls: list[tuple[int, int, int]] = []  # (fd, mode, position)

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        position = os.lseek(fd, 0, os.SEEK_CUR)
        self.calls.append((fd, mode, position))
        keys = [(os.fstat(fd).st_ino, byte) for byte in range(position, position + nbytes)]
        if mode == self.LK_NBLCK:
            if any(self.held.get(key, fd) != fd for key in keys):
                raise PermissionError(13, "Permission denied")
            self.held.update(dict.fromkeys(keys, fd))
        elif mode == self.LK_UNLCK:
            if any(self.held.get(key) != fd for key in keys):
                raise PermissionError(13, "Permission denied")  # that range is not locked by this handle
            for key in keys:
                del self.held[key]
        else:
            raise AssertionError(f"FileLock must not use mode {mode}: LK_LOCK retries for 10 s on its own")


@pytest.fixture
def windows_lock(monkeypatch):
    fake = FakeMsvcrt()
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    return fake, filelock.primitives(windows=True)


def test_the_windows_branch_excludes_a_second_handle_and_lets_it_in_after_release(tmp_path, windows_lock):
    fake, primitives = windows_lock
    first, second = FileLock(tmp_path / "app.lock", primitives), FileLock(tmp_path / "app.lock", primitives)
    first.acquire(timeout=0)
    with pytest.raises(LockTimeout):
        second.acquire(timeout=0.15)
    assert len([c for c in fake.calls if c[1] == fake.LK_NBLCK]) > 2  # retried, never a blocking LK_LOCK
    first.release()
    second.acquire(timeout=0)
    second.release()
    assert fake.held == {}


def test_the_windows_branch_locks_and_unlocks_the_first_byte_wherever_the_handle_points(tmp_path, windows_lock):
    fake, primitives = windows_lock
    lock = FileLock(tmp_path / "app.lock", primitives)
    lock.acquire(timeout=0)
    os.lseek(lock._fd, 7, os.SEEK_SET)  # anything that moved the file position
    lock.release()  # still unlocks byte 0 (the stand-in refuses to unlock a range not locked)
    assert [(mode, position) for _fd, mode, position in fake.calls] == [(fake.LK_NBLCK, 0), (fake.LK_UNLCK, 0)]
    assert fake.held == {}


def test_a_failed_unlock_still_closes_the_handle(tmp_path, windows_lock):
    fake, primitives = windows_lock
    lock = FileLock(tmp_path / "app.lock", primitives)
    lock.acquire(timeout=0)
    fd = lock._fd
    fake.held.clear()  # the OS let go already: unlocking now fails
    with pytest.raises(PermissionError):
        lock.release()
    assert lock._fd is None
    with pytest.raises(OSError):
        os.fstat(fd)  # closed
