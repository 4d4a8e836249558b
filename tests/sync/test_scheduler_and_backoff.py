"""The scheduler and the engine when things go wrong: the loop never dies, a local edit never cuts a
backoff or a server's Retry-After short, a change failing with 5xx waits on its own backoff while the
rest of the queue goes on, and a paused table cannot starve the others."""

from __future__ import annotations

import time

import pytest

from local_schema.models import SYNCED_TABLES, Conversation, Message, Skill, Task
from sync import scheduler as scheduler_module
from sync.engine import ERROR, IDLE, SyncEngine
from sync.scheduler import SyncScheduler
from tests.sync.helpers import server_rows

BOOM = {"code": "XX000", "message": "boom", "details": None, "hint": None}


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def due_now(device) -> None:
    device.execute("UPDATE sync_outbox SET next_attempt_at = NULL")


class _BrokenOnce(SyncEngine):
    """A real engine whose first cycle raises (as a bug in it would), to prove the loop survives."""

    raised = False

    def run_cycle(self):
        if not self.raised:
            self.raised = True
            raise RuntimeError("a bug in the cycle")
        return super().run_cycle()


def test_the_loop_survives_a_cycle_that_raises(devices, monkeypatch):
    monkeypatch.setattr(scheduler_module, "backoff_delay", lambda attempt: 0.05)
    a = devices("a")
    states = []
    engine = _BrokenOnce(a.data_dir, on_state=lambda s, d: states.append((s, d)))
    scheduler = SyncScheduler(engine, interval=3600, debounce=0.05)
    scheduler.start()
    try:
        wait_for(lambda: scheduler.cycles >= 2)
    finally:
        scheduler.stop()
        engine.close()
    assert states[0] == (ERROR, "RuntimeError: a bug in the cycle")  # logged, said, and retried:
    assert scheduler.last_result.state == IDLE


def test_run_cycle_never_raises_even_when_its_listeners_do(devices):
    a = devices("a")
    with a.db.write() as s:
        s.add(Task(title="x"))

    def broken(*_args):
        raise RuntimeError("a listener's bug")

    a.engine.on_state = a.engine.on_progress = broken
    result = a.engine.run_cycle()
    assert result.state == ERROR and "listener's bug" in result.error  # on_progress runs inside the cycle
    a.engine.on_progress = lambda *_: None
    assert a.engine.run_cycle().state == IDLE  # on_state still raises: the cycle's result is what counts


def test_a_local_edit_does_not_cut_a_backoff_or_retry_after_short(devices, supabase_stack):
    a = devices("a")
    with a.db.write() as s:
        s.add(Task(title="waits"))
    down = {"code": "PGRST001", "message": "maintenance", "details": None, "hint": None}
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 503, down, headers={"Retry-After": "120"})
    scheduler = SyncScheduler(a.engine, interval=3600, debounce=0.05)
    scheduler.start()
    try:
        wait_for(lambda: scheduler.cycles == 1 and scheduler._due is not None)
        assert scheduler.last_result.retry_after == 120
        for _ in range(5):  # the user keeps typing
            scheduler.notify_local_change()
        assert scheduler._due - time.monotonic() > 100
        scheduler.notify_online()  # the network is back, but the server said when
        assert scheduler._due - time.monotonic() > 100
        time.sleep(0.2)
        assert scheduler.cycles == 1
        scheduler.request_sync()  # the user's Sync now is never held back
        wait_for(lambda: scheduler.cycles == 2)
    finally:
        scheduler.stop()
    assert scheduler.last_result.pushed == 1


def test_a_local_edit_during_a_failing_cycle_does_not_shorten_its_backoff(devices, supabase_stack):
    a = devices("a")
    with a.db.write() as s:
        s.add(Task(title="x"))
    supabase_stack.faults.delay("POST", "/rest/v1/tasks", 0.3, times=1)
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 502, "<html>bad gateway</html>")
    scheduler = SyncScheduler(a.engine, interval=3600, debounce=0.01)
    scheduler.start()
    try:
        wait_for(lambda: a.engine.state == "syncing")
        scheduler.notify_local_change()  # arrives while the failing cycle runs
        wait_for(lambda: scheduler.cycles == 1 and scheduler._due is not None)
        assert scheduler.last_result.state == ERROR
        assert scheduler._due >= scheduler.held_until > time.monotonic() + 0.4  # the backoff (>= 1 s) won
    finally:
        scheduler.stop()


def test_a_change_failing_with_5xx_waits_alone_and_the_rest_goes_on(devices, supabase_stack, user):
    a = devices("a")
    with a.db.write() as s:
        s.add(Task(title="hits a server bug"))
        s.add(Task(title="fine"))
    # The batch fails, then the first row alone: it waits on its own backoff, the second goes out.
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 500, BOOM, times=2)
    result = a.sync()
    assert (result.state, result.pushed, result.deferred, result.parked) == (IDLE, 1, 1, 0)
    assert 0 < result.retry_in <= 2
    assert [r["title"] for r in server_rows(supabase_stack, "tasks", user[2])] == ["fine"]
    # More changes meanwhile are not held back by the waiting one.
    with a.db.write() as s:
        s.add(Skill(name="later"))
    later = a.sync()
    assert (later.pushed, later.deferred) == (1, 1)
    # The waiting change was not sent again yet: heads, the skill's POST, heads again, the pull of skills.
    assert later.requests == 1 + 1 + 1 + 1
    due_now(a)
    assert a.sync().pushed == 1 and a.engine.status()["pending"] == 0


