"""Edge cases of docs/sync.md "Failures" that need a fabricated reply or a precise interleaving."""

import time
import uuid

from local_schema.models import Task
from standin.impersonate import ApiSession
from sync import parked
from sync.scheduler import SyncScheduler
from tests.sync.helpers import server_rows


def _as_json(row: dict) -> dict:
    return {k: (str(v) if k in ("id", "user_id", "connection_id") and v else
                v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


def test_a_page_that_does_not_move_forward_is_reported_not_looped(devices, supabase_stack, user):
    b = devices("b")
    with ApiSession(supabase_stack.db_url, user[2]) as api:
        api.all("insert into public.tasks (title) values ('one')")
        b.sync()
        [row] = api.all("select * from public.tasks")
        api.all("insert into public.tasks (title) values ('two')")  # the head moves: tasks is pulled
    supabase_stack.faults.fail_next("GET", "/rest/v1/tasks", 200, [_as_json(row)])  # same stamp again
    result = b.sync(expect_state="error")
    assert "made no progress" in result.error and result.requests == 2  # heads, then the one bad page


def test_one_page_with_a_version_and_a_tombstone_of_one_id_ends_deleted(devices, supabase_stack, user):
    b = devices("b")
    with ApiSession(supabase_stack.db_url, user[2]) as api:
        tid = str(uuid.uuid4())
        api.all("insert into public.tasks (id, title) values (%s, 'live')", (tid,))
        [live] = api.all("select * from public.tasks where id = %s", (tid,))
        api.all("update public.tasks set deleted_at = now() where id = %s", (tid,))
        [dead] = api.all("select * from public.tasks where id = %s", (tid,))
    # A fresh install can see both versions in one page (WatermelonDB#1462): the tombstone must win.
    supabase_stack.faults.fail_next("GET", "/rest/v1/tasks", 200, [_as_json(dead), _as_json(live)][::-1])
    b.sync()
    assert b.rows("tasks") == {}


def test_patch_matching_no_row_is_never_success(devices, supabase_stack, user):
    a = devices("a")
    ghost = str(uuid.uuid4())
    with a.engine.remote_tx() as conn:  # a row the server never had, without a captured insert
        conn.exec_driver_sql("INSERT INTO tasks (id, title) VALUES (?, 'ghost')", (ghost,))
    a.execute("UPDATE tasks SET title = 'edited ghost' WHERE id = ?", ghost)
    result = a.sync()
    assert result.parked == 1 and result.pushed == 0
    [item] = parked.list_parked(a.db)
    assert item.row_id == ghost and "no row with this id" in item.message
    assert server_rows(supabase_stack, "tasks", user[2]) == []


def test_413_splits_the_batch(devices, supabase_stack, user):
    a = devices("a")
    with a.session() as s:
        s.add_all([Task(title=f"t{i}") for i in range(40)])
        s.commit()
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 413, {"code": "PGRST413", "message": "too large",
                                                                   "details": None, "hint": None})
    result = a.sync()
    assert result.pushed == 40 and result.parked == 0
    assert len(server_rows(supabase_stack, "tasks", user[2])) == 40


def test_an_edit_made_while_its_push_is_in_flight_is_not_marked_synced(devices, supabase_stack, user):
    import threading

    a = devices("a")
    tid = str(uuid.uuid4())
    with a.session() as s:
        s.add(Task(id=tid, title="v1"))
        s.commit()
    supabase_stack.faults.delay("POST", "/rest/v1/tasks", 0.6, times=1)

    def edit_once_sent():
        # The user edits the row while the insert (which read title v1) is on the wire: the op's attempt
        # is counted just before the request goes out.
        deadline = time.monotonic() + 10
        while not a.scalar("SELECT max(attempts) FROM sync_outbox") and time.monotonic() < deadline:
            time.sleep(0.01)
        a.execute("UPDATE tasks SET title = 'v2' WHERE id = ?", tid)

    editor = threading.Thread(target=edit_once_sent)
    editor.start()
    result = a.sync()
    editor.join()
    assert result.pushed == 2  # the insert, then the edit as its own PATCH: it was not swallowed
    assert server_rows(supabase_stack, "tasks", user[2])[0]["title"] == "v2"
    assert a.scalar("SELECT count(*) FROM sync_outbox") == 0


def test_failed_upload_is_retried_by_the_timer_without_new_writes(devices, supabase_stack, user):
    a = devices("a")
    with a.session() as s:
        s.add(Task(title="retry me"))
        s.commit()
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 503, {"code": "PGRST001", "message": "db down",
                                                                   "details": None, "hint": None})
    scheduler = SyncScheduler(a.engine, interval=3600, debounce=0.1)
    scheduler.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not server_rows(supabase_stack, "tasks", user[2]):
            time.sleep(0.1)
    finally:
        scheduler.stop()
    assert scheduler.cycles >= 2 and len(server_rows(supabase_stack, "tasks", user[2])) == 1


