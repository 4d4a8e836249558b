"""Opening the Console's tree dialogs (edit a message, Compare, side by side, thread settings): each one
at a time, not modal, kept on `page.tree_dialog` so a test (or the reader) can reach it."""

from __future__ import annotations

from desktop.bus import bus


def _show(page, dialog):
    if page.tree_dialog is not None and page.tree_dialog is not dialog:
        page.tree_dialog.close()
    page.tree_dialog = dialog
    dialog.show()
    dialog.raise_()
    return dialog


def open_edit(page, message_id: str):
    from desktop.pages.console.edit_message import EditMessageDialog

    i = page.transcript.row_of(message_id)
    if i is None:
        return None
    row = page.transcript.row_at(i)
    if row.role != "user" or row.provisional:
        return None
    return _show(page, EditMessageDialog(page, message_id, row.content, can_resend=not page.turns.busy))


def open_compare(page):
    from desktop.pages.console.compare_view import CompareDialog

    if isinstance(page.tree_dialog, CompareDialog) and page.tree_dialog.running:
        return _show(page, page.tree_dialog)  # one comparison at a time: show the one being written
    if len(page.connection_names) < 2:
        bus.error.emit("Compare needs at least two connections: add another under I. Bind.")
        return None
    if page.conversation_id is None:
        bus.error.emit("Open a thread (or start one) to compare connections in it.")
        return None
    dialog = CompareDialog(page)
    dialog.choose([(cid, name, model) for cid, (name, model) in page.connection_names.items()],
                  page.composer.toPlainText())
    return _show(page, dialog)


def open_side_by_side(page, reply_id: str):
    from desktop.pages.console.compare_view import CompareDialog

    dialog = CompareDialog(page)
    dialog.show_siblings(reply_id)
    return _show(page, dialog)


def open_settings(page):
    from desktop.pages.console.thread_settings import ThreadSettingsDialog

    if page.conversation_id is None:
        bus.error.emit("Open a thread to change its settings.")
        return None
    return _show(page, ThreadSettingsDialog(page, page.conversation_id))
