"""Knowledge folders: chunks with line numbers, BM25 search with sources, reindex of changed, new, touched
and deleted files, unreadable files remembered as skipped, cancel keeps what was done, the passages a
turn gets."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest

from agent.jobs import JobContext
from agent.knowledge.chunking import chunks
from agent.knowledge.index import (
    KnowledgeError,
    add_set,
    index_files,
    list_sets,
    reindex,
    reindex_here,
    remove_set,
    set_by_name,
    skipped_files,
)
from agent.knowledge.search import fts_query, knowledge_block, passages_for_turn, search
from standin.demo.pdf import make_pdf


def _write(folder, rel, text, mtime=None):
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    if mtime is not None:
        os.utime(path, ns=(mtime, mtime))
    return path


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "notes"
    _write(root, "garden.md", "# Garden\n\nTomatoes need sun.\nWater the basil daily.\n")
    _write(root, "code/solver.py", "def solve(x):\n    # quadratic formula\n    return x * x\n")
    _write(root, "paper.pdf", make_pdf("Photosynthesis turns light into sugar"))
    _write(root, "image.bin.txt", b"\x00\x01binary")
    _write(root, ".git/config.txt", "hidden: never indexed")
    _write(root, "picture.png", b"\x89PNG not indexed by name")
    return root


def _fts_ok(db, name: str) -> None:
    """The set's index file is sound: SQLite's integrity check, and FTS5's against the passages."""
    (index,) = index_files(db, set_by_name(db, name)[0])  # a small set: one shard
    conn = sqlite3.connect(index)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.execute("INSERT INTO fts (fts, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def test_chunks_keep_line_numbers():
    text = "".join(f"line {n}\n" for n in range(1, 401))
    parts = list(chunks(text, size=100))
    assert parts[0][0] == 1 and parts[-1][1] == 400
    for (start, end, piece), nxt in zip(parts, parts[1:], strict=False):
        assert piece.splitlines() == [f"line {n}" for n in range(start, end + 1)]
        assert nxt[0] == end + 1
    assert list(chunks("\n\n\n   \n")) == []
    long = list(chunks("x" * 10_000 + "\nafter\n"))
    assert all(len(piece) <= 4000 for _, _, piece in long) and long[-1][2].endswith("after")
    assert {start for start, _, _ in long[:-1]} == {1}


def test_search_finds_passages_with_file_and_line(db, folder):
    add_set(db, "notes", folder)
    report = reindex(db, "notes")
    assert (report.files, report.read, report.skipped) == (4, 3, 1)
    (top, *_) = search(db, "notes", "how much water does basil need")
    assert (top.path, top.start_line, top.end_line, top.source) == ("garden.md", 1, 4, "garden.md:1-4")
    assert "Water the basil daily." in top.text
    (pdf,) = search(db, "notes", "photosynthesis")
    assert pdf.path == "paper.pdf" and "light into sugar" in pdf.text
    assert search(db, "notes", 'quadratic AND (" NEAR') [0].path == "code/solver.py"  # FTS syntax is just words
    assert search(db, "notes", "!!! ???") == []
    assert skipped_files(db, "notes") == [("image.bin.txt", "image.bin.txt is a binary file, not text, an image or "
                                                              "a PDF")]
    (item,) = list_sets(db)
    assert (item.name, item.files, item.skipped, item.passages) == ("notes", 3, 1, 3) and item.indexed_at
    _fts_ok(db, "notes")


def test_reindex_picks_up_changed_new_touched_and_deleted_files(db, folder):
    add_set(db, "notes", folder)
    reindex(db, "notes")
    base = time.time_ns()
    _write(folder, "garden.md", "# Garden\n\nCucumbers climb.\n", mtime=base + 10**9)  # changed
    _write(folder, "new/ideas.txt", "A brand new idea about kites.\n")  # new
    (folder / "code/solver.py").unlink()  # deleted
    os.utime(folder / "paper.pdf", ns=(base + 2 * 10**9, base + 2 * 10**9))  # touched, same bytes
    report = reindex(db, "notes")
    assert (report.read, report.removed, report.unchanged, report.skipped) == (2, 1, 2, 0)
    assert search(db, "notes", "basil") == []
    assert search(db, "notes", "cucumbers")[0].source == "garden.md:1-3"
    assert search(db, "notes", "kites")[0].path == "new/ideas.txt"
    assert search(db, "notes", "quadratic") == []
    assert search(db, "notes", "photosynthesis")[0].path == "paper.pdf"
    again = reindex(db, "notes")
    assert (again.read, again.unchanged, again.bytes) == (0, 4, 0)  # nothing read at all
    _fts_ok(db, "notes")


def test_a_cancelled_reindex_keeps_what_it_finished(db, tmp_path, monkeypatch):
    monkeypatch.setattr("agent.knowledge.build.PROGRESS_EVERY", 0)  # a report before every file (in this process)
    root = tmp_path / "many"
    for n in range(30):
        _write(root, f"f{n:02}.txt", f"document number {n} about topic{n}\n")
    add_set(db, "many", root)
    ctx = JobContext()
    seen = []

    def progress(done, total, text):
        seen.append(text)
        if len(seen) == 10:  # while the 10th file is read: the 11th never starts
            ctx.cancel.cancel()
    ctx.on_progress = progress
    report = reindex_here(db, "many", ctx)
    assert report.cancelled and report.read == 10
    assert list_sets(db)[0].indexed_at is None and list_sets(db)[0].files == 10
    assert search(db, "many", "topic3")[0].path == "f03.txt" and search(db, "many", "topic25") == []
    assert reindex(db, "many").read == 20  # the rest, nothing twice
    assert list_sets(db)[0].files == 30


def test_removing_a_set_leaves_the_files_and_a_clean_index(db, folder):
    add_set(db, "notes", folder)
    reindex(db, "notes")
    (index,) = index_files(db, set_by_name(db, "notes")[0])
    remove_set(db, "notes")
    assert list_sets(db) == [] and (folder / "garden.md").exists()
    assert list(index.parent.iterdir()) == []  # the index file and its WAL are gone
    with pytest.raises(KnowledgeError, match="no knowledge set named notes"):
        search(db, "notes", "basil")


def test_names_and_folders_are_checked(db, folder, tmp_path):
    add_set(db, "notes", folder)
    with pytest.raises(KnowledgeError, match="already a knowledge set named notes"):
        add_set(db, "notes", folder)
    with pytest.raises(KnowledgeError, match="is not a folder"):
        add_set(db, "other", tmp_path / "missing")
    with pytest.raises(KnowledgeError, match="printable"):
        add_set(db, "a\x00b", folder)


def test_the_passages_a_turn_gets_and_their_block(db, folder, tmp_path):
    add_set(db, "notes", folder)
    reindex(db, "notes")
    other = tmp_path / "other"
    _write(other, "basil.txt", "Basil likes warm weather and daily water.\n")
    add_set(db, "kitchen", other)
    reindex(db, "kitchen")
    chosen = passages_for_turn(db, ["notes", "kitchen"], "water for basil", limit=2)
    assert sorted(p.source for p in chosen) == ["basil.txt:1", "garden.md:1-4"]
    assert chosen == sorted(chosen, key=lambda p: p.score)
    assert knowledge_block(chosen[:1]).startswith("Passages from the user's knowledge folders (cite them as "
                                                  "[file:line]):\n\n<passage source=")
    assert passages_for_turn(db, ["notes"], "water", max_chars=10) == []
    assert fts_query('he said "hi" (NEAR)') == '"he" OR "said" OR "hi" OR "near"'


def test_words_in_most_passages_are_left_out_when_rarer_ones_remain(db, tmp_path):
    root = tmp_path / "common"
    for n in range(40):
        _write(root, f"n{n:02}.txt", f"water note {n}" + (" zephyr" if n == 7 else "") + "\n")
    add_set(db, "common", root)
    reindex(db, "common")
    assert [p.path for p in search(db, "common", "water zephyr")] == ["n07.txt"]  # "water" is everywhere
    assert len(search(db, "common", "water", limit=50)) == 40  # alone, it is still searched
    assert search(db, "common", "water unheardof") != []  # a word no passage has is no obstacle
