"""The engine around the cycle: schema mismatch pauses one table, the scheduler runs off the caller's thread,
the CLI drives the same engine."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from local_schema.models import Skill, Task
from sync.scheduler import SyncScheduler
from tests.sync.helpers import server_rows

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_table_or_column_pauses_that_table_with_update_required(devices, supabase_stack, user):
    a = devices("a")
    with a.session() as s:
        s.add_all([Task(title="goes through"), Skill(name="waits")])
        s.commit()
    supabase_stack.faults.fail_next("POST", "/rest/v1/skills", 400, {
        "code": "PGRST204", "message": "Could not find the 'name' column of 'skills' in the schema cache",
        "details": None, "hint": None})
    result = a.sync(expect_state="update required")
    assert "skills" in result.paused_tables and "update required" in result.error
    assert [r["title"] for r in server_rows(supabase_stack, "tasks", user[2])] == ["goes through"]
    assert a.engine.status()["pending"] == 1  # the skill waits; nothing dropped
    assert a.engine.status()["state"] == "update required"
    # Next cycle the push works, but reading the table fails the same way: the pull of it pauses.
    supabase_stack.faults.fail_next("GET", "/rest/v1/skills", 404, {
        "code": "PGRST205", "message": "Could not find the table 'public.skills' in the schema cache",
        "details": None, "hint": None})
    second = a.sync(expect_state="update required")
    assert second.pushed == 1 and list(second.paused_tables) == ["skills"]
    assert [r["name"] for r in server_rows(supabase_stack, "skills", user[2])] == ["waits"]
    assert a.sync().state == "idle"  # the server was fixed: the table resumes by itself


def test_scheduler_syncs_off_the_calling_thread_after_local_changes(devices):
    a, b = devices("a"), devices("b")
    states, threads = [], set()

    def on_state(state, detail):
        states.append(state)
        threads.add(threading.current_thread().name)

    a.engine.on_state = on_state
    scheduler = SyncScheduler(a.engine, interval=3600, debounce=0.2)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while scheduler.cycles < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        with a.session() as s:
            s.add(Task(title="typed"))
            s.commit()
        for _ in range(5):  # a burst of changes becomes one cycle after the debounce
            scheduler.notify_local_change()
        deadline = time.monotonic() + 10
        while scheduler.cycles < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
        assert scheduler.cycles == 2 and scheduler.last_result.pushed == 1
    finally:
        scheduler.stop()
    assert threads == {"mirari-sync"} and "syncing" in states and states[-1] == "idle"
    b.sync()
    assert [r["title"] for r in b.rows("tasks").values()] == ["typed"]


def test_cli_account_sync_status_round_trip(supabase_stack, tmp_path, user, file_keyring_env):
    env = {**os.environ, **file_keyring_env, "MIRARI_SUPABASE_URL": supabase_stack.url,
           "MIRARI_SUPABASE_ANON_KEY": supabase_stack.anon_key, "MIRARI_PASSWORD": user[1]}

    def mirari(*args):
        return subprocess.run([sys.executable, "-m", "mirari", "--data-dir", str(tmp_path), *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    login = mirari("account", "login", "--email", user[0])
    assert login.returncode == 0, login.stderr
    assert f"signed in as {user[0]}" in login.stdout
    result = mirari("sync", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["state"] == "idle" and summary["requests"] == 1  # the heads call: nothing moved
    assert {"pushed", "pulled", "parked", "duration_s"} <= set(summary)
    status = json.loads(mirari("status", "--json").stdout)
    assert status["account"]["user_id"] == user[2] and status["last_sync"] and status["pending"] == 0
    assert status["database"].endswith(f"{user[2]}.sqlite3")
    wrong = subprocess.run([sys.executable, "-m", "mirari", "--data-dir", str(tmp_path / "x"), "account",
                            "login", "--email", user[0]], cwd=ROOT, env={**env, "MIRARI_PASSWORD": "wrong-pw"},
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 1 and wrong.stderr.strip() == "mirari: error: Wrong email or password."
    out = mirari("account", "logout")
    assert out.returncode == 0 and "local data kept" in out.stdout
    assert json.loads(mirari("status", "--json").stdout)["state"] == "signed out"


def test_unreachable_server_means_offline_with_the_queue_intact(devices, supabase_stack):
    import socket

    from sync.config import SupabaseConfig
    from sync.engine import SyncEngine

    a = devices("a")
    with a.session() as s:
        s.add(Task(title="written offline"))
        s.commit()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    offline = SyncEngine(a.data_dir, config=SupabaseConfig(dead, supabase_stack.anon_key))
    try:
        result = offline.run_cycle()
    finally:
        offline.close()
    assert result.state == "offline" and "ConnectError" in result.error and "\n" not in result.error
    assert a.engine.status()["pending"] == 1
    assert a.sync().pushed == 1  # back online: nothing was lost


def test_sync_tunes_its_own_connections_and_leaves_the_apps_alone(devices):
    from local_schema.database import open_database

    a = devices("a")
    a.sync()
    app = open_database(a.db.path)  # the app's own handle on the same file
    try:
        with a.db.engine.connect() as ours, app.engine.connect() as theirs:
            assert ours.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 65536  # see dbutil.checkpoint
            assert ours.exec_driver_sql("PRAGMA cache_size").scalar() == -16384
            assert theirs.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
            assert theirs.exec_driver_sql("PRAGMA cache_size").scalar() == -2000
    finally:
        app.close()


def test_two_cycles_on_one_database_never_overlap(devices, supabase_stack, user):
    from sync.engine import SyncEngine

    a = devices("a")
    with a.session() as s:
        s.add_all([Task(title=f"t{i}") for i in range(20)])
        s.commit()
    other = SyncEngine(a.data_dir)  # e.g. `mirari sync` while the app's scheduler syncs the same database
    supabase_stack.faults.delay("POST", "/rest/v1/tasks", 0.5, times=1)
    results, barrier = [], threading.Barrier(2)

    def cycle(engine):
        barrier.wait()
        results.append(engine.run_cycle())

    threads = [threading.Thread(target=cycle, args=(e,)) for e in (a.engine, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    other.close()
    assert [r.state for r in results] == ["idle", "idle"]
    # The second cycle waited for the first and found nothing left to send (overlapping, both would
    # have sent the 20 rows, the second seeing its own duplicates as "already there").
    assert sorted(r.pushed for r in results) == [0, 20]
    assert len(server_rows(supabase_stack, "tasks", user[2])) == 20
