"""Restoring a backup on a signed-in device, with two devices on the stand-in: a change that was waiting
in the backup while another device changed the same row is held as refused ("from a restored backup"),
everything newer on the server is pulled, and the other device's newer value wins unless the person
retries; a retry pushes the backup's version, a discard keeps the server's."""

from __future__ import annotations

from sqlmodel import select

from agent.backup.service import create_backup, restore_backup
from local_schema.models import Task
from sync import parked
from sync.restored import RESTORED
from tests.sync.helpers import server_rows


def titles(device) -> dict[str, str]:
    return {row["id"]: row["title"] for row in device.rows("tasks").values()}


def edit(device, task_id: str, title: str) -> None:
    with device.db.write() as session:
        task = session.get(Task, task_id)
        task.title = title
        session.add(task)


def restore_on(device, archive):
    device.engine.close_database()  # as the window does: its database closed during the swap
    return restore_backup(device.data_dir, archive)


def test_restore_holds_the_backups_waiting_change_and_the_newer_value_wins(devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    with a.db.write() as session:
        session.add_all([Task(title="shared v1"), Task(title="deleted later"), Task(title="untouched")])
    a.sync()
    ids = {title: tid for tid, title in titles(a).items()}
    shared, doomed = ids["shared v1"], ids["deleted later"]
    edit(a, shared, "edited on A, in the backup")  # waiting to be pushed when the backup is taken
    archive = create_backup(a.data_dir).path
    assert archive.name.startswith(a.engine.database().path.stem)
    a.sync()  # ... and pushed afterwards

    b.sync()
    edit(b, shared, "newer on B")
    with b.db.write() as session:
        session.delete(session.get(Task, doomed))
        session.add(Task(title="made on B after the backup"))
    b.sync()

    restored = restore_on(a, archive)
    assert restored.held == 1 and restored.before is not None
    a.sync()
    # Nothing stale was pushed: the server and B keep B's newer value; A shows it too, and what B deleted
    # and made after the backup is gone and there on A.
    server = {r["title"] for r in server_rows(supabase_stack, "tasks", user[2]) if r["deleted_at"] is None}
    assert server == {"newer on B", "untouched", "made on B after the backup"}
    assert set(titles(a).values()) == server
    b.sync()
    assert set(titles(b).values()) == server
    # The backup's change is held for the person, with its reason and the backup's value.
    [held] = parked.list_parked(a.db)
    assert held.message == RESTORED and held.row_id == shared and held.kind == "update"
    assert parked.attempted_write(a.db, held) == {"id": shared, "title": "edited on A, in the backup"}

    # Retry: the backup's version is written again and pushed; every device gets it.
    assert parked.retry(a.db, held.op_seq) == 1
    assert titles(a)[shared] == "edited on A, in the backup"
    a.sync()
    b.sync()
    assert titles(b)[shared] == "edited on A, in the backup"
    assert parked.list_parked(a.db) == []


def test_discarding_a_held_change_keeps_the_servers_version(devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    with a.db.write() as session:
        session.add(Task(title="v1"))
    a.sync()
    [tid] = titles(a)
    edit(a, tid, "stale")
    archive = create_backup(a.data_dir).path
    b.sync()
    edit(b, tid, "newer on B")
    b.sync()
    restore_on(a, archive)
    a.sync()
    assert titles(a)[tid] == "newer on B"
    [held] = parked.list_parked(a.db)
    assert "restored the server's version" in parked.discard(a.engine, held.op_seq)
    a.sync()
    assert titles(a)[tid] == "newer on B" and parked.list_parked(a.db) == []
    assert [r["title"] for r in server_rows(supabase_stack, "tasks", user[2])] == ["newer on B"]


def test_a_row_only_in_the_backup_is_pushed_once_the_person_retries(devices, supabase_stack, user):
    a = devices("a")
    a.sync()
    with a.db.write() as session:
        session.add(Task(title="never pushed"))
    archive = create_backup(a.data_dir).path
    with a.db.write() as session:  # removed before it was ever pushed: the server never had it
        for task in session.exec(select(Task)):
            session.delete(task)
    a.sync()
    restore_on(a, archive)
    a.sync()
    assert list(titles(a).values()) == ["never pushed"]  # here, but not pushed on its own
    assert server_rows(supabase_stack, "tasks", user[2]) == []
    [held] = parked.list_parked(a.db)
    assert held.kind == "insert" and held.message == RESTORED
    parked.retry(a.db, held.op_seq)
    a.sync()
    assert [r["title"] for r in server_rows(supabase_stack, "tasks", user[2])] == ["never pushed"]
