"""The Sync panel speaks in the error colour only about real refusals, and shows the server's reason
(outside text) as text."""

from __future__ import annotations

from desktop.theme import colors


def _colour(label) -> str:
    label.ensurePolished()
    return label.palette().color(label.foregroundRole()).name()


def _refuse_a_change(db, message: str) -> None:
    """A change the server refused, parked as sync parks one (sync.outbox.park), with its reason."""
    from agent.tasks.board import add_task
    from sync.outbox import park, read_pending

    add_task(db, "Plan the week")
    with db.write() as session:
        conn = session.connection()
        (op,) = read_pending(conn)
        park(conn, op, "42501", message)


def test_nothing_refused_is_plain_text_and_a_refusal_is_in_the_error_colour(fifo_trap, window, settle, qtbot):
    panel = window.open_sync_panel()
    settle()
    assert panel.reason_label.text() == "The server has refused nothing."
    assert _colour(panel.reason_label) == colors().text != colors().error

    tag = f'<img src="{fifo_trap.path}">'
    _refuse_a_change(window.ctx.db, f"{tag} new row violates row-level security")
    panel.reload()
    settle()
    assert panel.reason_label.text() == f"The server said: {tag} new row violates row-level security [42501]"
    assert _colour(panel.reason_label) == colors().error
    panel.grab()
    panel.refused_list.viewport().grab()
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QToolTip

    QToolTip.showText(QPoint(5, 5), panel.refused_list.item(0).toolTip(), panel.refused_list)
    QToolTip.hideText()
    assert fifo_trap.opens() == 0
    panel.close()
