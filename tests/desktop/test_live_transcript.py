"""Rows that sync writes into the open thread appear in place: keyed windows over the active path, no
skip, no double, the reader's place and the composer's text kept; branches off the path stay out of it.
(The rows are applied as a sync cycle applies them: capture suppressed, then the database's listeners
told with origin "sync".)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from standin.demo.seed import add_thread


def _apply_as_sync(db, rows) -> None:
    """Insert `rows` (id, conversation_id, role, content, created_at, parent_id) the way a pull does: a
    pulled row carries its parent and the seq its writer gave it (here: its created_at in µs)."""
    from local_schema.timestamps import to_micros

    with db.write() as session:
        conn = session.connection()
        with db.applying_remote(conn):
            conn.exec_driver_sql(
                "INSERT INTO messages (id, conversation_id, role, content, created_at, updated_at, seq, parent_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(*r[:5], r[4], to_micros(r[4]), r[5]) for r in rows])
    db.notify_changed({"messages"}, "sync", {"messages": {r[0] for r in rows}})


def _stamp(start, seconds: float) -> str:
    return (start + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def test_rows_landing_in_the_open_thread_are_shown_once_in_order_and_the_reader_stays_put(qtbot, window, settle):
    import uuid

    start = datetime.now(UTC) - timedelta(days=2)
    cid = add_thread(window.ctx.db, "Long", [("user", f"m{i:03d}") for i in range(0, 600, 2)], start=start)
    with window.ctx.db.engine.begin() as conn:
        ids = dict(conn.exec_driver_sql("SELECT content, id FROM messages WHERE conversation_id = ?", (cid,)).all())
        conn.exec_driver_sql("UPDATE conversations SET active_leaf_id = ? WHERE id = ?", (ids["m598"], cid))
    console = window.pages["console"]
    window.show_page("console")
    with qtbot.waitSignal(console.thread_opened, timeout=10_000):
        console.refresh_threads(select=cid)
    view, model = console.view, console.transcript
    bar = view.verticalScrollBar()
    bar.setValue(0)  # scroll up once: an older page arrives above, the reader is mid-thread
    qtbot.waitUntil(lambda: len(model.rows()) > 100, timeout=5000)
    settle(50)
    bar.setValue(bar.maximum() // 3)
    settle(50)
    top = view.indexAt(view.viewport().rect().topLeft())
    reading = model.row_at(top.row()).id
    reading_y = view.visualRect(top).top()
    shown_before = [r.content for r in model.rows()]
    qtbot.keyClicks(console.composer, "half-written reply")
    resets = []
    model.modelReset.connect(lambda: resets.append(1))

    # Another device branched off every message but the last (odd numbers, newer than all) and continued
    # the path under the last one (m600 … m698): the branches stay off the path, the continuation follows
    # it (the window reaches the end of the path, so it takes the continuation in below the reader).
    later = 7 * 400
    branches = [(str(uuid.uuid4()), cid, "assistant", f"m{i:03d}", _stamp(start, later + i), ids[f"m{i - 1:03d}"])
                for i in range(1, 598, 2)]
    continuation, parent = [], ids["m598"]
    for i in range(600, 700, 2):
        row_id = str(uuid.uuid4())
        continuation.append((row_id, cid, "user", f"m{i:03d}", _stamp(start, 7 * (i // 2 + 1)), parent))
        parent = row_id
    _apply_as_sync(window.ctx.db, branches + continuation)
    settle(300)
    contents = [r.content for r in model.rows()]
    assert contents == shown_before + [f"m{i}" for i in range(600, 700, 2)]  # no branch, nothing twice
    assert resets == [] and console.composer.toPlainText() == "half-written reply"
    row = model.row_of(reading)
    assert row is not None
    assert abs(view.visualRect(model.index(row)).top() - reading_y) <= 2  # the reader did not move

    # Scrolling on from here walks the path: the rest of the thread comes in order, once.
    for _ in range(20):
        if not model.has_newer():
            break
        bar.setValue(bar.maximum())
        settle(50)
    for _ in range(20):
        if not model.has_older():
            break
        bar.setValue(0)
        settle(50)
    contents = [r.content for r in model.rows()]
    numbers = [int(c[1:]) for c in contents]
    assert numbers == list(range(numbers[0], numbers[0] + 2 * len(numbers), 2)) and numbers[-1] == 698


def test_a_row_changed_and_a_row_deleted_by_sync_update_in_place(qtbot, window, settle):
    start = datetime.now(UTC) - timedelta(hours=1)
    cid = add_thread(window.ctx.db, "Short", [("user", "one"), ("assistant", "two"), ("user", "three")],
                     start=start)
    console = window.pages["console"]
    with qtbot.waitSignal(console.thread_opened, timeout=10_000):
        console.refresh_threads(select=cid)
    ids = [r.id for r in console.transcript.rows()]
    db = window.ctx.db
    with db.write() as session:
        conn = session.connection()
        with db.applying_remote(conn):
            conn.exec_driver_sql("UPDATE messages SET content = 'two, edited elsewhere' WHERE id = ?", (ids[1],))
            conn.exec_driver_sql("DELETE FROM messages WHERE id = ?", (ids[2],))
    db.notify_changed({"messages"}, "sync", {"messages": {ids[1], ids[2]}})
    qtbot.waitUntil(lambda: [r.content for r in console.transcript.rows()] == ["one", "two, edited elsewhere"],
                    timeout=5000)
