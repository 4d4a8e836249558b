"""Searching a knowledge set: passages ranked by BM25 (FTS5), each with its file and lines, and the top
passages for a turn as the block the request will carry (for the chat integration and its preview).

A query is the user's words, not FTS5 syntax: it is split into terms by the index's own tokenizer (so
"Café" finds "cafe"), each term is quoted and the terms are ORed, so any text searches (quotes, colons,
AND/NEAR, unbalanced parentheses) and passages with more of the words, rarer ones weighted higher, come
first. Words found in more than COMMON_SHARE of all passages ("the",
"water" in a gardening folder) are left out when rarer words remain: BM25 gives them almost no weight, yet
every passage they match would be scored (a search over 10,000 files stays within tens of milliseconds).

Each set has its own index files (agent.knowledge.store), so BM25's statistics are the set's; a set
split into shards is ranked with the statistics of all its shards together (agent.knowledge.ranking),
the same scores and order one index would give. A set not indexed on this device yet has no passages,
a damaged index is a KnowledgeError that says to reindex.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from agent.knowledge import ranking, store
from agent.knowledge.index import KnowledgeError, index_files, set_by_name

T = TypeVar("T")
MAX_TERMS = 32
COMMON_SHARE = 0.10
QUERY_CHARS = 20_000  # a turn's text as a query: its first MAX_TERMS terms are well within this
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


# The best rows by bm25() first, from FTS5 alone (it reads passage lengths and positions, never the text),
# then only those joined to their passages: joining first read every matching passage's text.
_SEARCH = """
SELECT c.id, f.path, c.start_line, c.end_line, c.text, best.score
  FROM (SELECT rowid, bm25(fts) AS score FROM fts WHERE fts MATCH ? ORDER BY score, rowid LIMIT ? OFFSET ?) AS best
  JOIN chunks c ON c.id = best.rowid
  JOIN files f ON f.id = c.file_id
 ORDER BY best.score, best.rowid
"""


def _distinctive(whole: ranking.Statistics, terms: list[str]) -> list[str]:
    """The terms worth matching: those in at most COMMON_SHARE of the set's passages (else the rarest
    two), and never a term no passage has."""
    present = sorted((t for t in terms if whole.hits.get(t)), key=lambda t: whole.hits[t])
    rare = [t for t in present if whole.hits[t] <= COMMON_SHARE * max(1, whole.passages)]
    return rare or present[:2]


@dataclass
class _Shard:
    path: Path
    conn: sqlite3.Connection
    stats: ranking.Statistics | None = None
    asked: int = 0  # its best passages fetched so far (by its own bm25())
    exhausted: bool = False
    weakest: float = 0.0  # its own score (higher is better) of the last passage fetched


def search(db, name: str, query: str, limit: int = 10) -> list[Passage]:
    """The set's best passages for `query` by BM25 with the set's statistics (agent.knowledge.ranking):
    each shard's best by its own bm25(), scored again; a shard is asked for more while a passage it has
    not given could still score above the current last of the `limit` best, so the result is exactly
    what one index of the whole set would give."""
    set_id, _ = set_by_name(db, name)
    limit = max(1, min(int(limit), 100))
    tokens = ranking.Tokens()
    shards: list[_Shard] = []
    try:
        terms = tokens.terms(query[:QUERY_CHARS], MAX_TERMS)
        if not terms:
            return []
        for path in index_files(db, set_id):
            conn = store.open_for_reading(path)
            if conn is not None:
                shards.append(_Shard(path, conn))
        for shard in shards:
            shard.stats = _ask(name, shard, lambda conn: ranking.shard_statistics(conn, terms))
        whole = ranking.Statistics.total([shard.stats for shard in shards])
        terms = _distinctive(whole, terms)
        if not terms:
            return []
        return _merged(name, shards, whole, terms, limit, tokens)
    except store.IndexDamaged as exc:
        raise KnowledgeError(f"{name}: {exc}") from None
    finally:
        tokens.close()
        for shard in shards:
            shard.conn.close()


def _merged(name: str, shards: list[_Shard], whole: ranking.Statistics, terms: list[str], limit: int,
            tokens: ranking.Tokens) -> list[Passage]:
    match = " OR ".join(f'"{t}"' for t in terms)  # tokens never hold a quote (the tokenizer splits at it)
    bounds = [ranking.bound(shard.stats, whole, terms) for shard in shards]
    found: list[Passage] = []
    wanted = [limit] * len(shards)
    while True:
        for shard, want in zip(shards, wanted, strict=True):
            if shard.exhausted or shard.asked >= want:
                continue
            rows = _page(name, shard, match, want - shard.asked)
            shard.exhausted = len(rows) < want - shard.asked
            shard.asked = want
            if rows:
                shard.weakest = -rows[-1][5]
                counted = tokens.counts([row[4] for row in rows], terms)
                found += [Passage(name, path, start, end, text, -ranking.score(counts, length, terms, whole))
                          for (_, path, start, end, text, _), (counts, length) in zip(rows, counted, strict=True)]
        found.sort(key=lambda p: (p.score, p.path, p.start_line))
        if len(found) < limit:  # every shard gave all it has
            return found
        last = -found[limit - 1].score
        deeper = [n for n, shard in enumerate(shards)
                  if not shard.exhausted and shard.weakest * bounds[n] * (1 + 1e-9) > last]
        if not deeper:
            return found[:limit]
        for n in deeper:
            wanted[n] *= 4


def _page(name: str, shard: _Shard, match: str, count: int) -> list[tuple]:
    """The shard's next `count` passages by its own bm25()."""
    return _ask(name, shard, lambda conn: conn.execute(_SEARCH, (match, count, shard.asked)).fetchall())


def _ask(name: str, shard: _Shard, ask: Callable[[sqlite3.Connection], T]) -> T:
    """`ask` of a shard; a damaged one is marked (the next reindex builds it again) and said."""
    try:
        return ask(shard.conn)
    except sqlite3.DatabaseError as exc:
        if store.is_damage(exc):
            raise KnowledgeError(f"{name}: {store.mark_damaged(shard.path, exc)}") from None
        raise


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
