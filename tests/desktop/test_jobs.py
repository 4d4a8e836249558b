"""The long-job runner: one job at a time, progress and results on the UI thread, cancel queued or running."""

from __future__ import annotations

import threading

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
