"""Searching a knowledge set: passages ranked by BM25 (FTS5), each with its file and lines, and the top
passages for a turn as the block the request will carry (for the chat integration and its preview).

A query is the user's words, not FTS5 syntax: each word becomes a quoted term and the terms are ORed, so
any text searches (quotes, colons, AND/NEAR, unbalanced parentheses) and passages with more of the words,
rarer ones weighted higher, come first. Words found in more than COMMON_SHARE of all passages ("the",
"water" in a gardening folder) are left out when rarer words remain: BM25 gives them almost no weight, yet
every passage they match would be scored (a search over 10,000 files stays within tens of milliseconds).

Each set has its own index files (agent.knowledge.store), so BM25's statistics are the set's; a set not
indexed on this device yet has no passages, a damaged index is a KnowledgeError that says to reindex.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from agent.knowledge import store
from agent.knowledge.index import KnowledgeError, index_files, set_by_name

T = TypeVar("T")
MAX_TERMS = 32
COMMON_SHARE = 0.10
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Passage:
    set_name: str
    path: str  # relative to the set's folder
    start_line: int
    end_line: int
    text: str
    score: float  # BM25 (FTS5's rank: lower is better)

    @property
    def source(self) -> str:
        lines = f"{self.start_line}" if self.start_line == self.end_line else f"{self.start_line}-{self.end_line}"
        return f"{self.path}:{lines}"

    def to_dict(self) -> dict:
        return {"set": self.set_name, "file": self.path, "start_line": self.start_line, "end_line": self.end_line,
                "source": self.source, "text": self.text, "score": round(self.score, 6)}


def fts_query(text: str) -> str | None:
    """The user's words as an FTS5 query of quoted terms joined by OR; None when there is no word."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))[:MAX_TERMS]
    return " OR ".join(f'"{w}"' for w in words) or None


_SEARCH = """
SELECT f.path, c.start_line, c.end_line, c.text, bm25(fts) AS score
  FROM fts
  JOIN chunks c ON c.id = fts.rowid
  JOIN files f ON f.id = c.file_id
 WHERE fts MATCH ?
 ORDER BY score
 LIMIT ?
"""


def _vocabulary(conn: sqlite3.Connection, words: list[str]) -> tuple[dict[str, int], int]:
    """(passages with each word, all passages) of one shard."""
    counts = dict(conn.execute(f"SELECT term, doc FROM vocab WHERE term IN ({','.join('?' * len(words))})",
                               tuple(words)).fetchall())
    return counts, conn.execute("SELECT max(id) FROM chunks").fetchone()[0] or 0


def _distinctive(vocabularies: list[tuple[dict[str, int], int]], words: list[str]) -> list[str]:
    """The words worth matching: those in at most COMMON_SHARE of the set's passages (else the rarest
    two), and never a word no passage has."""
    counts = {w: sum(found.get(w, 0) for found, _ in vocabularies) for w in words}
    total = max(1, sum(passages for _, passages in vocabularies))
    present = sorted((w for w in words if counts[w]), key=lambda w: counts[w])
    rare = [w for w in present if counts[w] <= COMMON_SHARE * total]
    return rare or present[:2]


def search(db, name: str, query: str, limit: int = 10) -> list[Passage]:
    """The set's best passages for `query`: every shard asked, merged by BM25 (each shard's statistics
    are its own; files are spread over shards by a hash of their path, so they agree closely)."""
    set_id, _ = set_by_name(db, name)
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))[:MAX_TERMS]
    if not words:
        return []
    limit = max(1, min(int(limit), 100))
    shards: list[tuple[Path, sqlite3.Connection]] = []
    try:
        for path in index_files(db, set_id):
            conn = store.open_for_reading(path)
            if conn is not None:
                shards.append((path, conn))
        words = _distinctive(_each(name, shards, lambda conn: _vocabulary(conn, words)), words)
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        rows = [row for found in _each(name, shards, lambda conn: conn.execute(_SEARCH, (match, limit)).fetchall())
                for row in found]
    except store.IndexDamaged as exc:
        raise KnowledgeError(f"{name}: {exc}") from None
    finally:
        for _, conn in shards:
            conn.close()
    rows.sort(key=lambda row: row[4])
    return [Passage(name, *row) for row in rows[:limit]]


def _each(name: str, shards: list[tuple[Path, sqlite3.Connection]], ask: Callable[[sqlite3.Connection], T]) -> list[T]:
    """`ask` of every shard; a damaged one is marked (the next reindex builds it again) and said."""
    answers = []
    for path, conn in shards:
        try:
            answers.append(ask(conn))
        except sqlite3.DatabaseError as exc:
            if store.is_damage(exc):
                raise KnowledgeError(f"{name}: {store.mark_damaged(path, exc)}") from None
            raise
    return answers


def passages_for_turn(db, set_names: Sequence[str], text: str, limit: int = 6,
                      max_chars: int = 12_000) -> list[Passage]:
    """The best passages of the chosen sets for the turn's text, best first, within `max_chars` in all."""
    found: list[Passage] = []
    for name in set_names:
        found.extend(search(db, name, text, limit))
    found.sort(key=lambda p: p.score)
    chosen, used = [], 0
    for passage in found:
        if len(chosen) == limit or used + len(passage.text) > max_chars:
            continue
        chosen.append(passage)
        used += len(passage.text)
    return chosen


def knowledge_block(passages: Sequence[Passage]) -> str:
    """The passages as the request carries them (the prompt preview shows exactly this): each with its
    source, so a reply can cite file:line."""
    if not passages:
        return ""
    parts = ["Passages from the user's knowledge folders (cite them as [file:line]):"]
    for passage in passages:
        parts.append(f'<passage source="{passage.set_name}/{passage.source}">\n{passage.text}\n</passage>')
    return "\n\n".join(parts)


def require_sets(db, names: Sequence[str]) -> None:
    for name in names:
        set_by_name(db, name)


__all__ = ["KnowledgeError", "Passage", "fts_query", "knowledge_block", "passages_for_turn", "require_sets",
           "search"]
