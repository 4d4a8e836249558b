"""File operations that behave alike on Linux, macOS and Windows, for every layer.

Windows refuses to rename over a file that another handle has open without delete sharing, which is
how Python, most programs and the virus scanner open files: a settings file being read by the other
MIRARI process, or a file the scanner is looking at right after it was written. The refusal is
momentary, so the atomic replace is retried for a short while there (as pip and npm do) before the
error is given. POSIX renames over open files, so there it is one attempt.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

WINDOWS = os.name == "nt"
# Names Windows keeps for devices in every folder, with any extension: "con.md" is the console.
DEVICE_NAMES = frozenset({"CON", "PRN", "AUX", "NUL", *(f"{port}{n}" for port in ("COM", "LPT") for n in range(1, 10))})
REPLACE_PATIENCE = 2.0  # seconds; a scanner's look at a small file takes milliseconds


def replace(source: str | Path, target: str | Path, *, patience: float = REPLACE_PATIENCE) -> None:
    """`os.replace(source, target)`, retried on Windows while another handle holds either file."""
    deadline = time.monotonic() + patience
    delay = 0.01
    while True:
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if not WINDOWS or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def is_device_name(file_name: str) -> bool:
    """True for a name Windows reads as a device: its part before the first dot is CON, NUL, COM1, …"""
    return file_name.split(".")[0].strip().upper() in DEVICE_NAMES
