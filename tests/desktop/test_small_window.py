"""At the window's minimum size nothing in the Console header overlaps or falls off the edge."""

from standin.demo.seed import add_connection
from tests.desktop.helpers import tip_text


def test_console_header_fits_at_the_minimum_window_size(qtbot, window, settle):
    add_connection(window.ctx.db, "A connection with a rather long name", "http://127.0.0.1:9/v1",
                   "a-model-name-that-is-long-too")
    console = window.pages["console"]
    console.refresh_connections()
    settle()
    window.show_page("console")
    window.resize(window.minimumSize())
    qtbot.waitUntil(lambda: window.width() == window.minimumWidth(), timeout=3000)
    qtbot.wait(20)  # let the layout run

    header = [w for w in (console.title_label, console.connection_combo, console.prompt_button,
                          console.export_button, console.more_button) if w.isVisible()]
    rects = [w.geometry() for w in header]
    assert all(w.width() > 0 for w in header) and console.title_label in header
    for left, right in zip(rects, rects[1:], strict=False):
        assert left.right() < right.left(), f"{left} overlaps {right}"
    right_edge = header[-1].mapTo(window, header[-1].rect().topRight()).x()
    assert right_edge <= window.width()
    _no_button_squeezed(console)
    # a title that does not fit ends in "…" (a clipped title reads as a different, shorter one)
    console.title_label.setText("Retry helper in Python with jitter and a circuit breaker")
    assert console.title_label.displayed_text().endswith("…")
    assert tip_text(console.title_label.toolTip()) == "Retry helper in Python with jitter and a circuit breaker"
    # the composer's hint is the short one rather than a wrapped, cut-off long one
    assert console.composer.placeholderText() == "Message your agent…"
    # the composer and its buttons fit as well
    send = console.send_button.mapTo(window, console.send_button.rect().topRight()).x()
    assert send <= window.width()


def _no_button_squeezed(page) -> None:
    """Every button on screen is at least as wide as its text needs (a squeezed one elides or clips:
    "em pro" for System prompt, "E…▾" for Export)."""
    from PySide6.QtWidgets import QAbstractButton

    squeezed = [f"{b.text()!r}: {b.width()} < {b.sizeHint().width()}" for b in page.findChildren(QAbstractButton)
                if b.isVisible() and b.width() < b.sizeHint().width()]
    assert squeezed == []


def test_console_header_folds_its_buttons_into_a_menu_at_700_px(qtbot, window, settle):
    """Tiling window managers ignore a window's minimum size: at 700 px the Console's buttons are
    whole or folded into "⋯", never squeezed; wide again, they come back."""
    add_connection(window.ctx.db, "Hermes · Local", "http://127.0.0.1:9/v1", "hermes3")
    console = window.pages["console"]
    console.refresh_connections()
    settle()
    window.show_page("console")
    window.setMinimumSize(600, 500)
    window.resize(700, 600)
    qtbot.waitUntil(lambda: window.width() == 700, timeout=3000)
    qtbot.wait(20)
    _no_button_squeezed(console)
    assert console.more_button.isVisible()
    assert not any(b.isVisible() for b in (console.compare_button, console.settings_button, console.prompt_button,
                                           console.export_button))
    menu = [a.text() for a in console.more_menu.actions() if not a.isSeparator()]
    assert menu == ["Compare…", "Thread settings…", "System prompt…", "As Markdown…", "As JSON…"]
    console.prompt_action.trigger()  # the folded button still does what it did
    qtbot.waitUntil(lambda: console.prompt_dialog is not None, timeout=3000)
    console.prompt_dialog.close()

    window.resize(1200, 760)
    qtbot.waitUntil(lambda: window.width() == 1200, timeout=3000)
    qtbot.wait(20)
    assert console.prompt_button.isVisible() and console.export_button.isVisible()
    assert not console.more_button.isVisible()
    _no_button_squeezed(console)


def test_a_long_code_line_wraps_inside_its_bubble(qtbot, window, settle):
    from standin.demo.seed import add_thread

    line = "result = compute(" + ", ".join(f"argument_{i}" for i in range(40)) + ")"  # ~600 characters
    cid = add_thread(window.ctx.db, "Wide code", [("assistant", f"Here:\n\n```python\n{line}\n```\n")])
    console = window.pages["console"]
    window.show_page("console")
    with qtbot.waitSignal(console.thread_opened, timeout=5000):
        console.refresh_threads(select=cid)
    row = console.transcript.row_at(0)
    doc = console.view.delegate.rendered(row).doc
    assert doc.size().width() <= doc.textWidth() + 1  # nothing is painted past the bubble's edge
    index = console.transcript.index(0)
    g = console.view.delegate.geometry(console.view.visualRect(index), index)
    assert g.bubble.contains(g.copies[0][1])
    assert g.copies[0][0] == line  # Copy still gives the line unbroken
