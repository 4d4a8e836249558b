"""BM25 with a whole set's statistics, for a set whose index is split into shards.

FTS5's bm25() uses the statistics of the file it runs in: its passage count, average passage length
and each term's passage count. A shard's differ from the set's, so two shards' bm25() values do not
compare. A search therefore asks each shard for its best passages (by its own bm25()) and scores them
again here with the set's statistics — the shards' sums — by FTS5's own formula (fts5_aux.c,
fts5Bm25Function: k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) / (n + 0.5)), at least 1e-6), so a set in
one shard gets exactly bm25()'s scores and a set in shards the scores it would have in one file.

A term's count in a passage and the passage's length in tokens come from the passage's text tokenised
again by the same tokenizer, in an in-memory FTS5 table (`Tokens`): no second tokenizer to keep in step
with SQLite's, and the user's query is split into terms the same way (diacritics removed, "x_y" two
terms), so every term asked for is one the index can have.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agent.knowledge import store

K1 = 1.2
B = 0.75
MIN_IDF = 1e-6


@dataclass(frozen=True)
class Statistics:
    """What BM25 needs of a body of passages: how many, their tokens in all, and each query term's
    passage count."""

    passages: int
    tokens: int
    hits: dict[str, int]

    @property
    def average_length(self) -> float:
        return self.tokens / self.passages if self.passages else 0.0

    def idf(self, term: str) -> float:
        hits = self.hits.get(term, 0)
        return max(MIN_IDF, math.log((self.passages - hits + 0.5) / (hits + 0.5)))

    @staticmethod
    def total(parts: Sequence[Statistics]) -> Statistics:
        terms = {term for part in parts for term in part.hits}
        return Statistics(sum(p.passages for p in parts), sum(p.tokens for p in parts),
                          {term: sum(p.hits.get(term, 0) for p in parts) for term in terms})


def shard_statistics(conn: sqlite3.Connection, terms: Sequence[str]) -> Statistics:
    """One shard's statistics: its passages and tokens from FTS5's averages record, each term's passage
    count from its vocabulary table."""
    passages, tokens = _averages(conn)
    marks = ",".join("?" * len(terms))
    hits = dict(conn.execute(f"SELECT term, doc FROM vocab WHERE term IN ({marks})", tuple(terms)).fetchall())
    return Statistics(passages, tokens, hits)


def _averages(conn: sqlite3.Connection) -> tuple[int, int]:
    """(rows, tokens in all) from the FTS5 table's averages record (its %_data row 1: two varints for a
    one-column table) — what bm25() reads; counting would read every passage's size."""
    row = conn.execute("SELECT block FROM fts_data WHERE id = 1").fetchone()
    if row is None or not row[0]:
        return 0, 0
    passages, at = _varint(row[0], 0)
    tokens, _ = _varint(row[0], at) if at < len(row[0]) else (0, at)
    return passages, tokens


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """SQLite's varint (big-endian, 7 bits a byte, the ninth byte whole): (value, next offset)."""
    value = 0
    for n in range(8):
        byte = data[at + n]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + n + 1
    return (value << 8) | data[at + 8], at + 9


def score(counts: dict[str, int], length: int, terms: Iterable[str], stats: Statistics) -> float:
    """A passage's BM25 (higher is better): `counts` of each term in it, `length` its tokens."""
    average = stats.average_length or 1.0
    total = 0.0
    for term in terms:  # in the query's order: the same additions as bm25(), the same float
        found = counts.get(term, 0)
        total += stats.idf(term) * (found * (K1 + 1.0)) / (found + K1 * (1 - B + B * length / average))
    return total


def bound(shard: Statistics, whole: Statistics, terms: Iterable[str]) -> float:
    """How much higher a passage's score with the whole set's statistics can be than with its shard's:
    each term's weight grows by at most its idf ratio, and the length part by at most the ratio of the
    average lengths (when the set's passages are longer on average than the shard's)."""
    idf_ratio = max((whole.idf(t) / shard.idf(t) for t in terms if shard.hits.get(t)), default=1.0)
    shard_average = shard.average_length or 1.0
    return max(1.0, idf_ratio) * max(1.0, whole.average_length / shard_average)


class Tokens:
    """The index's tokenizer on text that is not in the index (a query, passages scored again)."""

    def __init__(self):
        self.conn = sqlite3.connect(":memory:", isolation_level=None)
        self.conn.executescript(f"""
            CREATE TABLE texts (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
            CREATE VIRTUAL TABLE scratch USING fts5 (text, content='texts', content_rowid='id',
                                                     tokenize='{store.TOKENIZER}');
            CREATE VIRTUAL TABLE scratch_terms USING fts5vocab (scratch, instance);
        """)
        self.next_id = 1

    def _add(self, texts: Sequence[str]) -> int:
        """Tokenise `texts` (one FTS5 statement: a statement each would flush its terms each time); the
        first one's id."""
        first = self.next_id
        self.conn.executemany("INSERT INTO texts (id, text) VALUES (?, ?)", [(first + n, t) for n, t in enumerate(texts)])
        self.conn.execute("INSERT INTO scratch (rowid, text) SELECT id, text FROM texts WHERE id >= ?", (first,))
        self.next_id += len(texts)
        return first

    def terms(self, text: str, limit: int) -> list[str]:
        """The text's distinct terms in their order (the first `limit`)."""
        first = self._add([text])
        found = self.conn.execute("SELECT term, min(offset) FROM scratch_terms WHERE doc = ? GROUP BY term", (first,))
        return [term for term, _ in sorted(found.fetchall(), key=lambda row: row[1])][:limit]

    def counts(self, texts: Sequence[str], terms: Sequence[str]) -> list[tuple[dict[str, int], int]]:
        """(count of each of `terms`, length in tokens) of each text."""
        first = self._add(texts)
        found: list[tuple[dict[str, int], int]] = [({}, 0) for _ in texts]
        for doc, size in self.conn.execute("SELECT id, sz FROM scratch_docsize WHERE id >= ?", (first,)):
            found[doc - first] = ({}, _varint(size, 0)[0])  # a one-column table: one varint
        marks = ",".join("?" * len(terms))
        for doc, term, count in self.conn.execute(
                f"SELECT doc, term, count(*) FROM scratch_terms WHERE term IN ({marks}) GROUP BY doc, term", tuple(terms)):
            if doc >= first:
                found[doc - first][0][term] = count
        return found

    def close(self) -> None:
        self.conn.close()
