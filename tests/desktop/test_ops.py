"""Ops on the one background mechanism: results and errors come back on the UI thread, and what an op
wrote is broadcast once when it ends, found by the write path, never declared by hand."""

import subprocess
import sys
import threading

import pytest
from PySide6.QtCore import QObject
from sqlalchemy import text

from desktop.bus import bus
from desktop.ops import Op, running_count, wait_idle


@pytest.fixture
def db(tmp_path):
    from local_schema.database import open_database

    database = open_database(tmp_path / "db.sqlite3")
    yield database
    database.close()


@pytest.fixture
def heard():
    """Every bus.changed broadcast while the test runs: (set of tables, initiator)."""
    calls: list[tuple[set, object]] = []

    def on_changed(tables, initiator):
        calls.append((set(tables), initiator))

    bus.changed.connect(on_changed)
    yield calls
    bus.changed.disconnect(on_changed)


def test_success_runs_fn_off_the_ui_thread_and_callback_on_it(qtbot):
    seen = {}

    def work():
        seen["worker"] = threading.get_ident()
        return 42

    main = threading.get_ident()
    results = []
    Op(None, work).success(lambda v: results.append((v, threading.get_ident()))).run()
    assert wait_idle()
    assert results == [(42, main)]
    assert seen["worker"] != main
    assert running_count() == 0


def test_failure_goes_to_the_handler_or_else_to_the_bus(qtbot):
    failures = []
    Op(None, lambda: 1 / 0).failure(failures.append).run()
    assert wait_idle()
    assert isinstance(failures[0], ZeroDivisionError)

    with qtbot.waitSignal(bus.error, timeout=5000) as blocker:
        Op(None, lambda: (_ for _ in ()).throw(ValueError("disk is full")), "Saving").run()
    assert blocker.args[0] == "Saving: disk is full"


def test_an_op_broadcasts_what_it_wrote_once_when_it_ends(qtbot, db, heard):
    """Two write() blocks (ORM and raw SQL) in one op: one broadcast, with the op's parent as initiator.
    Nothing is declared: an op has no way to list tables by hand."""
    from local_schema.models import Conversation

    owner = QObject()

    def work():
        with db.write() as session:
            session.add(Conversation(title="t"))
        with db.write() as session:
            session.execute(text("INSERT INTO tasks (id, title, status) VALUES ('t1', 'raw', 'todo')"))
        return "ok"

    results = []
    Op(owner, work).success(results.append).run()
    assert wait_idle()
    assert results == ["ok"]
    assert heard == [({"conversations", "tasks"}, owner)]
    assert not hasattr(Op, "changes")


def test_an_op_that_writes_nothing_broadcasts_nothing(qtbot, heard):
    Op(QObject(), lambda: 42).run()
    assert wait_idle()
    assert heard == []


def test_a_failing_op_still_broadcasts_the_write_it_committed(qtbot, db, heard):
    """Its first write committed before it failed: that row exists, so the views must hear about it."""
    from local_schema.models import MemoryNode

    owner = QObject()

    def work():
        with db.write() as session:
            session.add(MemoryNode(label="kept", category="fact", strength=0.5, source="manual"))
        with db.write() as session:  # rolled back
            session.execute(text("INSERT INTO tasks (id, title, status) VALUES ('t1', 'lost', 'todo')"))
            raise OSError("disk full")

    failures = []
    Op(owner, work).failure(failures.append).run()
    assert wait_idle()
    assert isinstance(failures[0], OSError)
    assert heard == [({"memory_nodes"}, owner)]


def test_writes_inside_an_op_are_not_announced_a_second_time_by_the_database_bridge(qtbot, db, heard):
    from desktop.bus import connect_database
    from local_schema.models import Task

    disconnect = connect_database(db)
    owner = QObject()
    try:
        def work():
            for title in ("a", "b"):
                with db.write() as session:
                    session.add(Task(title=title))

        Op(owner, work).run()
        assert wait_idle()
        qtbot.wait(50)  # anything else the bridge posted has arrived by now
        assert heard == [({"tasks"}, owner)]
    finally:
        disconnect()


def test_callbacks_are_skipped_when_the_parent_widget_is_gone(qtbot):
    from PySide6.QtWidgets import QWidget

    widget = QWidget()
    called = []
    gate = threading.Event()
    Op(widget, lambda: gate.wait(5)).success(called.append).run()
    with qtbot.waitSignal(widget.destroyed, timeout=5000):
        widget.deleteLater()
    gate.set()
    assert wait_idle()
    assert called == []


SHUTDOWN = """
import sys, threading, time
from PySide6.QtCore import QCoreApplication, QObject, QTimer
from PySide6.QtWidgets import QApplication
from sqlalchemy import text
from desktop.jobs import JobRunner
from desktop.ops import Op, wait_idle
from desktop.workers.stream import StreamRunner
from local_schema.database import open_database
from local_schema.models import Task

app = QApplication([])
db = open_database(sys.argv[1])

def start_all(parent, gate, tag):
    def slow_write(title):
        gate.wait(10)
        with db.write() as session:
            session.add(Task(title=f"{tag} {title}"))
        return title
    runner = JobRunner(parent)
    Op(parent, lambda: slow_write("op"), "Slow op").success(print).run()
    runner.submit("Slow job", lambda ctx: (ctx.progress(1, 2, "half"), slow_write("job"), ctx.progress(2, 2, "end")))
    StreamRunner(lambda on_delta, cancel: (on_delta("partial"), slow_write("stream")), None, parent).start()
    return runner

def tasks():
    with db.session() as session:
        return session.execute(text("SELECT count(*) FROM tasks")).scalar()

# 1. the window that started the work is deleted while it runs; the event loop goes on
window, gate = QObject(), threading.Event()
runner = start_all(window, gate, "closed")
window.deleteLater()
QCoreApplication.sendPostedEvents(None, 52)  # QEvent.DeferredDelete
gate.set()
deadline = time.monotonic() + 10
while tasks() < 3 and time.monotonic() < deadline:
    time.sleep(0.02)
for _ in range(20):
    app.processEvents(); time.sleep(0.01)
print("closed", tasks(), flush=True)

# 2. the application quits while work runs; it ends after the event loop is gone
gate = threading.Event()
runner = start_all(QObject(), gate, "quit")
QTimer.singleShot(0, app.quit)
app.exec()
gate.set()
deadline = time.monotonic() + 10
while tasks() < 6 and time.monotonic() < deadline:
    time.sleep(0.02)
time.sleep(0.1)
print("quit", tasks(), flush=True)
"""


def test_ending_with_work_in_flight_is_quiet(tmp_path):
    """An op, a job and a stream still running when their window is deleted, then when the application
    quits: what they deliver has nobody to go to, and that is said nowhere (no traceback, no Qt
    warning, a clean exit), while what they wrote is kept."""
    import os

    proc = subprocess.run([sys.executable, "-c", SHUTDOWN, str(tmp_path / "db.sqlite3")],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["closed", "3", "quit", "6"]
    assert proc.stderr.strip() == ""
