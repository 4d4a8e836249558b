"""Incremental server-sent-events parser: feed it raw bytes as they arrive, get complete events out.

Network reads split the stream anywhere: inside a line, between `\\r` and `\\n`, even inside a UTF-8
character. The parser keeps the unfinished tail until the rest arrives, so callers only ever see whole
events. Comment lines (`: keep-alive`) are dropped, as the SSE spec says.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator


class SSEParser:
    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []
        self._pending_cr = False  # saw "\r" at the end of a chunk; a following "\n" belongs to it

    def feed(self, chunk: bytes) -> Iterator[str]:
        """Yield the `data` payload of every event completed by this chunk."""
        text = self._decoder.decode(chunk)
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]
        self._pending_cr = False
        self._buffer += text
        yield from self._drain()

    def close(self) -> Iterator[str]:
        """End of stream: flush a final event that was not followed by a blank line."""
        self._buffer += self._decoder.decode(b"", final=True)
        yield from self._drain()
        if self._buffer:
            self._line(self._buffer)
            self._buffer = ""
        if self._data:
            yield "\n".join(self._data)
            self._data = []

    def _drain(self) -> Iterator[str]:
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                return
            end, width = cut
            if end + width == len(self._buffer) and self._buffer[end] == "\r":
                # "\r" is the last char so far: it may be the first half of "\r\n"
                self._pending_cr = True
            line, self._buffer = self._buffer[:end], self._buffer[end + width:]
            if line == "":
                if self._data:
                    yield "\n".join(self._data)
                    self._data = []
            else:
                self._line(line)

    def _line(self, line: str) -> None:
        if line.startswith(":"):
            return  # comment / keep-alive
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        # other fields (event, id, retry) carry nothing the chat protocol uses


def _line_end(text: str) -> tuple[int, int] | None:
    """Position and width of the first line terminator (\\r\\n, \\n or \\r), or None."""
    n, r = text.find("\n"), text.find("\r")
    if r == -1 and n == -1:
        return None
    if r == -1 or (n != -1 and n < r):
        return n, 1
    if r + 1 < len(text) and text[r + 1] == "\n":
        return r, 2
    return r, 1