def test_the_scheduler_comes_back_when_a_waiting_change_is_due(devices, supabase_stack, user, monkeypatch):
    monkeypatch.setattr("sync.push.backoff_delay", lambda attempt: 0.3)
    a = devices("a")
    with a.db.write() as s:
        s.add(Task(title="retried on its own timer"))
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 500, BOOM)
    scheduler = SyncScheduler(a.engine, interval=3600, debounce=0.05)
    scheduler.start()
    try:
        wait_for(lambda: server_rows(supabase_stack, "tasks", user[2]), timeout=10)
    finally:
        scheduler.stop()
    assert scheduler.cycles == 2


def test_children_of_a_waiting_parent_wait_too_instead_of_being_refused(devices, supabase_stack, user):
    a = devices("a")
    with a.db.write() as s:
        conversation = Conversation(title="its insert hits a 5xx")
        s.add(conversation)
        s.flush()
        s.add_all([Message(conversation_id=conversation.id, role="user", content=f"m{i}") for i in range(50)])
    supabase_stack.faults.fail_next("POST", "/rest/v1/conversations", 500, BOOM)
    result = a.sync()
    # No message was sent (each would be refused with 23503 and parked), none is parked.
    assert (result.pushed, result.parked, result.deferred) == (0, 0, 51)
    assert result.requests == 1 + 1  # the heads call and the one failed POST
    due_now(a)
    assert a.sync().pushed == 51
    assert len(server_rows(supabase_stack, "messages", user[2])) == 50


def test_a_paused_table_does_not_starve_the_others(devices, supabase_stack, user, monkeypatch):
    monkeypatch.setattr("sync.push.READ_LIMIT", 20)  # (the real limit is 5,000 ops per read)
    a = devices("a")
    with a.db.write() as s:
        s.add_all([Skill(name=f"s{i}") for i in range(60)])  # three reads' worth, all of a paused table
        s.add(Task(title="behind them in the queue"))
    unknown = {"code": "PGRST204", "message": "Could not find the 'x' column of 'skills' in the schema cache",
               "details": None, "hint": None}
    supabase_stack.faults.fail_next("POST", "/rest/v1/skills", 400, unknown, times=100)
    result = a.sync(expect_state="update required")
    assert "skills" in result.paused_tables and result.pushed == 1
    assert [r["title"] for r in server_rows(supabase_stack, "tasks", user[2])] == ["behind them in the queue"]


@pytest.mark.parametrize("times", [10])
def test_a_server_failing_everything_ends_the_cycle_after_a_few_tries(devices, supabase_stack, times):
    """A 5xx on change after change is the server, not the changes: after SERVER_ERRORS_PER_CYCLE the
    cycle ends (error, the scheduler backs off) instead of sending every change once more."""
    from sync.push import SERVER_ERRORS_PER_CYCLE

    a = devices("a")
    with a.db.write() as s:
        s.add_all([Task(title=f"t{i}") for i in range(times)])
        s.add_all([Skill(name=f"s{i}") for i in range(times)])
    supabase_stack.faults.fail_next("PATCH", "/rest/v1/", 500, BOOM, times=1000)
    supabase_stack.faults.fail_next("POST", "/rest/v1/", 500, BOOM, times=1000)
    result = a.sync(expect_state="error")
    assert "XX000" in result.error and result.deferred == SERVER_ERRORS_PER_CYCLE
    assert result.requests < 2 * SERVER_ERRORS_PER_CYCLE + 2 * len(SYNCED_TABLES)


def test_discarding_a_parked_change_waits_for_a_running_cycle(devices, supabase_stack):
    import threading

    from sync import parked

    a = devices("a")
    with a.db.write() as s:
        s.add(Task(title="refused"))
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 403, {
        "code": "42501", "message": "new row violates row-level security policy", "details": None, "hint": None})
    assert a.sync().parked == 1
    [item] = parked.list_parked(a.db)
    done = threading.Event()
    with a.engine.cycle_lock():  # a cycle is running
        worker = threading.Thread(target=lambda: (parked.discard(a.engine, item.op_seq), done.set()))
        worker.start()
        assert not done.wait(0.3)  # the discard waits for it
        assert parked.list_parked(a.db)
    worker.join(10)
    assert done.is_set() and parked.list_parked(a.db) == [] and a.rows("tasks") == {}


def test_discard_never_restores_another_users_row(devices, supabase_stack):
    """Our template's id is taken on the server by someone else's public template (readable through
    RLS): the insert is parked as "not yours", and discarding it must not adopt their row."""
    import uuid

    from local_schema.models import Template
    from standin.impersonate import ApiSession
    from sync import parked

    template_id = str(uuid.uuid4())
    _, _, other = supabase_stack.new_user()
    with ApiSession(supabase_stack.db_url, other) as theirs:
        theirs.all("insert into public.templates (id, name, payload, is_public) values "
                   "(%s, 'theirs', '{\"skills\": [], \"seed_memory\": []}', true)", (template_id,))
    a = devices("a")
    with a.db.write() as s:
        s.add(Template(id=template_id, name="mine", payload={"skills": [], "seed_memory": []}))
    assert a.sync().parked == 1
    [item] = parked.list_parked(a.db)
    assert "not yours" in item.message
    assert parked.server_version(a.engine, item) is None
    assert parked.discard(a.engine, item.op_seq).startswith("removed locally")
    assert a.rows("templates") == {}
