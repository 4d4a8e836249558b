"""Search across shards: a set split into shards ranks its passages by BM25 with the whole set's
statistics — the same passages, order and scores as one index of the same folder — including when a
shard's own statistics hide the best passage below its own first page; a query is split into terms the
way the index splits text."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from agent.knowledge import ranking, store
from agent.knowledge.index import add_set, index_files, reindex_here
from agent.knowledge.search import search


def _index_as(db, monkeypatch, name: str, root: Path, shards: int) -> list[Path]:
    """Index `root` as set `name` in exactly `shards` shards (in this process: the ranking is under test)."""
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    monkeypatch.setattr("agent.knowledge.index.SHARD_MIN_BYTES", size // shards if shards > 1 else 10**12)
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    set_id = add_set(db, name, root)
    reindex_here(db, name)
    files = index_files(db, set_id)
    assert len(files) == shards
    return files


def _found(passages) -> list[tuple[str, int, float]]:
    return [(p.path, p.start_line, p.score) for p in passages]


def _bm25(index: Path, terms: list[str], limit: int) -> list[tuple[str, int, float]]:
    """FTS5's own bm25() over one index file."""
    conn = sqlite3.connect(index)
    try:
        return conn.execute(
            "SELECT f.path, c.start_line, bm25(fts) FROM fts JOIN chunks c ON c.id = fts.rowid"
            " JOIN files f ON f.id = c.file_id WHERE fts MATCH ? ORDER BY bm25(fts) LIMIT ?",
            (" OR ".join(f'"{t}"' for t in terms), limit)).fetchall()
    finally:
        conn.close()


@pytest.fixture
def prose(tmp_path) -> Path:
    """60 notes of words drawn Zipf-like from a 4,000-word vocabulary (fixed seed): term statistics like
    prose, so each shard's differ a little from the set's."""
    rng = random.Random(11)
    vocabulary = [f"w{n}" for n in range(4000)]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    root = tmp_path / "prose"
    for n in range(60):
        lines = [" ".join(rng.choices(vocabulary, weights, k=rng.randint(4, 14))) for _ in range(rng.randint(20, 200))]
        path = root / f"part{n % 4}" / f"note{n:02}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    return root


QUERIES = ["w3 w150", "w40 w41 w399", "w7", "w120 w5 w2600 w33", "W12 w200"]


def test_one_index_gets_exactly_fts5s_bm25(db, monkeypatch, prose):
    (index,) = _index_as(db, monkeypatch, "one", prose, 1)
    for query in ["w1500 w3000", "w1001", "w2500 w2501 w3999"]:  # rare words: the search leaves none out
        got = _found(search(db, "one", query, 8))
        expected = _bm25(index, query.lower().split(), 8)
        assert [(path, line) for path, line, _ in got] == [(path, line) for path, line, _ in expected]
        assert [score for _, _, score in got] == pytest.approx([score for _, _, score in expected], rel=1e-12)


def test_a_set_in_shards_ranks_as_one_index_would(db, monkeypatch, prose):
    shards = _index_as(db, monkeypatch, "split", prose, 3)
    _index_as(db, monkeypatch, "one", prose, 1)
    sizes = []
    for query in QUERIES:
        merged, single = search(db, "split", query, 8), search(db, "one", query, 8)
        assert merged and _found(merged) == _found(single)
        sizes.append(len(merged))
    assert sizes.count(8) >= 3  # mostly more passages than asked for: the cut at 8 is tested too
    # … which each shard's own bm25() does not: their scores differ from the set's
    query = QUERIES[0].split()
    own = sorted(row for shard in shards for row in _bm25(shard, query, 8))
    assert own != sorted(_found(search(db, "one", QUERIES[0], 8)))


def _note(root: Path, shard: int, stem: str, text: str) -> None:
    """A note whose path falls in `shard` of 2 (store.shard_of: crc32 of the path)."""
    n = 0
    while store.shard_of(f"{stem}{n}.md", 2) != shard:
        n += 1
    (root / f"{stem}{n}.md").write_text(text)


def test_the_best_passage_is_found_below_a_shards_first_page(db, monkeypatch, tmp_path):
    """Shard 0: every note has "apple" (there its weight is nearly nil) and three have "banana"; shard 1:
    200 notes with neither. Over the set "apple" is rare, so the note full of it is the best passage —
    yet shard 0 by itself ranks it below its three banana notes, beyond a first page of two."""
    root = tmp_path / "fruit"
    root.mkdir()
    filler = "the quiet river runs past the old mill"
    _note(root, 0, "full", f"apple apple apple apple apple apple {filler}\n")
    for n in range(3):
        _note(root, 0, f"banana{n}-", f"banana {filler}\n")
    for n in range(6):
        _note(root, 0, f"apple{n}-", f"apple {filler}\n")
    for n in range(200):
        _note(root, 1, f"other{n}-", f"{filler} number {n}\n")
    shards = _index_as(db, monkeypatch, "split", root, 2)
    _index_as(db, monkeypatch, "one", root, 1)
    own = _bm25(shards[0], ["banana", "apple"], 10)
    assert [path.startswith("full") for path, _, _ in own].index(True) >= 3  # not on shard 0's first page of 2

    merged = search(db, "split", "apple banana", 2)
    assert merged[0].path.startswith("full")
    assert _found(merged) == _found(search(db, "one", "apple banana", 2))


def test_a_query_is_split_into_terms_as_the_index_splits_text(db, tmp_path):
    root = tmp_path / "words"
    root.mkdir()
    (root / "cafe.md").write_text("Le Café de Flore serves crème brûlée\n")
    (root / "snake.md").write_text("a snake_case name\n")
    (root / "other.md").write_text("nothing relevant here\n")
    add_set(db, "words", root)
    reindex_here(db, "words")
    for query in ("café", "CAFÉ", "cafe", "creme brulee", "crème"):
        assert [p.path for p in search(db, "words", query)] == ["cafe.md"], query
    assert [p.path for p in search(db, "words", "snake_case")] == ["snake.md"]
    assert search(db, "words", "\"(NEAR AND\x00 —") == []  # no term the index has: nothing, no FTS5 error
    tokens = ranking.Tokens()
    try:
        assert tokens.terms("Café x_y CAFÉ \"hi\" NEAR(", 3) == ["cafe", "x", "y"]
        assert tokens.terms("near hi", 5) == ["near", "hi"]  # not the earlier text's
        assert tokens.counts(["a b a", "", "b c"], ["a", "c"]) == [({"a": 2}, 3), ({}, 0), ({"c": 1}, 2)]
    finally:
        tokens.close()


def test_shard_statistics_are_fts5s_own(db, monkeypatch, prose):
    (index,) = _index_as(db, monkeypatch, "one", prose, 1)
    conn, tokens = sqlite3.connect(index), ranking.Tokens()
    try:
        stats = ranking.shard_statistics(conn, ["w3", "w399", "absent"])
        assert stats.passages == conn.execute("SELECT count(*) FROM chunks").fetchone()[0] > 100
        assert stats.hits["w3"] == conn.execute("SELECT count(*) FROM fts WHERE fts MATCH 'w3'").fetchone()[0]
        assert "absent" not in stats.hits and stats.idf("absent") > stats.idf("w399") > stats.idf("w3")
        texts = [row[0] for row in conn.execute("SELECT text FROM chunks")]
        counted = tokens.counts(texts, ["w3", "absent"])
        assert stats.tokens == sum(length for _, length in counted)  # the averages record's total
    finally:
        conn.close()
        tokens.close()
