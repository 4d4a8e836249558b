"""Versioned local migrations: upgrading a populated older file keeps its data and a backup first."""

from __future__ import annotations

import sqlite3

import pytest
from sqlmodel import select

from local_schema import migrations
from local_schema.backup.verify import read_manifest, verify_archive
from local_schema.database import SchemaTooNew, open_database
from local_schema.migrations import LATEST_VERSION, Migration, MigrationError, migrate
from local_schema.models import AgentConnection, ConnectionCheck, Conversation, Message, MirrorReport
from local_schema.safety import backups_of
from local_schema.search import search_messages
from tests.outbox_ops import pending_ops
from tests.portable import mode_of, shown_mode

CONN_ID = "0b7f5c2e-3f6a-4d1e-9a53-6c1d2e3f4a5b"
CONV_ID = "1c8a6d3f-4a7b-4e2f-8b64-7d2e3f4a5b6c"
STAMP = "2024-05-01T12:00:00.123456+00:00"


def _unpacked(archive, target):
    """The database snapshot of an archive, written to `target` (checked on the way)."""
    assert verify_archive(archive, database_to=target).sound
    return target


def make_v1_file(path) -> None:
    """A database as the first release left it: schema v1 with user data and captured ops."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    migrate(conn, target=1)
    conn.execute(
        "INSERT INTO agent_connections (id, name, provider, base_url, model, created_at, updated_at)"
        " VALUES (?, 'Hermes', 'hermes', 'http://localhost:11434/v1', 'hermes3', ?, ?)",
        (CONN_ID, STAMP, STAMP),
    )
    conn.execute(
        "INSERT INTO conversations (id, agent_connection_id, title) VALUES (?, ?, 'old thread')",
        (CONV_ID, CONN_ID),
    )
    conn.executemany(
        "INSERT INTO messages (conversation_id, role, content) VALUES (?, ?, ?)",
        [(CONV_ID, "user", "what is a rowan tree?"), (CONV_ID, "assistant", "A rowan is a mountain ash.")],
    )
    conn.execute(
        "INSERT INTO mirror_reports (agent_connection_id, strengths) VALUES (?, ?)", (CONN_ID, '["concise"]')
    )
    conn.close()


def test_v1_file_upgrades_with_data_intact_and_a_backup(db_path):
    make_v1_file(db_path)
    db = open_database(db_path)
    try:
        with db.session() as session:
            conn = session.get(AgentConnection, CONN_ID)
            assert (conn.name, conn.created_at, conn.updated_at) == ("Hermes", STAMP, STAMP)
            assert session.get(Conversation, CONV_ID).title == "old thread"
            assert len(session.exec(select(Message)).all()) == 2
            assert session.exec(select(MirrorReport)).one().strengths == ["concise"]
            # The ops captured before the upgrade are still queued, in order.
            assert [op.table_name for op in pending_ops(session)] == [
                "agent_connections",
                "conversations",
                "messages",
                "messages",
                "mirror_reports",
            ]
            # v2's improvements work on the old data: search indexed the existing messages...
            hits = search_messages(session, "rowan")
            assert {hit.role for hit in hits} == {"user", "assistant"}
            # ...and connection checks can be recorded.
            session.add(ConnectionCheck(connection_id=CONN_ID, status="online"))
            session.commit()
    finally:
        db.close()
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()
    # A "before migration" archive in the data dir's backups folder, sound, holding the v1 file.
    (backup,) = backups_of(db_path)
    assert backup.parent == db_path.parent / "backups"
    assert backup.name.startswith("local.") and backup.name.endswith(".before-migration.mirari-backup")
    assert mode_of(backup) == shown_mode(0o600)
    verification = verify_archive(backup)
    assert verification.sound, verification.problems
    assert verification.manifest["kind"] == "before migration" and verification.manifest["schema_version"] == 1
    copy = sqlite3.connect(_unpacked(backup, db_path.parent / "unpacked.sqlite3"))
    try:
        assert copy.execute("PRAGMA user_version").fetchone()[0] == 1
        assert copy.execute("SELECT count(*) FROM messages").fetchone()[0] == 2
    finally:
        copy.close()
    # Opening again migrates nothing and backs up nothing.
    open_database(db_path).close()
    assert len(backups_of(db_path)) == 1


def test_backup_includes_changes_still_in_the_wal(db_path):
    make_v1_file(db_path)
    writer = sqlite3.connect(db_path)
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # keep the next commit only in the -wal file
    writer.execute("INSERT INTO tasks (title) VALUES ('only in the wal')")
    writer.commit()
    # writer stays open, so the WAL is not checkpointed into the main file when we migrate
    try:
        open_database(db_path).close()
    finally:
        writer.close()
    (backup,) = backups_of(db_path)
    copy = sqlite3.connect(_unpacked(backup, db_path.parent / "unpacked.sqlite3"))
    try:
        assert copy.execute("SELECT title FROM tasks").fetchall() == [("only in the wal",)]
    finally:
        copy.close()


def test_failed_migration_leaves_the_previous_version_and_the_data(db_path, monkeypatch):
    make_v1_file(db_path)
    open_database(db_path).close()
    current, broken_version = LATEST_VERSION, LATEST_VERSION + 1

    def broken(conn):
        conn.execute("ALTER TABLE tasks ADD COLUMN priority INTEGER")
        conn.execute("INSERT INTO nowhere VALUES (1)")

    monkeypatch.setattr(migrations, "MIGRATIONS",
                        (*migrations.MIGRATIONS, Migration(broken_version, "broken", broken)))
    monkeypatch.setattr(migrations, "LATEST_VERSION", broken_version)
    with pytest.raises(MigrationError, match=rf"v{broken_version} \(broken\).*unchanged at v{current}"):
        open_database(db_path)
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == current
        assert "priority" not in [row[1] for row in raw.execute("PRAGMA table_info(tasks)")]
        assert raw.execute("SELECT count(*) FROM messages").fetchone()[0] == 2
    finally:
        raw.close()
    assert [read_manifest(b)["schema_version"] for b in backups_of(db_path)] == [current, 1]


def test_a_file_from_a_newer_mirari_is_refused_untouched(db_path):
    open_database(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    raw.close()
    before = db_path.read_bytes()
    with pytest.raises(SchemaTooNew, match="newer than this MIRARI"):
        open_database(db_path)
    assert db_path.read_bytes() == before


def test_copies_older_versions_left_beside_the_file_still_count_as_backups(db_path):
    make_v1_file(db_path)
    legacy = db_path.with_name(f"{db_path.name}.20200101T000000000000Z.v1.bak")
    legacy.write_bytes(b"an older version's copy")
    open_database(db_path).close()
    archive, older = backups_of(db_path)  # newest first, whatever their kind
    assert archive.name.endswith(".before-migration.mirari-backup") and older == legacy


def test_v5_gives_old_mirror_reports_the_review_columns_and_captures_them(db_path):
    make_v1_file(db_path)
    db = open_database(db_path)
    try:
        with db.write() as session:
            report = session.exec(select(MirrorReport)).one()
            assert (report.details, report.previous_prompt, report.applied_at) == ({}, None, None)
            report.details = {"memory_used": []}
            report.previous_prompt = "Be brief."
            report.applied_at = STAMP
            session.add(report)
        with db.session() as session:
            last = pending_ops(session)[-1]
        assert (last.table_name, last.kind) == ("mirror_reports", "update")
        assert sorted(last.changed_columns) == ["applied_at", "details", "previous_prompt"]
    finally:
        db.close()


def test_v6_gives_messages_an_order_that_matches_the_servers_backfill(db_path):
    """Rows the server has get exactly the microseconds of their created_at (what the server migration
    gives them, so nothing is pulled again); rows only this device has come after what precedes them;
    filling seq in is not a change to push."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    migrate(conn, target=5)
    conn.execute("INSERT INTO conversations (id, title) VALUES (?, 't')", (CONV_ID,))
    synced = [("a0000000-0000-4000-8000-000000000001", "2024-05-01T12:00:00.5+00:00"),
              ("a0000000-0000-4000-8000-000000000002", "2024-05-01T12:00:01.123456+00:00")]
    conn.executemany("INSERT INTO messages (id, conversation_id, role, content, created_at) "
                     "VALUES (?, ?, 'user', 'synced', ?)", [(i, CONV_ID, at) for i, at in synced])
    conn.execute("DELETE FROM sync_outbox")  # pushed: the server has them
    # Written offline with a clock behind: its created_at sorts before the synced rows.
    conn.execute("INSERT INTO messages (id, conversation_id, role, content, created_at) VALUES "
                 "('b0000000-0000-4000-8000-000000000003', ?, 'user', 'offline', '2024-04-30T12:00:00+00:00')",
                 (CONV_ID,))
    conn.close()
    open_database(db_path).close()
    raw = sqlite3.connect(db_path)
    try:
        seqs = dict(raw.execute("SELECT id, seq FROM messages"))
        assert seqs[synced[0][0]] == 1714564800_500000 and seqs[synced[1][0]] == 1714564801_123456
        assert seqs["b0000000-0000-4000-8000-000000000003"] == 1714478400_000000  # its own time: first
        assert [k for (k,) in raw.execute("SELECT kind FROM sync_outbox")] == ["insert"]  # nothing new
        # A raw insert without seq is given one after the thread's last message, and that is not captured.
        raw.execute("INSERT INTO messages (conversation_id, role, content, created_at) "
                    "VALUES (?, 'user', 'raw', '2020-01-01T00:00:00+00:00')", (CONV_ID,))
        raw.commit()
        assert raw.execute("SELECT seq FROM messages WHERE content = 'raw'").fetchone()[0] == 1714564801_123457
        assert [k for (k,) in raw.execute("SELECT kind FROM sync_outbox")] == ["insert", "insert"]
    finally:
        raw.close()


