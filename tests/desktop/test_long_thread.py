"""A 10,000-message thread opens fast (a window of it, lazily painted) and scrolls back through pages."""

from desktop.models.transcript_model import MAX_ROWS
from standin.demo.seed import add_thread, long_messages


def _index(row) -> int:
    """Each demo message starts with its position in the thread: "[9999] …"."""
    return int(row.content[1:row.content.index("]")])


def first(model) -> int:
    return _index(model.rows()[0])


def last(model) -> int:
    return _index(model.rows()[-1])


def test_ten_thousand_message_thread_opens_and_scrolls(qtbot, window, settle):
    cid = add_thread(window.ctx.db, "Huge", long_messages(10_000))
    console = window.pages["console"]
    window.show_page("console")
    with qtbot.waitSignal(console.thread_opened, timeout=10_000):
        console.refresh_threads(select=cid)
    model, view = console.transcript, console.view
    assert model.rowCount() < 200 and last(model) == 9999 and model.has_older()  # the newest page only
    assert not model.has_newer()
    assert model.rows()[-1].content.startswith("[9999]")
    qtbot.waitUntil(view.at_bottom, timeout=3000)
    # only rows that were laid out or painted got a document, never the whole thread
    assert view.delegate.cached_documents() <= model.rowCount()

    # scroll up: older pages arrive and the message the reader was looking at stays in place
    bar = view.verticalScrollBar()
    for _ in range(4):
        before, oldest_loaded = first(model), model.rows()[0].id
        bar.setValue(0)
        qtbot.waitUntil(lambda b=before: first(model) < b, timeout=5000)
        settle(30)
        top = view.indexAt(view.viewport().rect().topLeft())
        # the message that was at the top is still what the reader sees at the top
        assert model.row_at(top.row()).id == oldest_loaded
    assert first(model) < 10_000 - 4 * 100
    indexes = [_index(r) for r in model.rows()]
    assert indexes == list(range(indexes[0], indexes[0] + len(indexes)))  # no gap, no repeat
    first_visible = view.indexAt(view.viewport().rect().topLeft())
    assert first_visible.isValid() and first_visible.row() > 0  # not thrown back to the very top
    # the window stays bounded: the newest rows were dropped and are fetched again on the way down
    assert model.rowCount() <= MAX_ROWS and model.has_newer()
    for _ in range(20):
        if not model.has_newer():
            break
        before = last(model)
        bar.setValue(bar.maximum())
        qtbot.waitUntil(lambda b=before: last(model) > b, timeout=5000)
        settle(30)
    assert not model.has_newer() and model.rowCount() <= MAX_ROWS
    bar.setValue(bar.maximum())
    qtbot.waitUntil(view.at_bottom, timeout=3000)
    assert model.rows()[-1].content.startswith("[9999]")
