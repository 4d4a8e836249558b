"""What the operating systems the suite runs on (Linux, macOS, Windows) report differently, for the
tests that check something the OS decides."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

WINDOWS = os.name == "nt"


def shown_mode(mode: int, *, directory: bool = False) -> int:
    """The permission bits `os.stat` reports after `os.chmod(path, mode)` on this OS.

    POSIX keeps `mode`. Windows keeps only a read-only flag (set when the owner's write bit is off)
    and derives the rest: 0o666 or 0o444 for a file, plus 0o111 for a directory. There the privacy of
    MIRARI's files comes from the user profile's access list, not from these bits."""
    if not WINDOWS:
        return mode
    bits = 0o666 if mode & stat.S_IWUSR else 0o444
    return bits | 0o111 if directory else bits


def mode_of(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# Windows has no way to interrupt one child process the way a terminal does: Popen.send_signal(SIGTERM)
# is TerminateProcess (no handler runs, nothing is cleaned up) and a console Ctrl+C reaches every process
# attached to the console, the test runner included. A person pressing Ctrl+C in a Windows console does
# reach MIRARI's SIGINT handler; only a test cannot send it to one child.
needs_posix_signals = pytest.mark.skipif(
    WINDOWS, reason="Windows cannot deliver SIGINT/SIGTERM to a single child process")
