"""The Observatory in the real window: the home screen at start, tiles equal to the counts, the chart
with values on hover, connections with their last check, the sync state, and refresh on change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent

from agent.observatory import stats
from agent.tasks import board
from local_schema.models import ConnectionCheck, Skill
from standin.demo.seed import add_connection, add_thread


def _numbers(window):
    return {key: tile.value.text() for key, tile in window.pages["observatory"].tiles.items()}


def test_the_home_screen_shows_the_counts(qtbot, window, settle):
    page = window.pages["observatory"]
    assert window.stack.currentWidget() is page
    db = window.ctx.db
    cid = add_connection(db, "Hermes · Local", "http://127.0.0.1:9/v1", "hermes3", status="error")
    with db.write() as s:
        s.add(ConnectionCheck(connection_id=cid, status="error", error="HTTP 401: the key was refused",
                              checked_at=datetime.now(UTC).isoformat()))
        s.add(Skill(name="Summarise", status="promoted", template_prompt="Be brief."))
    # Five minutes ago, but never yesterday (a run just after midnight): the chart counts by local day.
    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    start = max(datetime.now(UTC) - timedelta(minutes=5), midnight.astimezone(UTC))
    add_thread(db, "Today", [("user", "hi"), ("assistant", "hello")], cid, start=start)
    board.add_task(db, "Done already", status="done")
    with qtbot.waitSignal(page.loaded, timeout=5000):
        page.refresh()
    expected = stats.collect(db).tiles
    assert _numbers(window) == {key: f"{value:,}" for key, value in expected.items()}
    assert (expected["messages"], expected["promoted"], expected["tasks_done"]) == (2, 1, 1)
    assert page.chart.days[-1][1:] == (2, 1)  # today: two messages, one new skill
    assert page.connections.rowCount() == 1
    assert page.connections.item(0, 0).text() == "Hermes · Local"
    assert "Error" in page.connections.item(0, 2).text()
    assert page.connections.item(0, 4).text() == "HTTP 401: the key was refused"
    assert page.sync_state.text() == "Not signed in"
    assert page.sync_fields["pending"].text().endswith("change(s)")


def test_a_write_announced_on_the_bus_refreshes_the_page(qtbot, window, settle):
    page = window.pages["observatory"]
    settle()
    tasks_page = window.pages["tasks"]
    with qtbot.waitSignal(page.loaded, timeout=5000):
        tasks_page.new_title.setText("From the board")
        tasks_page.add_from_input()  # an op that announces "tasks" on the change bus
    assert page.tiles["tasks"].value.text() == "1"


def test_the_chart_shows_values_on_hover(qtbot, window, settle):
    page = window.pages["observatory"]
    page.chart.set_days([(f"2026-05-{d:02d}", d * 10, d % 3) for d in range(1, 15)])
    page.chart.resize(700, 240)
    page.chart.show()
    column = page.chart.column_rect(4)
    move = QMouseEvent(QMouseEvent.Type.MouseMove, QPointF(column.center()), page.chart.mapToGlobal(QPoint(0, 0)),
                       Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    page.chart.mouseMoveEvent(move)
    assert page.chart.hovered == 4
    assert page.chart.label(*page.chart.days[4]) == "Tue 05 May: 50 messages, 2 new skills"
    assert page.chart.day_at(page.chart.plot_rect().left() - 5) is None
    page.chart.grab()  # paints without error, hovered column and all


def test_nice_axis_tops():
    from desktop.widgets.day_chart import nice_max

    assert [nice_max(v) for v in (0, 1, 5, 21, 123, 1001)] == [4, 4, 8, 40, 200, 2000]


def test_the_sync_row_follows_the_window_sync(qtbot, tmp_path, supabase_stack, memory_keyring, settle):
    """Signed in on the stand-in: the row names the account and, after a cycle, says Synced with the time
    and nothing waiting; a task added waits until the next cycle has pushed it."""
    from tests.desktop.sync_windows import close_window, open_device, sync_now, wait_synced

    user = supabase_stack.new_user()
    window = open_device(qtbot, tmp_path / "dev", memory_keyring, supabase_stack, user)
    try:
        page = window.show_page("observatory")
        wait_synced(qtbot, window)
        qtbot.waitUntil(lambda: page.sync_state.text() == "Synced", timeout=5000)
        assert page.sync_fields["account"].text() == user[0]
        assert page.sync_fields["last_sync"].text() != "never"
        shown: list[str] = []  # what the row said after each change of the sync state
        window.ctx.sync.status_changed.connect(lambda _s: shown.append(page.sync_fields["pending"].text()))
        window.pages["tasks"].new_title.setText("Sync me")
        window.pages["tasks"].add_from_input()
        qtbot.waitUntil(lambda: "1 change(s)" in shown, timeout=5000)
        sync_now(qtbot, window)
        qtbot.waitUntil(lambda: page.sync_fields["pending"].text() == "0 change(s)", timeout=5000)
        # The tile follows the task's write through the debounced (300 ms) recount, which may still be
        # on its way when the sync has already pushed: wait for it rather than race it.
        qtbot.waitUntil(lambda: page.tiles["tasks"].value.text() == "1", timeout=5000)
    finally:
        close_window(window)
