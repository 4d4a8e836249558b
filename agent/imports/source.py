"""Reading an export: a ZIP or a bare conversations.json, one conversation at a time, never whole.

Both apps export a ZIP whose `conversations.json` is one JSON array of conversations (ChatGPT's newer
exports may split it into `conversations-000.json`, `conversations-001.json`, …: read in name order).
The array is parsed by ijson's C backend (yajl) straight from the file or from the ZIP member as it is
inflated, and handed out one conversation (a dict) at a time, so memory holds one conversation, not the
export: a 500 MB export imports in well under 300 MB (bench/bench_import.py).

A conversation whose JSON is larger than CONVERSATION_BYTES stops the import with an error naming it,
since parsing it would need several times its size in memory. Problems are `ImportFailed` with one
line: the file, the conversation's number and the byte offset it was read up to, and what is wrong.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

try:  # named statically so a frozen build bundles the C backend; the pure-Python one is the fallback
    import ijson.backends.yajl2_c as ijson_backend
except ImportError:  # pragma: no cover - the wheel ships the C backend on every platform we build for
    import ijson.backends.python as ijson_backend
from ijson.common import JSONError

from agent.imports import chatgpt, claude
from agent.imports.model import CHATGPT, CLAUDE, ImportFailed

CONVERSATIONS = re.compile(r"(?:^|/)conversations(?:-\d+)?\.json$", re.IGNORECASE)
CONVERSATION_BYTES = 64 * 1024 * 1024  # one conversation's JSON; parsed, it takes several times that
READ_SIZE = 64 * 1024
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"


@dataclass
class Part:
    """One JSON array of conversations: the bare file, or a member of the ZIP."""

    name: str  # as shown in messages: the file name, or "export.zip:conversations.json"
    size: int  # its bytes (inflated), for progress
    member: str | None = None  # the ZIP member, None for a bare file


class Reader:
    """A binary stream that counts what was read (for progress and error offsets), skips a UTF-8 BOM,
    and stops a single conversation from growing past CONVERSATION_BYTES."""

    def __init__(self, stream: BinaryIO, part: Part) -> None:
        self._stream = stream
        self.part = part
        self.offset = 0  # bytes handed to the parser so far
        self.mark = 0  # offset where the conversation being parsed began (about: the parser reads ahead)
        self.position = 0  # the number of the conversation being parsed (1-based, across parts)
        self._head = self._first_bytes()

    def _first_bytes(self) -> bytes:
        head = self._stream.read(READ_SIZE)
        if head.startswith(_BOM):
            head = head[len(_BOM):]
        start = head.lstrip(_WHITESPACE)[:1]
        if start != b"[":
            shown = "nothing" if not start else f"“{start.decode('latin-1')}”"
            raise ImportFailed(f"{self.part.name} is not a conversations export: it should hold a list of "
                               f"conversations (starting with “[”), but starts with {shown}")
        return head

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for nothing first, to learn whether the stream gives bytes or text
            return b""
        if self._head:
            data, self._head = self._head, b""
        else:
            data = self._stream.read(READ_SIZE if size is None or size < 0 else size)
        self.offset += len(data)
        if self.offset - self.mark > CONVERSATION_BYTES + 2 * READ_SIZE:
            raise ImportFailed(f"{self.part.name}: conversation {self.position} is larger than "
                               f"{CONVERSATION_BYTES // (1024 * 1024)} MB (near byte {self.offset:,}); "
                               "MIRARI imports conversations up to that size")
        return data


class ExportFile:
    """An export on disk. `parts` lists its arrays of conversations; `conversations()` streams them.

        with ExportFile(path) as export:
            for position, conversation in export.conversations():
                ...
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.reader: Reader | None = None  # the part being read (offset, conversation number)
        self._zip: zipfile.ZipFile | None = None
        if not self.path.is_file():
            raise ImportFailed(f"{self.path}: no such file")
        try:
            if zipfile.is_zipfile(self.path):
                self._zip = zipfile.ZipFile(self.path)
                self.parts = self._zip_parts()
            elif _starts_like_zip(self.path):
                raise ImportFailed(f"{self.path.name} is a damaged or incomplete ZIP (its end is missing): "
                                   "download the export again")
            else:
                self.parts = [Part(self.path.name, self.path.stat().st_size)]
        except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
            self.close()
            raise ImportFailed(f"{self.path.name}: cannot read it ({_first_line(exc)})") from exc

    def _zip_parts(self) -> list[Part]:
        names = sorted((info for info in self._zip.infolist()
                        if not info.is_dir() and CONVERSATIONS.search(info.filename)),
                       key=lambda info: info.filename)
        if not names:
            raise ImportFailed(f"{self.path.name} holds no conversations.json: is it a ChatGPT or Claude export?")
        # A ZIP with conversations.json at its top level and again in a folder: the top level is the export.
        top = [info for info in names if "/" not in info.filename]
        return [Part(f"{self.path.name}:{info.filename}", info.file_size, info.filename) for info in (top or names)]

    @property
    def total_bytes(self) -> int:
        return sum(part.size for part in self.parts)

    def bytes_read(self) -> int:
        """Bytes of every part read so far (what progress counts)."""
        done = 0
        for part in self.parts:
            if self.reader is not None and part is self.reader.part:
                return done + self.reader.offset
            done += part.size
        return done

    def conversations(self) -> Iterator[tuple[int, object]]:
        """(number, conversation) for each conversation in the file, 1-based and counted across parts."""
        position = 0
        for part in self.parts:
            with self._open(part) as stream:
                self.reader = reader = Reader(stream, part)
                items = ijson_backend.items(reader, "item", use_float=True, buf_size=READ_SIZE)
                while True:
                    reader.position, reader.mark = position + 1, reader.offset
                    try:
                        conversation = next(items, _END)
                    except JSONError as exc:
                        raise ImportFailed(self._broken(reader, _first_line(exc))) from exc
                    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
                        raise ImportFailed(self._broken(reader, f"cannot read it ({_first_line(exc)})")) from exc
                    if conversation is _END:
                        break
                    position += 1
                    yield position, conversation

    def _open(self, part: Part) -> BinaryIO:
        try:
            return self._zip.open(part.member) if self._zip is not None else open(self.path, "rb")  # noqa: SIM115
        except (OSError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as exc:
            raise ImportFailed(f"{part.name}: cannot read it ({_first_line(exc)})") from exc

    @staticmethod
    def _broken(reader: Reader, problem: str) -> str:
        return (f"{reader.part.name} is cut off or malformed in conversation {reader.position} "
                f"(read up to byte {reader.offset:,}): {problem}")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self) -> ExportFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


_END = object()


def detect_source(path: str | Path) -> str | None:
    """chatgpt or claude by the first conversation's shape; None when the file tells neither (an empty
    list, or conversations of another kind). ImportFailed when it is not an export at all."""
    with ExportFile(path) as export:
        for _position, conversation in export.conversations():
            if chatgpt.looks_like(conversation):
                return CHATGPT
            if claude.looks_like(conversation):
                return CLAUDE
            return None
    return None


def _starts_like_zip(path: Path) -> bool:
    with open(path, "rb") as file:
        return file.read(4) == b"PK\x03\x04"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return " ".join(text[0].split()) if text else type(exc).__name__
