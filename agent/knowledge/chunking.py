"""Text → passages of about CHUNK_CHARS characters that end at a line end, each with its first and last
line number (1-based). Works with str.find/str.count (C speed): indexing must keep up with 20 MB/s."""

from __future__ import annotations

from collections.abc import Iterator

CHUNK_CHARS = 1500  # a passage: enough context to answer from, small enough that ten fit in a prompt
HARD_LIMIT = 4000  # a single line longer than this is cut (minified code, a CSV without line ends)


def chunks(text: str, size: int = CHUNK_CHARS) -> Iterator[tuple[int, int, str]]:
    """(start line, end line, passage) for every passage of `text`; blank passages are left out."""
    start, line, length = 0, 1, len(text)
    while start < length:
        end = text.find("\n", min(start + size, length - 1))
        if end == -1 or end - start > HARD_LIMIT:
            end = min(length, start + max(size, HARD_LIMIT if end == -1 else size)) - 1
        piece = text[start:end + 1]
        lines = piece.count("\n")
        last = line + lines - (1 if piece.endswith("\n") else 0)
        if piece.strip():
            yield line, max(line, last), piece.rstrip("\n")
        line += lines
        start = end + 1
