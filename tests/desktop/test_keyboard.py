"""The window by keyboard alone, with real key events: page shortcuts, quitting, visible focus on
every control Tab reaches, search results, and adding several tasks in a row."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from desktop.window.main_window import PAGES
from standin.demo.seed import add_connection, add_thread


def _activate(window, qtbot) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)


def _focused_page(window) -> str | None:
    focus = QApplication.focusWidget()
    return next((key for key, page in window.pages.items() if focus is not None and page.isAncestorOf(focus)), None)


def test_ctrl_and_alt_with_a_digit_open_the_pages_in_navigation_order(qtbot, window, settle):
    _activate(window, qtbot)
    for modifier in (Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.AltModifier):
        for number, (key, _label, _spec) in enumerate(PAGES[:10], start=1):
            target = QApplication.focusWidget() or window
            qtbot.keyClick(target, Qt.Key(Qt.Key.Key_0.value + number % 10), modifier)
            assert window.stack.currentWidget() is window.pages[key], (modifier, number)
            assert window.nav.currentItem().data(Qt.ItemDataRole.UserRole) == key
            # the focus moved into the page, so the next keys act there
            assert _focused_page(window) == key, (modifier, number, QApplication.focusWidget())


def test_ctrl_q_closes_the_window(qtbot, tmp_path, memory_keyring):
    from sync.secrets import SecretStore
    from tests.desktop.conftest import open_window

    window = open_window(qtbot, tmp_path, SecretStore(tmp_path, backend=memory_keyring))
    _activate(window, qtbot)
    qtbot.keyClick(window.nav, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=3000)
    window.ctx.close_data()


def _tab_stops(window) -> list[QWidget]:
    """Every control on screen that Tab reaches, in Tab order."""
    stops, widget = [], window.nextInFocusChain()
    while widget is not None and widget is not window:
        if (widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisibleTo(window) and widget.isEnabled()
                and widget.focusProxy() is None):
            stops.append(widget)
        widget = widget.nextInFocusChain()
    return stops


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_control_that_tab_reaches_shows_that_it_has_the_focus(qtbot, window, settle, theme):
    """Each Tab stop is drawn differently with the focus than without it (the Console had four that
    looked the same either way)."""
    from desktop import theme as themes

    themes.apply_theme(QApplication.instance(), theme)
    cid = add_connection(window.ctx.db, "Hermes", "http://127.0.0.1:9/v1", "hermes3")
    add_thread(window.ctx.db, "A thread", [("user", "hi"), ("assistant", "hello")], connection_id=cid)
    from desktop.bus import bus

    bus.changed.emit(frozenset({"agent_connections", "conversations", "messages"}), None)
    settle(100)
    _activate(window, qtbot)
    invisible, checked = [], 0
    for key in window.pages:
        window.show_page(key)
        settle(30)
        stops = _tab_stops(window)
        for widget in stops:
            if widget in (window.nav,) and key != "bind":
                continue  # the chrome is checked once
            other = stops[0] if widget is not stops[0] else stops[1]
            other.setFocus(Qt.FocusReason.TabFocusReason)
            qtbot.wait(5)
            before = widget.grab().toImage()
            widget.setFocus(Qt.FocusReason.TabFocusReason)
            qtbot.waitUntil(widget.hasFocus, timeout=1000)
            if widget.grab().toImage() == before:
                invisible.append(f"{key}: {type(widget).__name__} {widget.objectName()!r} "
                                 f"{getattr(widget, 'text', lambda: '')()!r}")
            checked += 1
    themes.apply_theme(QApplication.instance(), "light")
    assert checked > 40
    assert invisible == []


def test_search_results_are_reached_and_opened_with_the_keyboard(qtbot, window, settle):
    db = window.ctx.db
    first = add_thread(db, "Zebras", [("user", "tell me about the zebra crossing")])
    second = add_thread(db, "More zebras", [("user", "a second zebra question")])
    console = window.pages["console"]
    console.refresh_threads()
    settle()
    _activate(window, qtbot)
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is console
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert console.search_box.hasFocus()
    qtbot.keyClicks(console.search_box, "zebra")
    qtbot.keyClick(console.search_box, Qt.Key.Key_Down)  # before the debounced search has even run
    results = console.search_results.list
    qtbot.waitUntil(lambda: results.hasFocus() and results.count() == 2, timeout=5000)
    assert results.currentRow() == 0
    qtbot.keyClick(results, Qt.Key.Key_Down)
    assert results.currentRow() == 1
    wanted = results.currentItem().data(Qt.ItemDataRole.UserRole + 1)[1]
    with qtbot.waitSignal(console.jumped, timeout=5000):
        qtbot.keyClick(results, Qt.Key.Key_Return)
    assert console.conversation_id == wanted and wanted in (first, second)
    assert results.hasFocus()  # the next hit is one ↑ / ↓ and Enter away
    qtbot.keyClick(results, Qt.Key.Key_Up)
    with qtbot.waitSignal(console.jumped, timeout=5000):
        qtbot.keyClick(results, Qt.Key.Key_Return)
    assert console.conversation_id != wanted
    qtbot.keyClick(results, Qt.Key.Key_Escape)
    assert console.search_box.hasFocus() and console.search_box.text() == "zebra"  # back in the box
    qtbot.keyClick(console.search_box, Qt.Key.Key_Escape)
    assert console.search_box.text() == ""  # a second Esc clears it
    # Enter in the box jumps to the first hit at once
    console.search_box.clear()
    qtbot.keyClicks(console.search_box, "crossing")
    with qtbot.waitSignal(console.jumped, timeout=5000):
        qtbot.keyClick(console.search_box, Qt.Key.Key_Return)
    assert console.conversation_id == first


def test_enter_adds_tasks_in_a_row_without_leaving_the_entry(qtbot, window, settle):
    page = window.show_page("tasks")
    _activate(window, qtbot)
    page.new_title.setFocus()
    for title in ("Plan the week", "Write the report", "Call the bank"):
        qtbot.keyClicks(page.new_title, title)
        qtbot.keyClick(page.new_title, Qt.Key.Key_Return)
        settle(20)
        assert page.new_title.hasFocus() and page.new_title.text() == ""
    pending = page.lists["pending"]
    assert [pending.item(i).text().split("\n")[0] for i in range(pending.count())] == [
        "Plan the week", "Write the report", "Call the bank"]
    assert pending.currentItem().text().startswith("Call the bank")  # the new task is selected
