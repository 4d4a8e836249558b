"""The window's shell: pages built on first show, one declared set of page hooks, navigation as a
request (ctx.navigate), and the Dream service in the app context rather than inside its page."""

from __future__ import annotations

from desktop.pages.protocol import PageHooks
from desktop.window.main_window import PAGES, START_PAGE, _page_class


def test_ready_builds_only_the_start_page_and_a_page_is_built_when_first_shown(window):
    assert set(window.pages) == {key for key, _label, _spec in PAGES}  # every page is listed …
    assert set(window.pages.built()) == {START_PAGE}  # … but only the home screen exists yet
    assert "tasks" in window.pages and "tasks" not in window.pages.built()  # asking does not build
    tasks = window.show_page("tasks")
    assert window.pages.built()["tasks"] is tasks and window.stack.currentWidget() is tasks
    assert window.pages["tasks"] is tasks  # built once


def test_every_page_declares_its_hooks():
    for key, _label, spec in PAGES:
        assert issubclass(_page_class(spec), PageHooks), key


def test_navigation_is_a_request_a_page_may_refuse(qtbot, window):
    from standin.demo.seed import add_thread

    db = window.ctx.db
    first = add_thread(db, "First", [("user", "hello"), ("assistant", "hi")])
    add_thread(db, "Second", [("user", "again")])
    assert window.ctx.navigate("console", thread=first) is True
    console = window.pages["console"]
    assert window.stack.currentWidget() is console
    qtbot.waitUntil(lambda: console.conversation_id == first, timeout=5000)
    # The Mirror shows no single record on request (no show_record): the window stays where it is.
    assert window.ctx.navigate("mirror", record="some-report") is False
    assert window.stack.currentWidget() is console
    assert window.ctx.navigate("nowhere") is False


def test_dreams_belong_to_the_window_not_to_the_dream_page(qtbot, window):
    dream = window.ctx.dream
    assert dream is not None and dream._timer.isActive()  # checking since the database opened
    page = window.show_page("dream")
    assert page.controller is dream
    window.ctx.dream.stop()
    assert not dream._timer.isActive()
