"""Settings → Backups in the real window (pytest-qt): back up now, verify (sound and damaged), restore
through the data switch, automatic backups when something changed and on quit, the settings, and
File → Export all…"""

from __future__ import annotations

import json

from sqlmodel import select

from agent.backup.service import list_backups
from local_schema.backup.settings import load_settings
from local_schema.models import Task


def card(window):
    return window.show_page("settings").backups


def wait_list(qtbot, backups, count: int) -> None:
    qtbot.waitUntil(lambda: backups.table.rowCount() == count, timeout=10_000)


def add_task(window, title: str) -> None:
    with window.ctx.db.write() as session:
        session.add(Task(title=title))


def task_titles(window) -> list[str]:
    with window.ctx.db.session() as session:
        return sorted(t.title for t in session.exec(select(Task)))


def test_back_up_now_then_verify(window, qtbot, settle):
    backups = card(window)
    add_task(window, "keep me")
    job = backups.back_up_now()
    assert window.ctx.jobs.wait_idle() and job.state == "done"
    wait_list(qtbot, backups, 1)
    assert backups.table.item(0, 1).text() == "manual"
    assert "1 task" in backups.table.item(0, 3).text()
    assert backups.result_label.text().startswith("Backed up: ")
    backups.verify_selected()
    assert window.ctx.jobs.wait_idle()
    qtbot.waitUntil(lambda: "is sound" in backups.result_label.text(), timeout=5000)


def test_a_damaged_backup_is_reported_and_not_restored(window, qtbot, settle):
    backups = card(window)
    add_task(window, "keep me")
    backups.back_up_now()
    window.ctx.jobs.wait_idle()
    wait_list(qtbot, backups, 1)
    path = backups.entries[0].path
    data = bytearray(path.read_bytes())
    data[len(data) // 4] ^= 0x01
    path.write_bytes(bytes(data))
    add_task(window, "made after")
    backups.restore_selected(confirm=False)
    assert window.ctx.jobs.wait_idle()
    qtbot.waitUntil(lambda: "is not sound" in backups.result_label.text(), timeout=5000)
    settle()
    assert task_titles(window) == ["keep me", "made after"]  # nothing changed, pages still there
    assert window.pages


def test_restore_through_the_window(window, qtbot, settle):
    backups = card(window)
    add_task(window, "in the backup")
    backups.back_up_now()
    window.ctx.jobs.wait_idle()
    wait_list(qtbot, backups, 1)
    add_task(window, "made after the backup")
    old_pages = window.pages
    backups.restore_selected(confirm=False)
    window.ctx.jobs.wait_idle()
    qtbot.waitUntil(lambda: bool(window.pages) and window.pages is not old_pages and window.ctx.db is not None,
                    timeout=20_000)
    settle()
    assert task_titles(window) == ["in the backup"]
    assert "Restored the backup" in window.statusBar().currentMessage()
    assert sorted(e.kind for e in list_backups(window.ctx.data_dir)) == ["before restore", "manual"]


def test_automatic_backups_only_when_something_changed_and_on_quit(window, qtbot, settle):
    controller = window.ctx.backups
    folder = controller.folder()
    controller.changed = False
    controller.tick()
    assert window.ctx.jobs.wait_idle() and not list(folder.glob("*.mirari-backup"))  # nothing changed
    add_task(window, "a change")
    qtbot.waitUntil(lambda: controller.changed, timeout=5000)  # heard through the database's listeners
    controller.tick()
    assert window.ctx.jobs.wait_idle()
    assert [p.name.split(".")[-2] for p in folder.glob("*.mirari-backup")] == ["automatic"]
    assert controller.changed is False
    controller.tick()  # no change since: no second backup
    window.ctx.jobs.wait_idle()
    assert len(list(folder.glob("*.mirari-backup"))) == 1
    add_task(window, "another change")
    qtbot.waitUntil(lambda: controller.changed, timeout=5000)
    controller.backup_on_quit()
    assert len(list(folder.glob("*.mirari-backup"))) == 2


def test_the_schedule_and_folder_settings_are_kept(window, qtbot, tmp_path):
    backups = card(window)
    backups.every.setValue(45)
    backups.daily.setValue(3)
    backups.automatic.setChecked(False)
    saved = load_settings(window.ctx.data_dir)
    assert (saved.every_minutes, saved.keep_daily, saved.automatic) == (45, 3, False)
    assert not window.ctx.backups._timer.isActive()
    backups.automatic.setChecked(True)
    assert window.ctx.backups._timer.interval() == 45 * 60_000
    chosen = tmp_path / "usb"
    backups.choose_folder(str(chosen))
    assert str(chosen) in backups.folder_label.text() and window.ctx.backups.folder() == chosen
    backups.use_default_folder()
    assert window.ctx.backups.folder() == window.ctx.data_dir / "backups"


def test_export_all_from_the_file_menu(window, qtbot, tmp_path, settle):
    add_task(window, "export me")
    assert [a.text() for a in window.menuBar().actions()] == ["&File"]
    dialog = window.export_all()
    dialog.folder.setText(str(tmp_path / "out"))
    job = dialog.export()
    assert window.ctx.jobs.wait_idle() and job.state == "done"
    [task] = [json.loads(line) for line in (tmp_path / "out" / "tasks.jsonl").read_text().splitlines()]
    assert task["title"] == "export me"
    again = window.export_all()
    again.folder.setText(str(tmp_path / "out"))
    assert again.export() is None and "not empty" in again.error.text()
    again.reject()


def test_the_sync_panel_says_a_restored_backups_change_is_held_not_refused(qtbot, tmp_path, memory_keyring):
    import sqlite3

    from local_schema.database import open_database
    from sync.restored import settle_restored
    from sync.secrets import SecretStore
    from tests.desktop.conftest import close_window, open_window

    db = open_database(tmp_path / "local.sqlite3")
    with db.write() as session:
        session.add(Task(title="waiting in the backup"))
    db.close()
    conn = sqlite3.connect(tmp_path / "local.sqlite3", isolation_level=None)
    settle_restored(conn, "3f1c2d4e-0000-4000-8000-000000000001", "2026-12-07T10:00:00.000000+00:00")
    conn.close()
    w = open_window(qtbot, tmp_path, SecretStore(tmp_path, backend=memory_keyring))
    try:
        panel = w.open_sync_panel()
        qtbot.waitUntil(lambda: panel.refused_list.count() == 1, timeout=5000)
        assert panel.reason_label.text().startswith("Held: this change was waiting in a restored backup")
        assert "title: waiting in the backup" in panel.attempt_view.toPlainText()
    finally:
        close_window(w)


def test_another_accounts_backup_is_refused_before_the_window_switches(window, qtbot, settle):
    from agent.backup.service import create_backup
    from local_schema import paths
    from local_schema.database import open_database

    account_db = paths.database_path(window.ctx.data_dir, "3f1c2d4e-0000-4000-8000-000000000001")
    open_database(account_db).close()
    create_backup(window.ctx.data_dir, database=account_db)
    backups = card(window)
    backups.refresh()
    wait_list(qtbot, backups, 1)
    pages = window.pages
    backups.restore_selected(confirm=False)
    window.ctx.jobs.wait_idle()
    qtbot.waitUntil(lambda: "sign in to that account" in backups.result_label.text(), timeout=5000)
    assert window.pages is pages  # nothing was torn down
