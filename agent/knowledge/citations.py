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
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from agent.knowledge import store
from agent.knowledge.errors import KnowledgeError

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


class IndexedFiles:
    """Which files the sets' indexes hold (agent.knowledge.store: each set's shard files), looked up one
    cited path at a time and remembered: a caller that reads many replies makes one of these."""

    def __init__(self, db) -> None:
        with db.engine.connect() as conn:
            self.sets = [tuple(r) for r in conn.exec_driver_sql("SELECT id, name, folder FROM knowledge_sets")]
        self.directory = store.directory_of(Path(db.path))
        self._known: dict[tuple[str, str], bool] = {}

    def candidates(self, label: str) -> list[tuple[str, str, str]]:
        """(set name, folder, path) of the indexed files `label` may name: `<set>/<file>`, else `<file>`."""
        named = [(name, folder, label[len(name) + 1:]) for set_id, name, folder in self.sets
                 if label.startswith(name + "/") and self.has(set_id, label[len(name) + 1:])]
        if named:
            return named
        return [(name, folder, label) for set_id, name, folder in self.sets if self.has(set_id, label)]

    def has(self, set_id: str, path: str) -> bool:
        key = (set_id, path)
        if key not in self._known:
            self._known[key] = any(_holds(shard, path) for shard in store.shard_files(self.directory, set_id))
        return self._known[key]


def _holds(shard: Path, path: str) -> bool:
    try:
        conn = store.open_for_reading(shard)
    except (KnowledgeError, sqlite3.Error):
        return False  # a damaged index cites nothing (the next reindex builds it again)
    if conn is None:
        return False
    try:
        return conn.execute("SELECT 1 FROM files WHERE path = ? AND error IS NULL", (path,)).fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _inside(folder: str, path: str) -> Path | None:
    root = Path(folder).resolve()
    file = (root / path).resolve()
    return file if file.is_relative_to(root) else None


def may_cite(text: str) -> bool:
    return "[" in text and _CITE.search(text) is not None


def citations(db, text: str, known: IndexedFiles | None = None) -> list[Citation]:
    """The distinct citations of indexed files in `text`, in the order they first appear. `known`: an
    IndexedFiles(db) shared by a caller that looks at many replies."""
    if not may_cite(text):
        return []
    out: list[Citation] = []
    for match in _CITE.finditer(text):
        if known is None:
            known = IndexedFiles(db)
        label = match.group(1).strip().strip("`'\"").removeprefix("./")
        candidates = known.candidates(label)
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
