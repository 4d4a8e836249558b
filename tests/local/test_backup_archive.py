"""`.mirari-backup` archives on real SQLite files: a round trip row for row with the attachments' files,
and every way an archive can be bad — a flipped byte anywhere, truncation, a foreign file, a newer
schema — caught with the reason, refused by a restore that then changes nothing."""

from __future__ import annotations

import json
import sqlite3
import zipfile

import pytest
from sqlmodel import select

from local_schema import paths
from local_schema.backup import deflate
from local_schema.backup.archive import COMMENT_LENGTH, DATABASE, MANIFEST, create_archive
from local_schema.backup.restore import RestoreRefused, stage
from local_schema.backup.verify import verify_archive
from local_schema.database import open_database
from local_schema.migrations import LATEST_VERSION
from local_schema.models import SYNCED_TABLES, Conversation, MemoryNode, Message, Task


def fill(db) -> None:
    with db.write() as session:
        thread = Conversation(title="Mountains")
        session.add(thread)
        session.flush()
        session.add_all([Message(conversation_id=thread.id, role="user", content="Where is K2?"),
                         Message(conversation_id=thread.id, role="assistant", content="Karakoram, 日本 aside.")])
        session.add_all([Task(title="Pack the rope"), Task(title="Book the flight", status="done")])
        session.add(MemoryNode(label="Climbs in summer", category="habit", strength=0.8))


