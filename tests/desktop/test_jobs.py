"""The long-job runner: one job at a time, progress and results on the UI thread, cancel queued or running."""

from __future__ import annotations

import threading
import time

import pytest

from agent.jobs import JobCancelled, JobContext, run_headless
from desktop.jobs import CANCELLED, DONE, FAILED, JobRunner


def test_jobs_run_one_at_a_time_in_order_with_progress_on_the_ui_thread(qtbot):
    runner = JobRunner()
    main = threading.get_ident()
    order, progress = [], []
    inside = threading.Lock()

    def job(name):
        def fn(ctx: JobContext):
            assert inside.acquire(blocking=False), "two jobs ran at once"
            try:
                for i in range(3):
                    ctx.progress(i + 1, 3, f"{name} step {i + 1}")
                order.append(name)
                return name.upper()
            finally:
                inside.release()
        return fn

    first = runner.submit("first", job("a"))
    second = runner.submit("second", job("b"))
    first.progressed.connect(lambda d, t, s: progress.append((d, t, s, threading.get_ident())))
    results = []
    second.finished.connect(results.append)
    assert runner.wait_idle()
    assert order == ["a", "b"]
    assert results == ["B"]
    assert first.state == DONE and first.result == "A"
    assert all(ident == main for *_, ident in progress)
    assert runner.active_count() == 0


def test_cancel_a_running_job_and_a_queued_one(qtbot):
    runner = JobRunner()
    started = threading.Event()

    def slow(ctx: JobContext):
        started.set()
        while True:
            ctx.check()
            ctx.cancel.wait(0.02)

    running = runner.submit("slow", slow)
    queued = runner.submit("never", lambda ctx: "ran")
    assert started.wait(5)
    runner.cancel(queued)
    assert queued.state == CANCELLED
    with qtbot.waitSignal(running.cancelled, timeout=5000):
        runner.cancel(running)
    assert running.state == CANCELLED
    assert runner.wait_idle()


def test_a_failing_job_reports_its_error_and_the_queue_goes_on(qtbot):
    runner = JobRunner()
    failed = runner.submit("broken", lambda ctx: 1 / 0)
    after = runner.submit("after", lambda ctx: "fine")
    errors = []
    failed.failed.connect(errors.append)
    assert runner.wait_idle()
    assert failed.state == FAILED and isinstance(failed.error, ZeroDivisionError)
    assert isinstance(errors[0], ZeroDivisionError)
    assert after.state == DONE


def test_pause_holds_a_job_at_its_next_check_until_resumed():
    ctx = JobContext()
    ctx.pause()
    passed = threading.Event()

    def worker():
        ctx.check()
        passed.set()

    thread = threading.Thread(target=worker)
    thread.start()
    assert not passed.wait(0.3)
    ctx.resume()
    assert passed.wait(5)
    thread.join()


def test_headless_run_returns_the_result_and_cancel_raises():
    assert run_headless(lambda ctx: 7) == 7

    def cancelled(ctx: JobContext):
        ctx.cancel.cancel()
        ctx.check()

    try:
        run_headless(cancelled)
    except JobCancelled:
        pass
    else:
        raise AssertionError("a cancelled job must raise JobCancelled")


@pytest.fixture
def db(tmp_path):
    from local_schema.database import open_database

    database = open_database(tmp_path / "db.sqlite3")
    yield database
    database.close()


@pytest.fixture
def heard():
    from desktop.bus import bus

    calls: list[tuple[set, object]] = []

    def on_changed(tables, initiator):
        calls.append((set(tables), initiator))

    bus.changed.connect(on_changed)
    yield calls
    bus.changed.disconnect(on_changed)


def _add(db, model):
    with db.write() as session:
        session.add(model)


def test_a_job_broadcasts_what_it_wrote_once_when_it_ends_with_its_initiator(qtbot, db, heard):
    from local_schema.models import MemoryNode, Task

    runner = JobRunner()
    owner = object()
    steps = []

    def work(ctx: JobContext):
        _add(db, Task(title="first"))
        ctx.progress(1, 2, "half way")
        steps.append(list(heard))  # nothing announced while the job runs
        _add(db, MemoryNode(label="l", category="fact", strength=0.5, source="manual"))
        return "done"

    job = runner.submit("writer", work, initiator=owner)
    seen = []
    job.success(lambda result: seen.append(("success", result, job.state)))
    assert runner.wait_idle()
    assert seen == [("success", "done", DONE)]  # the state is final when the callback runs
    assert heard == [({"tasks", "memory_nodes"}, owner)]
    assert job.outcome.changes == {"tasks", "memory_nodes"}


