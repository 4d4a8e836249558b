"""A damaged file gives a clear error, loses nothing, and recovery brings a working database back."""

from __future__ import annotations

import os
import random
import sqlite3

import pytest
from sqlalchemy import text
from sqlmodel import select

from local_schema import database
from local_schema.database import open_database
from local_schema.migrations import LATEST_VERSION
from local_schema.models import Conversation, Message
from local_schema.safety import DatabaseCorrupt, backups_of, recover_database
from tests.local.test_migrations import make_v1_file
from tests.portable import mode_of, shown_mode


def _fill(db, count=400):
    with db.session() as session:
        conv = Conversation(title="filler")
        session.add(conv)
        session.flush()
        session.add_all(
            Message(conversation_id=conv.id, role="user", content=f"message {i} " + "lorem ipsum " * 40)
            for i in range(count)
        )
        session.commit()


def _damage_pages(path) -> None:
    """Scribble over the middle of the file, leaving the header valid: only integrity_check notices."""
    size = path.stat().st_size
    page = 4096
    assert size > 20 * page, "need a file with enough pages to damage"
    noise = random.Random(20240501)
    with open(path, "r+b") as handle:
        for offset in range(3 * page, size - page, 5 * page):
            handle.seek(offset + 100)
            handle.write(noise.randbytes(600))


def test_damaged_pages_without_backup_then_fresh_start(db_path):
    db = open_database(db_path)
    _fill(db)
    db.close()  # last connection closes: the WAL is checkpointed into the file
    _damage_pages(db_path)
    damaged = db_path.read_bytes()

    with pytest.raises(DatabaseCorrupt) as caught:
        open_database(db_path)
    error = caught.value
    assert error.path == db_path and error.backup is None
    assert str(db_path) in str(error) and "no backup" in str(error) and "recover_database" in str(error)
    assert db_path.read_bytes() == damaged  # opening changed nothing

    result = recover_database(db_path)
    assert result.restored_from is None
    assert result.moved_aside.read_bytes() == damaged  # kept for manual rescue
    assert not db_path.exists()
    db = open_database(db_path)
    with db.session() as session:
        assert session.exec(select(Message)).all() == []
        session.add(Conversation(title="fresh"))
        session.commit()
    db.close()


def test_not_a_database_at_all(db_path):
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is a text file, not SQLite\n" * 200)
    with pytest.raises(DatabaseCorrupt, match="not a database"):
        open_database(db_path)


def test_recovery_restores_the_newest_sound_backup(db_path):
    make_v1_file(db_path)
    db = open_database(db_path)  # migrates, leaving a v1 backup
    _fill(db)
    db.close()
    (good_backup,) = backups_of(db_path)
    assert good_backup.name.endswith(".before-migration.mirari-backup")  # the migration's archive
    # A newer backup that is itself damaged must be skipped.
    bad_backup = db_path.with_name(f"{db_path.name}.29991231T000000000000Z.v2.bak")
    bad_backup.write_bytes(b"\0" * 8192)
    _damage_pages(db_path)
    wal = db_path.with_name(db_path.name + "-wal")
    wal.write_bytes(b"stale wal that must not be replayed into the restored file")

    with pytest.raises(DatabaseCorrupt) as caught:
        open_database(db_path)
    assert caught.value.backup == bad_backup  # the message names the newest candidate
    assert bad_backup.name in str(caught.value)

    result = recover_database(db_path)
    assert result.restored_from == good_backup
    assert result.moved_aside.exists() and not wal.exists()
    assert os.path.exists(f"{result.moved_aside}-wal")
    assert mode_of(db_path) == shown_mode(0o600)

    db = open_database(db_path)  # the restored v1 copy is migrated again
    try:
        with db.session() as session:
            titles = sorted(c.title for c in session.exec(select(Conversation)))
            assert titles == ["old thread"]  # the state of the backup, not the later filler
            assert session.execute(text("PRAGMA user_version")).scalar() == LATEST_VERSION
    finally:
        db.close()


def test_integrity_check_does_not_mistake_a_busy_file_for_damage(db_path, monkeypatch):
    open_database(db_path).close()
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 100)
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("PRAGMA journal_mode = DELETE")
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            open_database(db_path)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    open_database(db_path).close()
    assert backups_of(db_path) == []


@pytest.mark.parametrize("folder", ["C# notes", "100%20 done", "why?"])
def test_recovery_finds_backups_whatever_the_folder_is_called(tmp_path, folder):
    """The data dir is the user's choice (--data-dir): '#', '%' and '?' in it must not hide the backups."""
    db_path = tmp_path / folder / "local.sqlite3"
    make_v1_file(db_path)
    open_database(db_path).close()  # migrates, leaving a v1 backup
    (backup,) = backups_of(db_path)
    _damage_pages_of_a_filled(db_path)

    result = recover_database(db_path)
    assert result.restored_from == backup
    db = open_database(db_path)
    try:
        with db.session() as session:
            assert [c.title for c in session.exec(select(Conversation))] == ["old thread"]
    finally:
        db.close()


def _damage_pages_of_a_filled(db_path) -> None:
    db = open_database(db_path)
    _fill(db)
    db.close()
    _damage_pages(db_path)
    with pytest.raises(DatabaseCorrupt):
        open_database(db_path)