def add_files(database) -> dict[str, bytes]:
    folder = paths.attachments_dir(database)
    files = {"ab/abcdef01": b"\x89PNG fake image bytes" * 50, "cd/cdef0123": b"%PDF-1.7 a document", "top": b""}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def tree(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def every_row(path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in SYNCED_TABLES}
    finally:
        conn.close()


@pytest.fixture
def filled(db_path):
    db = open_database(db_path)
    fill(db)
    db.close()
    files = add_files(db_path)
    return db_path, files


@pytest.fixture
def archive(filled, tmp_path):
    db_path, _files = filled
    return create_archive(db_path, db_path.parent / "backups", kind="manual").path


def test_round_trip_row_for_row_with_the_attachments_files(filled, tmp_path):
    db_path, files = filled
    before = every_row(db_path)
    made = create_archive(db_path, tmp_path / "backups", kind="manual")
    assert made.manifest["counts"]["tasks"] == 2 and made.manifest["counts"]["messages"] == 2
    assert {m["name"] for m in made.manifest["members"]} == {DATABASE, *(f"attachments/{n}" for n in files)}
    # Everything changes afterwards: rows added, edited and deleted, a file replaced, one added.
    db = open_database(db_path)
    with db.write() as session:
        session.add(Task(title="Made after the backup"))
        for node in session.exec(select(MemoryNode)):
            session.delete(node)
    db.close()
    (paths.attachments_dir(db_path) / "top").write_bytes(b"changed")
    (paths.attachments_dir(db_path) / "new").write_bytes(b"after")

    staged = stage(made.path, db_path)
    staged.commit()
    assert every_row(db_path) == before
    assert tree(paths.attachments_dir(db_path)) == files
    assert not list(db_path.parent.glob("*restore*")), "staging and aside files are gone"
    db = open_database(db_path)  # opens, integrity-checked, as an ordinary database again
    with db.session() as session:
        assert sorted(t.title for t in session.exec(select(Task))) == ["Book the flight", "Pack the rope"]
    db.close()


def test_a_sound_archive_is_a_standard_zip_with_a_self_checked_manifest(archive):
    with zipfile.ZipFile(archive) as zf:
        assert zf.testzip() is None
        manifest = json.loads(zf.read(MANIFEST))
        assert zf.getinfo(DATABASE).compress_type == zipfile.ZIP_DEFLATED
    assert manifest["format"] == "mirari.backup" and manifest["schema_version"] == LATEST_VERSION
    assert manifest["kind"] == "manual" and manifest["account"] is None and manifest["manifest_sha256"]
    result = verify_archive(archive)
    assert result.sound, result.problems


def test_the_fast_deflate_is_really_used(tmp_path):
    """zipfile offers no hook: if a Python release renamed the attribute we swap, backups would silently
    get four times slower. This notices."""
    assert deflate.fast_available()
    with zipfile.ZipFile(tmp_path / "x.zip", "w", zipfile.ZIP_DEFLATED) as zf, zf.open("a", "w") as member:
        assert deflate.speed_up_writer(member)
        member.write(b"data" * 1000)
    with zipfile.ZipFile(tmp_path / "x.zip") as zf, zf.open("a") as member:
        assert deflate.speed_up_reader(member)
        assert member.read() == b"data" * 1000


def test_one_flipped_byte_anywhere_is_caught_with_a_reason(archive, tmp_path):
    data = archive.read_bytes()
    with zipfile.ZipFile(archive) as zf:
        database, manifest = zf.getinfo(DATABASE), zf.getinfo(MANIFEST)
    where = {
        "a local header's time": database.header_offset + 10,
        "the database member's data": database.header_offset + 30 + len(DATABASE) + 200,
        "the manifest's data": manifest.header_offset + 30 + len(MANIFEST) + 20,
        "the central directory": len(data) - COMMENT_LENGTH - 22 - 30,
        "the checksum in the comment": len(data) - 5,
    }
    # ... and a spread of places all over the file.
    where.update({f"offset {i}": i for i in range(0, len(data), max(1, len(data) // 60))})
    for label, offset in where.items():
        damaged = tmp_path / "damaged.mirari-backup"
        flipped = bytearray(data)
        flipped[offset] ^= 0x01
        damaged.write_bytes(bytes(flipped))
        result = verify_archive(damaged)
        assert not result.sound, f"a flipped byte in {label} (offset {offset}) went unnoticed"
        assert result.reason and "sound" not in result.reason


def test_the_reasons_name_what_is_damaged(archive, tmp_path):
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(DATABASE)
    data[info.header_offset + 30 + len(DATABASE) + 500] ^= 0xFF
    damaged = tmp_path / "d.mirari-backup"
    damaged.write_bytes(bytes(data))
    assert "database.sqlite3 is damaged" in verify_archive(damaged).reason
    data = bytearray(archive.read_bytes())
    data[info.header_offset + 11] ^= 0x01  # the member's modification time: no member hash covers it
    damaged.write_bytes(bytes(data))
    assert verify_archive(damaged).reason == ("the archive was changed or damaged after it was written: "
                                              "its checksum does not match")


def test_an_edited_manifest_is_caught_even_with_a_valid_zip(archive, tmp_path):
    """Someone rewrites manifest.json (e.g. a count) and re-zips: the manifest's own sha256 says so."""
    edited = tmp_path / "edited.mirari-backup"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(edited, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == MANIFEST:
                manifest = json.loads(body)
                manifest["counts"]["tasks"] = 99
                body = json.dumps(manifest).encode()
            dst.writestr(info, body)
        dst.comment = src.comment
    problems = verify_archive(edited).problems
    assert "manifest.json was changed or damaged: its own sha256 does not match" in problems


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_a_truncated_archive_is_caught(archive, tmp_path, keep):
    data = archive.read_bytes()
    cut = tmp_path / "cut.mirari-backup"
    cut.write_bytes(data[: int(len(data) * keep)])
    result = verify_archive(cut)
    assert not result.sound
    assert "incomplete" in result.reason or "damaged" in result.reason or "checksum" in result.reason


def test_foreign_files_are_not_backups(tmp_path):
    text = tmp_path / "notes.mirari-backup"
    text.write_text("just some notes\n" * 20)
    empty = tmp_path / "empty.mirari-backup"
    empty.write_bytes(b"")
    plain_zip = tmp_path / "photos.mirari-backup"
    with zipfile.ZipFile(plain_zip, "w") as zf:
        zf.writestr("photo.jpg", b"\xff\xd8 not really")
    other_manifest = tmp_path / "other.mirari-backup"
    with zipfile.ZipFile(other_manifest, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "cherry-studio", "version": 3}))
    for path in (text, empty, plain_zip, other_manifest):
        result = verify_archive(path)
        assert result.reason.startswith("not a MIRARI backup"), (path.name, result.reason)
    assert verify_archive(tmp_path / "missing.mirari-backup").reason.startswith("cannot read it")


def test_an_archive_from_a_newer_schema_is_refused_clearly_and_changes_nothing(db_path, tmp_path):
    future = tmp_path / "future" / "local.sqlite3"
    db = open_database(future)
    fill(db)
    db.close()
    conn = sqlite3.connect(future)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 3}")
    conn.close()
    made = create_archive(future, tmp_path / "backups", kind="manual")
    result = verify_archive(made.path)
    assert result.newer and result.reason == (f"made by a newer MIRARI (schema v{LATEST_VERSION + 3}; this one "
                                              f"knows up to v{LATEST_VERSION}): update MIRARI to restore it")
    open_database(db_path).close()
    before = every_row(db_path)
    with pytest.raises(RestoreRefused, match="newer MIRARI"):
        stage(made.path, db_path)
    assert every_row(db_path) == before
    assert not [p for p in db_path.parent.iterdir() if "restore" in p.name]


def test_a_damaged_archive_restores_nothing(filled, archive, tmp_path):
    db_path, files = filled
    before = every_row(db_path)
    data = bytearray(archive.read_bytes())
    data[len(data) // 3] ^= 0x10
    damaged = tmp_path / "damaged.mirari-backup"
    damaged.write_bytes(bytes(data))
    with pytest.raises(RestoreRefused):
        stage(damaged, db_path)
    assert every_row(db_path) == before and tree(paths.attachments_dir(db_path)) == files
    assert not [p for p in db_path.parent.iterdir() if "restore" in p.name]


def test_a_damaged_database_is_not_backed_up_as_if_it_were_sound(filled, tmp_path):
    db_path, _ = filled
    raw = bytearray(db_path.read_bytes())
    for offset in range(4096 * 2, min(len(raw), 4096 * 6)):  # a few pages of b-tree garbage
        raw[offset] = 0x5A
    db_path.write_bytes(bytes(raw))
    for suffix in ("-wal", "-shm"):
        db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
    from local_schema.backup.archive import ArchiveProblem

    with pytest.raises((ArchiveProblem, sqlite3.DatabaseError)):
        create_archive(db_path, tmp_path / "backups", kind="automatic")
    assert not list((tmp_path / "backups").glob("*.mirari-backup"))


def test_recovery_of_a_damaged_file_uses_the_newest_sound_archive_and_keeps_live_files(filled, archive):
    from local_schema.safety import recover_database

    db_path, files = filled
    newer_file = paths.attachments_dir(db_path) / "ef" / "made-after"
    newer_file.parent.mkdir()
    newer_file.write_bytes(b"kept")
    (paths.attachments_dir(db_path) / "top").unlink()  # lost since: the archive brings it back
    before = every_row(db_path)
    db_path.write_bytes(b"garbage, not SQLite" * 300)
    for suffix in ("-wal", "-shm"):
        db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
    result = recover_database(db_path)
    assert result.restored_from == archive and result.moved_aside.exists()
    assert every_row(db_path) == before
    assert tree(paths.attachments_dir(db_path)) == {**files, "ef/made-after": b"kept"}


def test_the_open_path_looks_for_the_marker_the_restore_writes():
    from local_schema import prepare
    from local_schema.backup import restore

    assert prepare.RESTORE_MARKER == restore.MARKER_SUFFIX


def test_members_past_the_zip64_limit_are_written_and_read_back(filled, tmp_path, monkeypatch):
    """A multi-GB database needs ZIP64 (sizes and offsets past 4 GiB). Writing gigabytes in a test is out
    of the question, so zipfile's limit is lowered: the same ZIP64 code paths run on kilobytes."""
    db_path, files = filled
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 2048)
    made = create_archive(db_path, tmp_path / "backups", kind="manual")
    monkeypatch.undo()
    with zipfile.ZipFile(made.path) as zf:
        raw = zf.getinfo(DATABASE).extra
        assert raw[:2] == b"\x01\x00", "the database member carries a ZIP64 extra field"
    assert verify_archive(made.path).sound
    staged = stage(made.path, db_path)
    staged.commit()
    assert tree(paths.attachments_dir(db_path)) == files


def test_the_read_ahead_thread_checks_alike_and_stops_on_damage_and_on_cancel(archive, tmp_path, monkeypatch):
    """Large members are inflated on a second thread while they are hashed: the same verdicts, a
    reader's error raised in order, and no thread left behind when the check stops early."""
    import threading

    from local_schema.backup import verify

    monkeypatch.setattr(verify, "READ_AHEAD_FROM", 0)
    monkeypatch.setattr(verify, "CHUNK", 512)  # many chunks, so the queue fills and the reader waits
    assert verify_archive(archive).sound
    data = archive.read_bytes()
    with zipfile.ZipFile(archive) as zf:
        start = zf.getinfo(DATABASE).header_offset + 30 + len(DATABASE)
    for offset in range(start, start + 4000, 97):
        damaged = bytearray(data)
        damaged[offset] ^= 0x40
        (tmp_path / "d.mirari-backup").write_bytes(bytes(damaged))
        result = verify_archive(tmp_path / "d.mirari-backup")
        # (a flip in an unused part of a deflate block's code table inflates to the same bytes: then only
        # the whole-file checksum can tell)
        assert "database.sqlite3 is damaged" in result.reason or "checksum does not match" in result.reason

    class Cancelled(Exception):
        pass

    calls = 0

    def check():
        nonlocal calls
        calls += 1
        if calls > 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        verify_archive(archive, check=check)
    assert not [t for t in threading.enumerate() if t.name == "mirari-verify-read"]
