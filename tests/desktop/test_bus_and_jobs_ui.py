"""The database bridged onto the change bus, streams counted as background work and announcing what
they wrote, the theme and key-store signals, the jobs indicator."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject

from desktop import ops
from desktop.bus import SYNC, bus, connect_database


def test_writes_outside_any_operation_reach_the_bus_on_the_ui_thread(qtbot, tmp_path):
    """A write made outside an op, job or stream has nobody else to announce it: the bridge does, with no
    initiator; rows sync applied arrive with the SYNC initiator and their ids."""
    from local_schema.database import open_database
    from local_schema.models import Task

    db = open_database(tmp_path / "db.sqlite3")
    disconnect = connect_database(db)
    changed = []
    main = threading.get_ident()

    def on_changed(tables, initiator):
        changed.append((set(tables), initiator, getattr(tables, "ids", lambda _t: None)("tasks"),
                        threading.get_ident() == main))

    bus.changed.connect(on_changed)
    try:
        def write_elsewhere():
            with db.write() as s:
                s.add(Task(title="from a worker"))
            db.notify_changed({"tasks"}, "sync", {"tasks": {"t1"}})

        worker = threading.Thread(target=write_elsewhere)
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: len(changed) == 2, timeout=3000)
        assert changed == [({"tasks"}, None, None, True), ({"tasks"}, SYNC, frozenset({"t1"}), True)]
        disconnect()
        with db.write() as s:
            s.add(Task(title="after disconnect"))
        qtbot.wait(50)
        assert len(changed) == 2
    finally:
        bus.changed.disconnect(on_changed)
        db.close()


def test_a_stream_broadcasts_what_its_turn_wrote_once_when_it_ends(qtbot, tmp_path):
    from desktop.workers.stream import StreamRunner
    from local_schema.database import open_database
    from local_schema.models import Conversation, Message

    db = open_database(tmp_path / "db.sqlite3")
    disconnect = connect_database(db)
    owner, page = QObject(), object()
    heard = []

    def on_changed(tables, initiator):
        heard.append((set(tables), initiator))

    def turn(on_delta, _cancel):
        with db.write() as s:
            conversation = Conversation(title="t")
            s.add(conversation)
        for i in range(3):
            on_delta(f"part {i} ")
            with db.write() as s:  # the reply, rewritten as it grows (agent.chat flushes it)
                s.add(Message(conversation_id=conversation.id, role="assistant", content="x" * i))
        return "stored"

    bus.changed.connect(on_changed)
    try:
        runner = StreamRunner(turn, cancel=None, parent=owner, initiator=page)
        results = []
        runner.success(results.append)
        with qtbot.waitSignal(runner.finished, timeout=5000):
            runner.start()
        qtbot.wait(50)
        assert results == ["stored"] and runner.text == "part 0 part 1 part 2 "
        assert heard == [({"conversations", "messages"}, page)]
    finally:
        bus.changed.disconnect(on_changed)
        disconnect()
        db.close()


def test_a_stream_counts_as_background_work_until_its_turn_is_stored(qtbot):
    from desktop.workers.stream import StreamRunner

    release = threading.Event()

    def job(on_delta, _cancel):
        on_delta("partial")
        release.wait(5)
        return "done"

    busy = []
    bus.busy_changed.connect(busy.append)
    runner = StreamRunner(job, cancel=None)
    runner.start()
    assert ops.running_count() == 1 and busy[-1] == 1
    assert not ops.wait_idle(200)  # wait_idle waits for streams too
    release.set()
    with qtbot.waitSignal(runner.finished, timeout=5000):
        pass
    assert ops.running_count() == 0 and busy[-1] == 0
    bus.busy_changed.disconnect(busy.append)


def test_the_jobs_indicator_shows_progress_and_cancels(qtbot):
    from agent.jobs import JobContext
    from desktop.jobs import CANCELLED, JobRunner
    from desktop.widgets.jobs_indicator import JobsIndicator

    runner = JobRunner()
    indicator = JobsIndicator(runner)
    qtbot.addWidget(indicator)
    assert indicator.isHidden()
    started = threading.Event()

    def long_job(ctx: JobContext):
        ctx.progress(2, 5, "Reviewing thread 2 of 5")
        started.set()
        while True:
            ctx.check()  # raises JobCancelled once Cancel is pressed
            time.sleep(0.02)

    job = runner.submit("Mirror review", long_job)
    assert not indicator.isHidden()
    qtbot.waitUntil(lambda: indicator.text() == "⟳ Mirror review 40 %", timeout=3000)
    indicator.open_panel()
    [row] = indicator.panel.rows
    assert row.detail.text() == "Reviewing thread 2 of 5 40 %" and row.bar.value() == 2
    row.cancel_button.click()
    assert runner.wait_idle(5000)
    assert job.state == CANCELLED and indicator.text() == "Mirror review: cancelled"
    assert row.cancel_button.isHidden()
    indicator.panel.close()


def test_the_sync_controller_wakes_the_scheduler_after_a_sleep_and_on_local_writes_of_its_own_db(
        qtbot, tmp_path):
    """It listens to the open database itself (on the writing thread, at each commit): a local write of a
    synced table starts a cycle once writes settle; sync's own rows, local-only tables and another
    database do not; after stop() it hears nothing."""
    from types import SimpleNamespace

    from desktop.sync_controller import SyncController
    from local_schema.database import open_database
    from local_schema.models import AgentConnection, ConnectionCheck, Conversation

    calls = []
    db, other = open_database(tmp_path / "db.sqlite3"), open_database(tmp_path / "other.sqlite3")
    with db.write() as s:
        s.add(AgentConnection(id="c1", name="n", provider="custom", base_url="http://x", model="m"))
    ctx = SimpleNamespace(data_dir=tmp_path, db=db, secrets=None)
    controller = SyncController(ctx)
    try:
        controller.start()  # signed out: no scheduler of its own, but it listens
        controller.scheduler = SimpleNamespace(notify_online=lambda: calls.append("online"),
                                               notify_local_change=lambda: calls.append("local"),
                                               request_sync=lambda: calls.append("now"),
                                               stop=lambda: calls.append("stopped"))
        controller._check_wake()
        assert calls == []  # the clocks moved together: no sleep
        controller._clock = (time.time() - 120, time.monotonic())  # the wall clock ran on while suspended
        controller._check_wake()
        assert calls == ["online"]
        with other.write() as s:  # another window's database (tests, the soak)
            s.add(Conversation(id="elsewhere", title="t"))
        db.notify_changed({"messages"}, "sync", {"messages": {"m1"}})  # what sync itself applied
        with db.write() as s:  # a local-only table
            s.add(ConnectionCheck(connection_id="c1", status="offline"))
        assert calls == ["online"]
        worker = threading.Thread(target=lambda: _add_thread(db))
        worker.start()
        worker.join()
        assert calls == ["online", "local"]  # heard at commit time, on the writing thread
        qtbot.waitUntil(controller._recount.isActive, timeout=3000)  # the count of waiting changes follows
        controller.request_sync()
        assert calls == ["online", "local", "now"]
        controller.stop()
        controller.scheduler = SimpleNamespace(notify_local_change=lambda: calls.append("late"))
        _add_thread(db)
        assert "late" not in calls
        controller.scheduler = None
        controller._recount.stop()
    finally:
        db.close()
        other.close()


def _add_thread(db) -> None:
    from local_schema.models import Conversation

    with db.write() as s:
        s.add(Conversation(title="local"))


def test_unlocking_the_key_store_lets_a_locked_sync_go_on(qtbot, tmp_path):
    from types import SimpleNamespace

    from desktop.sync_controller import SyncController
    from sync.engine import LOCKED

    calls = []
    controller = SyncController(SimpleNamespace(data_dir=tmp_path, db=None))
    controller.scheduler = SimpleNamespace(request_sync=lambda: calls.append("now"))
    bus.keys_changed.emit("encrypted_file")
    assert calls == []  # not waiting for keys: nothing to do
    controller._set(state=LOCKED)
    bus.keys_changed.emit("encrypted_file")
    assert calls == ["now"]
    controller.scheduler = None


def test_a_theme_switch_and_a_key_store_change_have_signals_of_their_own(qtbot, window):
    """Neither is a table: `changed` carries table names only."""
    from PySide6.QtWidgets import QApplication

    from desktop import theme

    previous = "dark" if theme.colors().dark else "light"
    themes, keys, changed = [], [], []
    bus.theme_changed.connect(themes.append)
    bus.keys_changed.connect(keys.append)
    bus.changed.connect(lambda tables, initiator: changed.append(set(tables)))
    try:
        theme.apply_theme(QApplication.instance(), "dark")
        assert themes == [theme.DARK]
        settings = window.pages["settings"]
        settings.use_memory_only()
        assert keys == ["memory"]
        assert "memory only" in settings.key_explain.text()
        assert changed == []
    finally:
        bus.theme_changed.disconnect(themes.append)
        bus.keys_changed.disconnect(keys.append)
        theme.apply_theme(QApplication.instance(), previous)


def test_the_start_up_heap_is_out_of_the_collectors_way_once_the_window_is_ready(window):
    """A full garbage collection of the start-up heap (~120,000 objects) paused whichever thread
    allocated for 35-155 ms, a reply streaming included: once ready, those objects are frozen."""
    import gc

    assert gc.get_freeze_count() > 10_000
