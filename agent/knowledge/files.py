"""A knowledge folder's files: which ones are indexed (walk) and their text (text_of).

Both run once per file of folders with tens of thousands of files, so they stay at C speed: os.scandir
instead of Path objects, and for plain UTF-8 (nearly every file) the binary check of
agent.attachments.reading.decode_text done on bytes. Anything else — a BOM, a NUL, bytes that are not
UTF-8, too many control characters — goes to decode_text itself, so the rule and its messages stay one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from agent.attachments.reading import TEXT_TYPES, decode_text, pdf_text

INDEXED_SUFFIXES = frozenset({*TEXT_TYPES, ".pdf"})
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox",
                          ".mypy_cache", ".pytest_cache", "dist", "build", ".idea", ".vscode"})
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# decode_text's control characters ([\x00-\x08\x0b\x0e-\x1f\x7f]): ASCII, so never inside a UTF-8 sequence
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
_SNIFF_CHARS = 100_000  # decode_text counts them in the first 100,000 characters


def walk(folder: Path) -> list[tuple[str, int, int]]:
    """(relative POSIX path, mtime_ns, size) of every indexable regular file, in a stable order (a
    folder's files by name, then its sub-folders by name). Folder symlinks are not followed (no loops);
    hidden and tool folders are left out."""
    found: list[tuple[str, int, int]] = []
    stack: list[tuple[str, str]] = [(str(folder), "")]
    while stack:
        current, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir():
                    if not entry.is_symlink() and name not in SKIPPED_DIRS and not name.startswith("."):
                        subdirs.append((entry.path, f"{prefix}{name}/"))
                    continue
                if name.startswith(".") or os.path.splitext(name)[1].lower() not in INDEXED_SUFFIXES:
                    continue
                info = entry.stat()  # follows a file symlink, as reading it will
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):  # never a FIFO or a device named notes.txt
                found.append((f"{prefix}{name}", info.st_mtime_ns, info.st_size))
        stack.extend(reversed(subdirs))
    return found


def text_of(rel: str, data: bytes) -> str:
    """The file's text (a PDF's pages, or decoded text with \\n line ends); AttachmentRefused with the
    reason for a binary, undecodable or textless file."""
    if rel.lower().endswith(".pdf"):
        return pdf_text(data, rel)
    if data.startswith(_BOMS) or b"\x00" in data:
        return decode_text(data, rel)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return decode_text(data, rel)  # raises its "not UTF-8 text" refusal
    head = data if len(text) <= _SNIFF_CHARS else text[:_SNIFF_CHARS].encode("utf-8")
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if controls > max(8, min(len(text), _SNIFF_CHARS) // 100):
        return decode_text(data, rel)  # raises its "binary file" refusal
    if b"\r" in data:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text