def test_a_failed_or_cancelled_job_still_broadcasts_what_it_committed(qtbot, db, heard):
    from local_schema.models import Task

    runner = JobRunner()
    started = threading.Event()

    def fails(ctx: JobContext):
        _add(db, Task(title="kept"))
        raise RuntimeError("the endpoint went away")

    def cancelled(ctx: JobContext):
        _add(db, Task(title="also kept"))
        started.set()
        while True:
            ctx.check()
            ctx.cancel.wait(0.02)

    ends = []
    failing = runner.submit("fails", fails).failure(lambda exc: ends.append(("failed", str(exc))))
    stopping = runner.submit("cancelled", cancelled).stopped(lambda: ends.append(("stopped",)))
    stopping.failure(lambda exc: ends.append(("wrong", exc)))
    qtbot.waitUntil(started.is_set, timeout=10_000)  # it starts once the first job's end is delivered
    runner.cancel(stopping)
    assert runner.wait_idle()
    assert failing.state == FAILED and stopping.state == CANCELLED
    assert ends == [("failed", "the endpoint went away"), ("stopped",)]
    assert heard == [({"tasks"}, None), ({"tasks"}, None)]


def test_a_queued_job_cancelled_before_it_ran_ends_without_a_broadcast(qtbot, heard):
    runner = JobRunner()
    gate = threading.Event()
    first = runner.submit("first", lambda ctx: gate.wait(5))
    queued = runner.submit("queued", lambda ctx: "never")
    stopped = []
    queued.stopped(lambda: stopped.append(True))
    with qtbot.waitSignal(queued.cancelled, timeout=1000):
        runner.cancel(queued)
    gate.set()
    assert runner.wait_idle()
    assert stopped == [True] and first.state == DONE and queued.state == CANCELLED
    assert heard == []


def test_a_job_can_announce_what_it_committed_at_each_progress_report(qtbot, db, heard):
    """A dream runs for minutes: its page shows the report it has stored so far, then the rest."""
    from local_schema.models import MemoryNode, Task

    runner = JobRunner()
    owner = object()
    announced = threading.Event()

    def work(ctx: JobContext):
        _add(db, Task(title="the report, running"))
        ctx.progress(1, 2, "half way")
        assert announced.wait(10), "the first part was not announced while the job ran"
        _add(db, MemoryNode(label="l", category="fact", strength=0.5, source="manual"))
        _add(db, Task(title="the report, done"))
        return "done"

    def on_changed(tables, initiator):
        if initiator is owner:
            announced.set()

    from desktop.bus import bus

    bus.changed.connect(on_changed)
    try:
        job = runner.submit("dreaming", work, initiator=owner, announce_progress=True)
        assert runner.wait_idle()
    finally:
        bus.changed.disconnect(on_changed)
    assert job.state == DONE
    assert heard == [({"tasks"}, owner), ({"memory_nodes", "tasks"}, owner)]
    assert job.outcome.changes == {"tasks", "memory_nodes"}


def test_a_job_announces_its_progress_at_most_once_every_so_many_seconds(qtbot, db, heard):
    """An import reports progress five times a second: with `announce_progress=seconds` the Console's thread
    list is told about new threads every so often, not at each report, and the rest when the job ends."""
    from local_schema.models import Task

    runner = JobRunner()
    owner = object()

    def work(ctx: JobContext):
        for i in range(3):
            _add(db, Task(title=f"imported {i}"))
            ctx.progress(i, 3, "importing")  # within the interval: nothing announced yet
        time.sleep(0.25)
        _add(db, Task(title="imported 3"))
        ctx.progress(3, 4, "importing")  # the interval has passed: what was committed so far
        return "done"

    job = runner.submit("importing", work, initiator=owner, announce_progress=0.2)
    assert runner.wait_idle()
    assert job.state == DONE
    assert heard == [({"tasks"}, owner)]  # once at the late report; nothing new was left for the end
