"""A reply's citations of knowledge passages, back to a file and line on this device.

The request asks the model to cite passages as `[file:line]` (agent.knowledge.search.knowledge_block
names each passage `<set>/<file>:<lines>`). A citation is any `[<source>:<line>]` or
`[<source>:<start>-<end>]` in the reply whose source is an indexed file of a knowledge set: `<set>/<file>`,
or `<file>` alone when exactly one set has that file. Anything else in brackets is left alone. The file
is only ever one the index knows, inside its set's folder: a reply cannot point the app at another path.
The same parse runs on a reply read back later, so a reopened thread's citations still open their files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MAX_CITATIONS = 20
_CITE = re.compile(r"\[([^\[\]\n]{1,400}?):(\d{1,7})(?:\s*[-–]\s*(\d{1,7}))?\]")


@dataclass(frozen=True)
class Citation:
    set_name: str
    path: str  # relative to the set's folder
    start_line: int
    end_line: int
    file: Path  # the file on this device

    @property
    def source(self) -> str:
        lines = f"{self.start_line}" if self.start_line == self.end_line else f"{self.start_line}-{self.end_line}"
        return f"{self.set_name}/{self.path}:{lines}"

    def to_dict(self) -> dict:
        return {"set": self.set_name, "file": self.path, "start_line": self.start_line, "end_line": self.end_line,
                "source": self.source, "path": str(self.file)}


def indexed_files(db) -> dict[str, list[tuple[str, str, str]]]:
    """{file path: [(set name, folder, path)]} of every indexed file, and the same under "<set>/<path>"."""
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT s.name, s.folder, f.path FROM knowledge_files f"
                                    " JOIN knowledge_sets s ON s.id = f.set_id WHERE f.error IS NULL").fetchall()
    found: dict[str, list[tuple[str, str, str]]] = {}
    for name, folder, path in rows:
        found.setdefault(path, []).append((name, folder, path))
        found.setdefault(f"{name}/{path}", []).append((name, folder, path))
    return found


def _inside(folder: str, path: str) -> Path | None:
    root = Path(folder).resolve()
    file = (root / path).resolve()
    return file if file.is_relative_to(root) else None


def may_cite(text: str) -> bool:
    return "[" in text and _CITE.search(text) is not None


def citations(db, text: str, known: dict | None = None) -> list[Citation]:
    """The distinct citations of indexed files in `text`, in the order they first appear. `known`:
    indexed_files(db), read once by a caller that looks at many replies."""
    if not may_cite(text):
        return []
    out: list[Citation] = []
    for match in _CITE.finditer(text):
        if known is None:
            known = indexed_files(db)
        label = match.group(1).strip().strip("`'\"").removeprefix("./")
        candidates = known.get(label, [])
        if len(candidates) != 1:  # unknown, or the same file name in two sets without the set's name
            continue
        set_name, folder, path = candidates[0]
        file = _inside(folder, path)
        start = int(match.group(2))
        end = max(start, int(match.group(3) or start))
        cite = Citation(set_name, path, start, end, file) if file is not None else None
        if cite is not None and cite not in out:
            out.append(cite)
            if len(out) == MAX_CITATIONS:
                break
    return out