def test_v9_attributes_old_replies_to_their_threads_connection_without_pushing_anything(db_path):
    """Replies written before v9 read as before (the thread's connection and its model, as the server
    migration fills the rows it has); the user's messages and threads without a connection stay
    unattributed; filling in is not a change to push, a later change of the columns is."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    migrate(conn, target=8)
    conn.execute("INSERT INTO agent_connections (id, name, provider, base_url, model) "
                 "VALUES (?, 'Hermes', 'hermes', 'http://localhost:11434/v1', 'hermes3')", (CONN_ID,))
    conn.execute("INSERT INTO conversations (id, agent_connection_id, title) VALUES (?, ?, 't')", (CONV_ID, CONN_ID))
    conn.execute("INSERT INTO conversations (id, title) VALUES ('c0000000-0000-4000-8000-000000000009', 'none')")
    conn.executemany("INSERT INTO messages (id, conversation_id, role, content) VALUES (?, ?, ?, ?)", [
        ("a0000000-0000-4000-8000-000000000001", CONV_ID, "user", "q"),
        ("a0000000-0000-4000-8000-000000000002", CONV_ID, "assistant", "r"),
        ("a0000000-0000-4000-8000-000000000003", "c0000000-0000-4000-8000-000000000009", "assistant", "orphan")])
    conn.execute("DELETE FROM sync_outbox")  # pushed: the server has them
    conn.close()
    db = open_database(db_path)
    try:
        with db.session() as session:
            authors = {m.content: (m.agent_connection_id, m.model) for m in session.exec(select(Message))}
            assert authors == {"q": (None, None), "r": (CONN_ID, "hermes3"), "orphan": (None, None)}
            assert pending_ops(session) == []
        with db.write() as session:
            reply = session.get(Message, "a0000000-0000-4000-8000-000000000002")
            reply.model = "hermes3:70b"
            session.add(reply)
        with db.session() as session:
            (op,) = pending_ops(session)
        assert (op.kind, op.changed_columns) == ("update", ["model"])
    finally:
        db.close()


def test_v9_raw_inserts_follow_the_thread_but_not_a_forged_seq(db_path):
    db = open_database(db_path)
    db.close()
    raw = sqlite3.connect(db_path)
    try:
        raw.execute("INSERT INTO conversations (id, title) VALUES (?, 't')", (CONV_ID,))
        raw.execute("INSERT INTO messages (conversation_id, role, content, created_at, seq) "
                    "VALUES (?, 'user', 'forged', '2024-05-01T12:00:00+00:00', 9223372036854775807)", (CONV_ID,))
        raw.execute("INSERT INTO messages (conversation_id, role, content, created_at, seq) "
                    "VALUES (?, 'user', 'real', '2024-05-01T12:00:00+00:00', 1714564801000000)", (CONV_ID,))
        raw.execute("INSERT INTO messages (conversation_id, role, content, created_at) "
                    "VALUES (?, 'user', 'raw', '2020-01-01T00:00:00+00:00')", (CONV_ID,))
        raw.commit()
        assert raw.execute("SELECT seq FROM messages WHERE content = 'raw'").fetchone()[0] == 1714564801000001
    finally:
        raw.close()
