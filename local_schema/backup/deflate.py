"""Fast deflate for archive members: ISA-L (the `isal` package) when installed, else zlib at level 1.

The archive is a standard ZIP (method 8, deflate), readable by any unzip; only the speed differs. ISA-L
compresses a 120 MB database in ~0.4 s where zlib needs ~1.5 s, which is what keeps a 100,000-message
backup under two seconds. zipfile has no hook for another deflate implementation, so the member's
compressor (or decompressor) is swapped right after it is opened, before any byte passes; a Python whose
zipfile no longer has that attribute simply keeps its own zlib (tests/local/test_backup_archive.py
notices that, so it never slows down unseen).
"""

from __future__ import annotations

import zipfile
import zlib

try:
    from isal import isal_zlib as _fast
except ImportError:  # pragma: no cover - isal is a dependency; this keeps a broken install working
    _fast = None

# What reading a damaged deflate stream raises, whichever implementation reads it.
ERRORS: tuple[type[Exception], ...] = (zlib.error,) + ((_fast.error,) if _fast is not None else ())
LEVEL = 1  # the speed end: a SQLite file compresses to ~40% at level 1 and barely better at 6


def fast_available() -> bool:
    return _fast is not None


def _compressor():
    return (_fast or zlib).compressobj(LEVEL, zlib.DEFLATED, -15)


def speed_up_writer(member) -> bool:
    """Give a just-opened deflate member of zipfile (mode 'w') a fast level-1 compressor. True if done."""
    if getattr(member, "_compressor", None) is None:
        return False
    member._compressor = _compressor()
    return True


def speed_up_reader(member) -> bool:
    """Give a just-opened deflate member (mode 'r') ISA-L's decompressor. True if done."""
    if (_fast is None or getattr(member, "_compress_type", None) != zipfile.ZIP_DEFLATED
            or getattr(member, "_decompressor", None) is None):
        return False
    member._decompressor = _fast.decompressobj(-15)
    return True