def test_failed_sends_that_met_a_429_do_not_count_toward_parking_a_server_error(devices, supabase_stack, user):
    from sync.errors import MAX_SERVER_ATTEMPTS

    a = devices("a")
    with a.session() as s:
        s.add(Task(title="rate limited"))
        s.commit()
    limited = {"code": None, "message": "Too Many Requests", "details": None, "hint": None}
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 429, limited, times=MAX_SERVER_ATTEMPTS)
    for _ in range(MAX_SERVER_ATTEMPTS):  # (or a long time offline: every cycle sends, nothing arrives)
        a.sync(expect_state="error")
    boom = {"code": "XX000", "message": "boom", "details": None, "hint": None}
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 500, boom)
    failed = a.sync()  # one server error: that change waits on its own backoff, nothing is parked
    assert (failed.parked, failed.deferred) == (0, 1) and 0 < failed.retry_in <= 2
    due_now(a)
    assert a.sync().pushed == 1 and parked.list_parked(a.db) == []

    # A server error that never goes away is parked after MAX_SERVER_ATTEMPTS of them, with its message.
    with a.session() as s:
        s.add(Task(title="server keeps failing"))
        s.commit()
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 500, boom, times=MAX_SERVER_ATTEMPTS)
    for _ in range(MAX_SERVER_ATTEMPTS - 1):
        assert a.sync().parked == 0
        assert a.sync().requests == 1  # not due yet: not sent again at once (only the heads call)
        due_now(a)
    assert a.sync().parked == 1
    [item] = parked.list_parked(a.db)
    assert item.code == "XX000" and f"{MAX_SERVER_ATTEMPTS} times: boom" in item.message
    assert [r["title"] for r in server_rows(supabase_stack, "tasks", user[2])] == ["rate limited"]


def test_a_short_retry_after_is_waited_out_within_the_cycle_a_long_one_ends_it(devices, supabase_stack, user):
    a = devices("a")
    with a.session() as s:
        s.add(Task(title="after a short wait"))
        s.commit()
    busy = {"code": None, "message": "Too Many Requests", "details": None, "hint": None}
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 429, busy, headers={"Retry-After": "1"})
    started = time.monotonic()
    result = a.sync()  # not an error: the same POST went out again after the second the server asked for
    assert time.monotonic() - started >= 1.0
    assert (result.pushed, result.requests) == (1, 1 + 2 + 1 + 1)  # heads, the POST twice, heads, pull of tasks
    assert len(server_rows(supabase_stack, "tasks", user[2])) == 1

    with a.session() as s:
        s.add(Task(title="after a long wait"))
        s.commit()
    down = {"code": "PGRST001", "message": "maintenance", "details": None, "hint": None}
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 503, down, headers={"Retry-After": "120"})
    ended = a.sync(expect_state="error")  # not slept through: the scheduler waits at least that long
    assert ended.retry_after == 120 and ended.duration_s < 5 and ended.requests == 2  # heads, the POST
    assert a.engine.status()["pending"] == 1
    assert a.sync().pushed == 1


def test_scheduler_waits_at_least_the_servers_retry_after_before_the_next_cycle(devices, supabase_stack, user):
    a = devices("a")
    with a.session() as s:
        s.add(Task(title="later"))
        s.commit()
    down = {"code": "PGRST001", "message": "maintenance", "details": None, "hint": None}
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 503, down, headers={"Retry-After": "120"})
    scheduler = SyncScheduler(a.engine, interval=3600, debounce=0.1)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while (scheduler.cycles < 1 or scheduler._due is None) and time.monotonic() < deadline:
            time.sleep(0.02)  # (the next cycle is scheduled just after `cycles` is counted)
        assert scheduler.last_result.retry_after == 120
        assert scheduler.cycles == 1
        assert scheduler._due - time.monotonic() > 100  # backoff alone would be due in 1-2 s
        scheduler.request_sync()  # the user insists ("Sync now"): that is not held back
        deadline = time.monotonic() + 10
        while scheduler.cycles < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        scheduler.stop()
    assert scheduler.last_result.pushed == 1


def test_a_server_error_on_one_change_does_not_stop_the_pull(devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    with b.session() as s:
        s.add(Task(title="from b"))
        s.commit()
    b.sync()
    with a.session() as s:
        s.add(Task(title="hits a server bug"))
        s.commit()
    boom = {"code": "XX000", "message": "boom", "details": None, "hint": None}
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 500, boom)
    result = a.sync()  # retried later on its own backoff, possibly for a long time...
    assert (result.pushed, result.deferred) == (0, 1)
    assert result.pulled == 1 and "from b" in {r["title"] for r in a.rows("tasks").values()}  # ...meanwhile
    assert a.engine.status()["pending"] == 1
    assert "XX000" in a.scalar("SELECT last_error FROM sync_outbox")  # the Sync panel shows why it waits
    due_now(a)
    assert a.sync().pushed == 1


def due_now(device) -> None:
    """Skip the wait of every change on its own backoff (as if its next_attempt_at had come)."""
    device.execute("UPDATE sync_outbox SET next_attempt_at = NULL")
