"""Backup policies: Anki-style thinning with an injected clock, the listing, restore's refusals, and the
export of everything (JSON lines with column names as keys, Markdown threads)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from agent.backup import service
from agent.backup.export_all import ExportError, export_all, safe_file_name
from agent.backup.thinning import Limits, obsolete, thin_folder
from local_schema import paths
from local_schema.backup.archive import archive_name
from local_schema.backup.restore import RestoreRefused
from local_schema.backup.settings import BackupSettings, save_settings
from local_schema.database import open_database
from local_schema.models import Conversation, MemoryNode, Message, Skill, Task

ZONE = ZoneInfo("Europe/Berlin")


def every_half_hour(start: datetime, end: datetime) -> list[tuple[Path, datetime]]:
    made, moment = [], start
    while moment <= end:
        made.append((Path(moment.isoformat()), moment))
        moment += timedelta(minutes=30)
    return made


def test_thinning_keeps_today_and_yesterday_then_12_days_10_weeks_9_months():
    now = datetime(2026, 12, 7, 15, 0, tzinfo=ZONE)  # a Monday afternoon
    backups = every_half_hour(now - timedelta(days=500), now)
    gone = set(obsolete(backups, Limits(12, 10, 9), now))
    kept = sorted((made for path, made in backups if path not in gone), reverse=True)
    yesterday = now.date() - timedelta(days=1)
    recent = [m for m in kept if m.astimezone(ZONE).date() >= yesterday]
    older = [m for m in kept if m.astimezone(ZONE).date() < yesterday]
    assert len(recent) == sum(1 for _, m in backups if m.astimezone(ZONE).date() >= yesterday)  # all of them
    assert len(older) == 12 + 10 + 9
    days = [m.astimezone(ZONE).date() for m in older]
    assert days[:12] == [yesterday - timedelta(days=i) for i in range(1, 13)]  # one a day, the newest of each
    assert all(m.astimezone(ZONE).time().strftime("%H:%M") == "23:30" for m in older[:12])
    # Then 10 weekly and 9 monthly ones, each from a week (or, once the weeks are used up, a month) of its
    # own: as in Anki, a week's older day in an earlier month may be kept as that month's.
    weeks = [d.isocalendar()[:2] for d in days[12:]]
    assert days == sorted(set(days), reverse=True)
    assert len(set(weeks)) >= 10 and len({(d.year, d.month) for d in days[12:]}) >= 9
    assert min(older) > now - timedelta(days=400)  # about a year, as Anki says


def test_thinning_uses_the_local_day_of_the_clock_it_is_given():
    late = datetime(2026, 12, 7, 0, 30, tzinfo=ZONE)  # 23:30 UTC the day before
    two_days_ago = [(Path("a"), datetime(2026, 12, 5, 10, tzinfo=ZONE)), (Path("b"), datetime(2026, 12, 5, 9, tzinfo=ZONE))]
    assert obsolete(two_days_ago, Limits(12, 10, 9), late) == [Path("b")]  # same day: the newer is kept
    assert obsolete(two_days_ago, Limits(12, 10, 9), late.replace(day=6)) == []  # "yesterday": both kept
    assert obsolete(two_days_ago, Limits(0, 0, 0), late) == [Path("a"), Path("b")]


def test_thinning_a_folder_spares_manual_backups_and_thins_each_database_apart(tmp_path):
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    made = []
    for days in range(40):
        moment = now - timedelta(days=days + 3)
        for stem, kind in (("local", "automatic"), ("3f1c2d4e-0000-4000-8000-000000000001", "automatic"),
                           ("local", "manual"), ("local", "before migration")):
            path = tmp_path / archive_name(Path(f"{stem}.sqlite3"), kind, moment)
            path.write_bytes(b"")
            made.append(path)
    removed = thin_folder(tmp_path, Limits(daily=5, weekly=0, monthly=0), now)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert sum(".manual." in n for n in left) == 40  # never thinned
    assert sum(n.startswith("local.") and ".manual." not in n for n in left) == 5
    assert sum(n.startswith("3f1c2d4e") for n in left) == 5
    assert len(removed) == 40 * 3 - 10


def fill(db) -> None:
    with db.write() as session:
        thread = Conversation(title="Tea / coffee: a question?")
        session.add(thread)
        session.flush()
        session.add_all([Message(conversation_id=thread.id, role="user", content="Tea or coffee?"),
                         Message(conversation_id=thread.id, role="assistant", content="Tea, **always**.")])
        session.add(Task(title="Buy tea"))
        session.add(MemoryNode(label="Prefers tea", category="preference", strength=0.9))
        session.add(Skill(name="Brew", test_cases=[{"prompt": "p", "expectations": []}], last_test={"score": 1}))


@pytest.fixture
def data_dir(tmp_path):
    data_dir = tmp_path / "data"
    db = open_database(data_dir / "local.sqlite3")
    fill(db)
    db.close()
    return data_dir


def test_backups_go_to_the_folder_chosen_in_settings_and_are_listed_newest_first(data_dir, tmp_path):
    first = service.create_backup(data_dir)
    assert first.path.parent == data_dir / "backups"
    chosen = tmp_path / "elsewhere"
    save_settings(data_dir, BackupSettings(folder=str(chosen)))
    second = service.create_backup(data_dir, kind="automatic")
    assert second.path.parent == chosen
    (chosen / "broken.mirari-backup").write_bytes(b"PK\x03\x04 and then nothing")
    entries = service.list_backups(data_dir)
    assert [e.path for e in entries if e.problem is None] == [second.path]
    [broken] = [e for e in entries if e.problem]
    assert "not a complete ZIP archive" in broken.problem
    [entry] = [e for e in entries if e.problem is None]
    assert entry.kind == "automatic" and entry.counts()["messages"] == 2 and entry.counts()["tasks"] == 1
    assert entry.to_json()["path"] == str(second.path)


def test_a_restore_refuses_another_accounts_backup_and_a_window_holding_the_data(data_dir):
    from sync import accounts
    from sync.errors import SyncError

    archive = service.create_backup(data_dir).path
    alice = "3f1c2d4e-0000-4000-8000-000000000001"
    account_db = paths.database_path(data_dir, alice)
    db = open_database(account_db)
    fill(db)
    db.close()
    theirs = service.create_backup(data_dir, database=account_db).path
    assert service.list_backups(data_dir)[0].path == theirs
    # Signed out, on the signed-out database: the account's backup is not restored over it.
    with pytest.raises(RestoreRefused, match="the data of the account 3f1c2d4e-.*sign in to that account"):
        service.restore_backup(data_dir, theirs)
    lock = accounts.app_lock(data_dir)
    lock.acquire(timeout=0)  # a window has the data open
    try:
        with pytest.raises(SyncError, match="MIRARI is open on this data folder"):
            service.restore_backup(data_dir, archive)
    finally:
        lock.release()
    service.restore_backup(data_dir, archive)


def test_export_json_writes_every_table_with_its_column_names_and_the_files(data_dir, tmp_path):
    db_path = data_dir / "local.sqlite3"
    folder = paths.attachments_dir(db_path)
    (folder / "ab").mkdir(parents=True)
    (folder / "ab" / "abc123").write_bytes(b"\x00\x01 bytes")
    db = open_database(db_path)
    try:
        with db.session() as session:
            task = session.exec(select(Task)).one()
        with db.write() as session:  # a deleted row is not exported
            session.add(Task(title="gone"))
        with db.write() as session:
            gone = session.exec(select(Task).where(Task.title == "gone")).one()
            session.delete(gone)
        result = export_all(db, "json", tmp_path / "export")
    finally:
        db.close()
    out = tmp_path / "export"
    assert result.rows["messages"] == 2 and result.files == 1
    tasks = [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]
    assert [t["title"] for t in tasks] == ["Buy tea"] and tasks[0]["id"] == task.id
    assert set(tasks[0]) == {"id", "user_id", "connection_id", "title", "description", "status", "created_at",
                             "updated_at", "deleted_at"}
    [skill] = [json.loads(line) for line in (out / "skills.jsonl").read_text().splitlines()]
    assert skill["test_cases"] == [{"prompt": "p", "expectations": []}] and skill["last_test"] == {"score": 1}
    assert (out / "attachments" / "ab" / "abc123").read_bytes() == b"\x00\x01 bytes"
    assert (out / "connection_checks.jsonl").exists() and "JSON lines" in (out / "README.md").read_text()
    assert not list(tmp_path.glob("export.partial-*"))


def test_export_markdown_writes_every_thread(data_dir, tmp_path):
    db = open_database(data_dir / "local.sqlite3")
    try:
        result = export_all(db, "markdown", tmp_path / "md")
        with pytest.raises(ExportError, match="not an empty folder"):
            export_all(db, "json", tmp_path / "md")
    finally:
        db.close()
    [thread] = list((tmp_path / "md" / "threads").iterdir())
    assert result.threads == 1 and "Tea  coffee" not in thread.name and "Tea coffee a question" in thread.name
    text = thread.read_text()
    assert text.startswith("# Tea / coffee: a question?") and "Tea, **always**." in text


def test_file_names_are_valid_everywhere():
    assert safe_file_name("a/b\\c:d*e?f\"g<h>i|j") == "a b c d e f g h i j"
    assert safe_file_name("  ...  ") == "Untitled" and safe_file_name("CON") == "_CON"
    assert len(safe_file_name("x" * 500)) == 80


def test_removing_an_accounts_local_data_removes_its_backups_too(tmp_path):
    from sync import accounts

    data_dir = tmp_path / "data"
    alice = "3f1c2d4e-0000-4000-8000-000000000001"
    path = accounts.signed_in(data_dir, alice, "alice@example.com")
    db = open_database(path)  # a new account's database: migrated from nothing, no archive needed
    fill(db)
    db.close()
    theirs = service.create_backup(data_dir).path
    assert theirs.name.startswith(alice) and service.list_backups(data_dir)[0].account == "alice@example.com"
    local = open_database(data_dir / "local.sqlite3")
    local.close()
    kept = service.create_backup(data_dir, database=data_dir / "local.sqlite3").path
    accounts.signed_out(data_dir, remove_data=True)
    assert not theirs.exists() and kept.exists()
