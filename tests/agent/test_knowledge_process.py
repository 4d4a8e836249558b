"""The knowledge index in its own file, written by a separate process: a crash mid-index leaves a usable
index, Cancel keeps the finished files, a process that dies is a clear error, a deleted or damaged index
is built again, the database's write lock is never needed, and backups leave the index out."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.attachments.reading import AttachmentRefused, decode_text
from agent.jobs import JobCancelled, JobContext
from agent.knowledge import store, worker
from agent.knowledge.errors import KnowledgeError
from agent.knowledge.files import text_of, walk
from agent.knowledge.index import add_set, index_files, list_sets, reindex, remove_set, set_by_name
from agent.knowledge.search import search
from local_schema import paths

FILES = 24
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda"]


def _fill(root: Path, version: str, size: int = 400_000) -> None:
    """FILES files of `size` bytes, every passage carrying `version` (old/new) and the file's number."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(version)
    for n in range(FILES):
        lines, length = [], 0
        while length < size:
            line = f"{version}{n:02} {version}marker " + " ".join(rng.choice(WORDS) for _ in range(12))
            lines.append(line)
            length += len(line) + 1
        path = root / f"doc{n:02}.md"
        path.write_text("\n".join(lines) + "\n")
        stamp = time.time_ns() + (10**9 if version == "new" else 0)
        os.utime(path, ns=(stamp, stamp))


def _index(db, name: str) -> sqlite3.Connection:
    (index,) = index_files(db, set_by_name(db, name)[0])  # under SHARD_MIN_BYTES: one shard
    return sqlite3.connect(index)


