"""Atomic file writes, the one way every layer writes a file that must never be half there: a reader (or a
crash) sees the old file or the new one. The temp file is made private (`mode`) before a byte is written,
fsynced, renamed over the target (retried on Windows while another handle holds it), and the directory is
fsynced so the rename itself survives a power cut."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from local_schema.files import replace


def atomic_write(path: str | Path, data: bytes, mode: int = 0o600) -> Path:
    """Write `data` to a temp file beside `path` (created with `mode`), fsync, rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # POSIX; on Windows the profile directory's ACL protects the file
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        replace(tmp, path)  # retried on Windows while a reader or the virus scanner holds it
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def atomic_write_json(path: str | Path, data, mode: int = 0o600) -> Path:
    """`data` as indented JSON with sorted keys (a stable file a person can read and diff), atomically."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    return atomic_write(path, text.encode("utf-8"), mode)
