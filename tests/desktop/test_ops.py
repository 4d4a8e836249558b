"""The one background-operation mechanism: results and errors come back on the UI thread as signals."""

import threading

from PySide6.QtCore import QObject

from desktop.bus import bus
from desktop.ops import Op, running_count, wait_idle


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


def test_changes_are_broadcast_after_success_only(qtbot):
    owner = QObject()
    heard = []
    bus.changed.connect(lambda tables, initiator: heard.append((set(tables), initiator)))
    Op(owner, lambda: None).changes("messages", "conversations").run()
    Op(owner, lambda: 1 / 0).changes("memory_nodes").failure(lambda e: None).run()
    assert wait_idle()
    assert ({"messages", "conversations"}, owner) in heard
    assert not any("memory_nodes" in tables for tables, _ in heard)


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