def _sound(db, name: str) -> None:
    conn = _index(db, name)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.execute("INSERT INTO fts (fts, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def _versions(db, name: str) -> dict[str, set[str]]:
    """Each indexed file's versions, as its passages say (a file half old, half new would show both)."""
    conn = _index(db, name)
    try:
        found: dict[str, set[str]] = {}
        for path, text in conn.execute("SELECT f.path, c.text FROM chunks c JOIN files f ON f.id = c.file_id"):
            found.setdefault(path, set()).add(text.split(maxsplit=1)[0][:3])
        return found
    finally:
        conn.close()


@pytest.fixture
def spawned(monkeypatch):
    """The indexing processes started by this test (real processes; the list lets a test kill one)."""
    started: list[subprocess.Popen] = []
    real = worker._spawn

    def spawn(argv):
        child = real(argv)
        started.append(child)
        return child
    monkeypatch.setattr(worker, "_spawn", spawn)
    return started


def test_the_index_is_a_private_file_beside_the_database_and_needs_no_write_lock(db, tmp_path):
    root = tmp_path / "docs"
    _fill(root, "old", size=20_000)
    set_id = add_set(db, "docs", root)
    blocker = sqlite3.connect(db.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # a long write on the database (a sync cycle, a chat save)
    try:
        report = reindex(db, "docs")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert (report.read, report.rebuilt) == (FILES, True)
    (index,) = index_files(db, set_id)
    assert index == paths.knowledge_dir(db.path) / f"{set_id}.0.sqlite3" == tmp_path / "data" / "local.knowledge" / index.name
    if os.name == "posix":
        assert index.stat().st_mode & 0o777 == 0o600 and index.parent.stat().st_mode & 0o777 == 0o700
    assert search(db, "docs", "old07")[0].path == "doc07.md"
    _sound(db, "docs")


def test_a_crash_mid_index_leaves_a_usable_index_and_a_clear_error(db, tmp_path, monkeypatch, spawned):
    root = tmp_path / "docs"
    _fill(root, "old")
    add_set(db, "docs", root)
    assert reindex(db, "docs").read == FILES
    _fill(root, "new")  # every file changes
    monkeypatch.setattr("agent.knowledge.build.BATCH_BYTES", 300_000)  # a commit after about every file
    lock = _index(db, "docs")
    lock.isolation_level = None
    lock.execute("BEGIN IMMEDIATE")  # the process's first commit waits for this lock …
    killed = []

    def progress(done, total, text):
        if killed or text == "done":
            return
        seen = lock.execute("PRAGMA data_version").fetchone()[0]
        lock.execute("ROLLBACK")  # … until its first report: then it commits one file …
        deadline = time.monotonic() + 30
        while lock.execute("PRAGMA data_version").fetchone()[0] == seen and time.monotonic() < deadline:
            pass
        spawned[-1].kill()  # … and dies mid-index, wherever it is: between two commits or inside one
        killed.append(done)
    try:
        with pytest.raises(KnowledgeError) as failure:
            reindex(db, "docs", JobContext(on_progress=progress))
    finally:
        lock.close()
    assert "the indexing process of docs stopped unexpectedly" in str(failure.value)
    assert "the files indexed before it stopped are kept: reindex to finish" in str(failure.value)
    if os.name == "posix":
        assert "killed by SIGKILL" in str(failure.value)
    _sound(db, "docs")
    versions = _versions(db, "docs")
    assert len(versions) == FILES and all(len(v) == 1 for v in versions.values())  # each file old or new, whole
    assert 0 < sum(v == {"new"} for v in versions.values()) < FILES
    assert search(db, "docs", "old03 new03")  # searchable meanwhile
    (item,) = list_sets(db)
    assert item.files == FILES and item.problem is None

    report = reindex(db, "docs")
    assert not report.cancelled and report.read + report.unchanged == FILES and 0 < report.read < FILES
    assert set().union(*_versions(db, "docs").values()) == {"new"}
    assert search(db, "docs", "oldmarker") == [] and search(db, "docs", "new05")[0].path == "doc05.md"
    _sound(db, "docs")


def test_the_indexing_process_runs_below_the_apps_priority(db, tmp_path, spawned):
    """Background work: on a busy machine a core the window wants is the window's."""
    root = tmp_path / "docs"
    _fill(root, "old", size=2_000)
    add_set(db, "docs", root)
    reindex(db, "docs")
    _fill(root, "new", size=2_000)
    lock = _index(db, "docs")
    lock.isolation_level = None
    lock.execute("BEGIN IMMEDIATE")  # the process waits at its first commit, alive while we look
    seen = []

    def progress(done, total, text):
        if not seen:
            child = spawned[-1]
            seen.append(os.getpriority(os.PRIO_PROCESS, child.pid) if os.name == "posix" else None)
            lock.execute("ROLLBACK")
    try:
        report = reindex(db, "docs", JobContext(on_progress=progress))
    finally:
        lock.close()
    assert report.read == FILES
    if os.name == "posix":
        assert seen == [min(19, os.getpriority(os.PRIO_PROCESS, 0) + worker.NICENESS)]


def test_cancel_reaches_the_process_and_keeps_the_finished_files(db, tmp_path, spawned):
    root = tmp_path / "docs"
    _fill(root, "old")
    add_set(db, "docs", root)
    ctx = JobContext()
    ctx.on_progress = lambda done, total, text: ctx.cancel.cancel()  # at the first report
    report = reindex(db, "docs", ctx)
    assert report.cancelled and 1 <= report.read < FILES
    (item,) = list_sets(db)
    assert item.indexed_at is None and item.files == report.read
    rest = reindex(db, "docs")
    assert (rest.read, rest.unchanged, rest.cancelled) == (FILES - report.read, report.read, False)
    assert list_sets(db)[0].indexed_at is not None and list_sets(db)[0].files == FILES
    assert [child.returncode for child in spawned] == [0, 0]  # both ended on their own, cleanly
    _sound(db, "docs")


def test_a_big_set_is_indexed_in_shards_by_parallel_processes(db, tmp_path, monkeypatch, spawned):
    root = tmp_path / "docs"
    _fill(root, "old", size=20_000)  # 24 files, ~480 KB
    monkeypatch.setattr("agent.knowledge.index.SHARD_MIN_BYTES", 150_000)  # → 3 shards …
    monkeypatch.setattr("os.cpu_count", lambda: 4)  # … on a machine with the cores for them
    set_id = add_set(db, "docs", root)
    seen = []
    report = reindex(db, "docs", JobContext(on_progress=lambda done, total, text: seen.append((done, total, text))))
    assert len(spawned) == 3 and (report.files, report.read, report.rebuilt) == (FILES, FILES, True)
    assert seen[-1][0] == seen[-1][1] == sum(p.stat().st_size for p in root.iterdir()) and seen[-1][2] == "done"
    shards = index_files(db, set_id)
    assert [p.name for p in shards] == [f"{set_id}.{k}.sqlite3" for k in range(3)]
    placed = []
    for shard, path in enumerate(shards):
        conn = sqlite3.connect(path)
        names = [row[0] for row in conn.execute("SELECT path FROM files")]
        assert names and all(store.shard_of(name, 3) == shard for name in names)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.execute("INSERT INTO fts (fts, rank) VALUES ('integrity-check', 1)")
        conn.close()
        placed += names
    assert sorted(placed) == [f"doc{n:02}.md" for n in range(FILES)]  # each file in exactly one shard
    for n in (0, 7, 13, 23):  # a search merges the shards
        assert search(db, "docs", f"old{n:02} kappa")[0].path == f"doc{n:02}.md"
    (item,) = list_sets(db)
    assert (item.files, item.indexed_at is not None) == (FILES, True)
    assert item.passages == sum(sqlite3.connect(p).execute("SELECT count(*) FROM chunks").fetchone()[0] for p in shards)

    monkeypatch.setattr("agent.knowledge.index.SHARD_MIN_BYTES", 10**9)  # the same folder in one shard
    add_set(db, "single", root)
    reindex(db, "single")
    for query in ("lambda theta", "kappa old05 zeta", "epsilon"):
        merged, single = search(db, "docs", query, 5), search(db, "single", query, 5)
        assert len(merged) == 5 and [(p.path, p.start_line, p.score) for p in merged] == [
            (p.path, p.start_line, p.score) for p in single]  # merged by the set's BM25: as one index ranks

    _fill(root, "new", size=20_000)  # one shard damaged, every file changed: the damaged shard is built anew
    shards[1].write_bytes(b"garbage" * 100)
    again = reindex(db, "docs")
    assert (again.read, again.rebuilt, again.files) == (FILES, True, FILES) and len(spawned) == 3 + 1 + 3
    assert search(db, "docs", "oldmarker") == [] and search(db, "docs", "new09")[0].path == "doc09.md"
    remove_set(db, "docs")
    assert index_files(db, set_id) == []


def test_a_process_that_cannot_start_or_is_killed_after_cancel_is_said(db, tmp_path, monkeypatch):
    root = tmp_path / "docs"
    _fill(root, "old", size=2_000)
    add_set(db, "docs", root)
    monkeypatch.setattr(worker, "command", lambda: [str(tmp_path / "no-such-program")])
    with pytest.raises(KnowledgeError, match="the indexing process could not be started"):
        reindex(db, "docs")
    monkeypatch.setattr(worker, "command", lambda: [sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(worker, "CANCEL_GRACE", 0.2)  # a child that ignores Cancel is killed after this
    ctx = JobContext()
    ctx.cancel.cancel()
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        reindex(db, "docs", ctx)
    assert time.monotonic() - started < 10


def test_the_index_is_built_again_when_deleted_or_damaged(db, tmp_path):
    root = tmp_path / "docs"
    _fill(root, "old", size=20_000)
    add_set(db, "docs", root)
    reindex(db, "docs")
    (index,) = index_files(db, set_by_name(db, "docs")[0])

    index.unlink()  # deleted (a clean-up tool, a restore)
    assert search(db, "docs", "old01") == []
    assert (list_sets(db)[0].indexed_at, list_sets(db)[0].passages) == (None, 0)
    report = reindex(db, "docs")
    assert (report.rebuilt, report.read) == (True, FILES) and search(db, "docs", "old01")

    index.write_bytes(b"this is not a database at all" * 1000)  # garbage
    with pytest.raises(KnowledgeError, match="docs: the search index is damaged .*: reindex to build it again"):
        search(db, "docs", "old01")
    assert "reindex to build it again" in list_sets(db)[0].problem
    report = reindex(db, "docs")
    assert (report.rebuilt, report.read) == (True, FILES) and search(db, "docs", "old01")[0].path == "doc01.md"
    assert list_sets(db)[0].problem is None
    _sound(db, "docs")

    conn = _index(db, "docs")  # damaged inside: a page of the passages overwritten (a torn write)
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    root_page = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'chunks'").fetchone()[0]
    conn.close()
    with open(index, "r+b") as handle:
        handle.seek((root_page - 1) * page)
        handle.write(b"\xff" * page)
    report = reindex(db, "docs")  # quick_check finds it
    assert (report.rebuilt, report.read) == (True, FILES)
    _sound(db, "docs")


def test_removing_a_set_and_sweeping_leave_no_index_behind(db, tmp_path):
    root = tmp_path / "docs"
    _fill(root, "old", size=2_000)
    add_set(db, "docs", root)
    add_set(db, "other", root)
    reindex(db, "docs")
    folder = paths.knowledge_dir(db.path)
    stray = folder / "0f0f0f0f-0000-4000-8000-000000000000.sqlite3"  # of a set this database does not have
    stray.write_bytes(b"x")
    (folder / "0f0f0f0f-0000-4000-8000-000000000000.damaged").write_text("x")
    reindex(db, "other")  # a reindex sweeps what no set owns
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{set_by_name(db, n)[0]}.0.sqlite3" for n in ("docs", "other"))
    remove_set(db, "docs")
    remove_set(db, "other")
    assert list(folder.iterdir()) == []


def test_backups_leave_the_index_out(db, tmp_path):
    from local_schema.backup.archive import create_archive

    root = tmp_path / "docs"
    _fill(root, "old", size=2_000)
    add_set(db, "docs", root)
    reindex(db, "docs")
    archive = create_archive(Path(db.path), tmp_path / "backups", kind="manual")
    import zipfile

    with zipfile.ZipFile(archive.path) as zf:
        names = zf.namelist()
    assert not any("knowledge" in name for name in names)


def _through_the_command(job: dict, env: dict) -> tuple[int, list[dict]]:
    child = subprocess.Popen([sys.executable, "-m", "mirari", "knowledge", "index-worker"], env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdin.write(json.dumps(job).encode() + b"\n")
    child.stdin.flush()  # and kept open: its end would mean "the app went away", a cancel
    messages = [json.loads(line) for line in child.stdout]
    child.stdin.close()
    return child.wait(timeout=60), messages


def test_the_bundle_runs_the_indexing_process_through_the_command(db, tmp_path):
    """A PyInstaller bundle starts `mirari knowledge index-worker`: the same protocol through the CLI."""
    root = tmp_path / "docs"
    _fill(root, "old", size=2_000)
    set_id = add_set(db, "docs", root)
    job = {"name": "docs", "set_id": set_id, "folder": str(root.resolve()),
           "index": str(paths.knowledge_dir(db.path) / f"{set_id}.0.sqlite3")}
    env = {**os.environ, "PYTHONPATH": str(Path(worker.__file__).resolve().parents[2]),
           "MIRARI_DATA_DIR": str(tmp_path / "cli-data")}
    code, messages = _through_the_command(job, env)
    assert code == 0
    assert messages[-1]["report"]["read"] == FILES and messages[-1]["report"]["cancelled"] is False
    assert all("progress" in m for m in messages[:-1]) and messages[-2]["progress"][2] == "done"
    assert search(db, "docs", "old02")[0].path == "doc02.md"
    code, messages = _through_the_command(dict(job, folder=str(tmp_path / "missing")), env)
    assert code == 1 and messages == [{"error": f"the folder of docs is gone: {tmp_path / 'missing'}"}]


def test_reading_files_agrees_with_the_attachment_reader(tmp_path):
    rng = random.Random(5)
    samples = [b"plain text\n", b"crlf\r\nlines\r\n", b"\xef\xbb\xbfbom text", "caf\u00e9 \u65e5\u672c\n".encode(),
               b"\xff\xfe" + "utf16".encode("utf-16-le"), b"nul\x00inside", b"\xc3\x28 not utf-8", b"\x01" * 9 + b"a" * 10,
               b"\x01" * 8 + b"a" * 10, (b"\x07" + b"x" * 98) * 2000, "\u00e9".encode() * 60_000 + b"\x01" * 2_000]
    samples += [bytes(rng.choice(b"ab \n\r\t\x01\x0b\x0c\x7f\xc3\xa9") for _ in range(rng.randint(0, 400))) for _ in range(300)]
    for data in samples:
        try:
            expected = decode_text(data, "x.md")
        except AttachmentRefused as exc:
            with pytest.raises(AttachmentRefused) as got:
                text_of("x.md", data)
            assert str(got.value) == str(exc)
        else:
            assert text_of("x.md", data) == expected


def test_walk_lists_regular_files_in_a_stable_order(tmp_path):
    root = tmp_path / "w"
    for rel in ("b.md", "a.txt", "sub/z.py", "sub/deeper/y.md", "a2/x.md", ".hidden/h.md", "node_modules/n.md",
                "image.png", ".dot.md"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    if os.name == "posix":
        os.symlink(root / "sub", root / "link-to-sub")  # a folder symlink: not followed
        os.mkfifo(root / "pipe.txt")  # never read (it would block)
    assert [rel for rel, _, _ in walk(root)] == ["a.txt", "b.md", "a2/x.md", "sub/z.py", "sub/deeper/y.md"]
