"""kill -9 (TerminateProcess on Windows) during a backup and during a restore, in a real child process
stopped at each of its steps: the data is as it was (or, past the commit, wholly restored), never half.

The child reports its steps through the ordinary progress callback and waits at the chosen one, so the
kill lands exactly there; the next open of the database (`open_database`) undoes an interrupted swap."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from local_schema import paths
from local_schema.backup.verify import verify_archive
from local_schema.database import open_database
from local_schema.models import SYNCED_TABLES, Task

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys, time
from pathlib import Path
from agent.backup.service import create_backup, restore_backup
mode, data_dir, archive, stop_at = sys.argv[1:5]

def progress(done, total, text):
    line = f"{done}/{total} {text}"
    print(line, flush=True)
    if stop_at in line:
        print("PAUSED", flush=True)
        time.sleep(600)

if mode == "backup":
    create_backup(Path(data_dir), kind="manual", progress=progress)
else:
    restore_backup(Path(data_dir), Path(archive), progress=progress)
print("FINISHED", flush=True)
"""


def run_until(mode: str, data_dir: Path, archive: Path | None, stop_at: str) -> bool:
    """Run the child until it reports `stop_at`, then kill it. False if it finished without reaching it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, mode, str(data_dir), str(archive or ""), stop_at],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:
            if line.strip() == "PAUSED":
                child.kill()
                child.wait(30)
                return True
            if line.strip() == "FINISHED":
                break
        child.wait(60)
        raise AssertionError(f"the child never reached {stop_at!r}: {child.stderr.read()[-2000:]}")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        child.stdout.close()
        child.stderr.close()


def rows(db_path: Path) -> dict[str, list[tuple]]:
    db = open_database(db_path)  # the next start: undoes an interrupted restore, checks the file
    try:
        with db.engine.connect() as conn:
            return {t: conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in SYNCED_TABLES}
    finally:
        db.close()


def files(db_path: Path) -> dict[str, bytes]:
    folder = paths.attachments_dir(db_path)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def add_tasks(db_path: Path, *titles: str) -> None:
    db = open_database(db_path)
    with db.write() as session:
        session.add_all([Task(title=t) for t in titles])
    db.close()


@pytest.fixture
def data(tmp_path):
    data_dir = tmp_path / "data"
    db_path = data_dir / "local.sqlite3"
    add_tasks(db_path, *(f"task {i}" for i in range(300)))
    folder = paths.attachments_dir(db_path)
    (folder / "aa").mkdir(parents=True)
    (folder / "aa" / "first").write_bytes(b"x" * 100_000)
    return data_dir, db_path


BACKUP_STEPS = ["Taking a snapshot", "Writing the backup", "Backed up"]


@pytest.mark.parametrize("step", BACKUP_STEPS)
def test_kill_during_a_backup_leaves_the_data_and_no_half_archive(data, step):
    data_dir, db_path = data
    before, before_files = rows(db_path), files(db_path)
    run_until("backup", data_dir, None, step)
    assert rows(db_path) == before and files(db_path) == before_files
    for archive in (data_dir / "backups").glob("*.mirari-backup"):  # a finished one, or none
        assert verify_archive(archive).sound
    assert len(list((data_dir / "backups").glob("*.mirari-backup"))) == (1 if step == "Backed up" else 0)
    from agent.backup.service import create_backup, list_backups

    create_backup(data_dir)  # the next backup works beside the leftovers, which are never listed
    assert all(entry.problem is None for entry in list_backups(data_dir))


RESTORE_STEPS = ["Checking every file", "Taking a snapshot", "Writing the backup",
                 "0/5 Putting", "1/5 Putting", "2/5 Putting", "3/5 Putting", "4/5 Putting", "5/5 Restored"]


@pytest.mark.parametrize("step", RESTORE_STEPS)
def test_kill_during_a_restore_leaves_the_data_as_it_was_or_wholly_restored(data, step):
    from agent.backup.service import create_backup, restore_backup

    data_dir, db_path = data
    backup = create_backup(data_dir).path
    backed_up, backed_up_files = rows(db_path), files(db_path)
    add_tasks(db_path, "made after the backup")
    (paths.attachments_dir(db_path) / "aa" / "second").write_bytes(b"later")
    before, before_files = rows(db_path), files(db_path)

    run_until("restore", data_dir, backup, step)
    if step.startswith("5/5"):  # past the commit: the restore is whole
        assert rows(db_path) == backed_up and files(db_path) == backed_up_files
    else:
        assert rows(db_path) == before and files(db_path) == before_files
    assert not db_path.with_name(db_path.name + ".restore.json").exists()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    # A restore afterwards works (it clears what the killed one left).
    restore_backup(data_dir, backup)
    assert rows(db_path) == backed_up and files(db_path) == backed_up_files
    assert not [p for p in db_path.parent.iterdir() if "restore-staging" in p.name]
