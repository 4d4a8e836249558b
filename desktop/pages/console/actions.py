"""Console actions that are one background op each: create/rename/delete a thread, promote a
message to the Atlas, copy, export, preview the system prompt. The product logic lives in agent/."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QInputDialog,
    QMenu,
    QPlainTextEdit,
    QVBoxLayout,
)

from desktop.bus import bus
from desktop.ops import Op
from desktop.safe_text import Label
from local_schema.files import is_device_name


def create_thread(page, then=None) -> None:
    db, cid = page.ctx.db, page.current_connection_id()

    def create() -> str:
        from agent.chat.threads import new_thread

        return new_thread(db, cid).id

    def created(conversation_id: str) -> None:
        page.show_new_thread(conversation_id)
        if then is not None:
            then(conversation_id)

    Op(page, create, "Creating a thread").success(created).run()


def rename_dialog(page, conversation_id: str, current: str) -> None:
    title, ok = QInputDialog.getText(page, "Rename thread", "Title:", text=current)
    if ok:
        rename_thread(page, conversation_id, title)


def rename_thread(page, conversation_id: str, title: str) -> None:
    db = page.ctx.db

    def rename() -> None:
        from agent.chat.threads import rename_thread as rename_in_db

        rename_in_db(db, conversation_id, title)

    Op(page, rename, "Renaming the thread").success(
        lambda _r: page.refresh_threads()).run()


def delete_thread(page, conversation_id: str) -> None:
    db = page.ctx.db

    def delete() -> None:
        from agent.chat.threads import delete_thread as delete_in_db

        delete_in_db(db, conversation_id)  # messages cascade; sync pushes one tombstone

    Op(page, delete, "Deleting the thread").success(
        lambda _r: page.forget_thread(conversation_id)).run()


def _message_text(page, message_id: str) -> str | None:
    row = page.transcript.row_of(message_id)
    return page.transcript.row_at(row).content if row is not None else None


def copy_message(page, message_id: str) -> None:
    text = _message_text(page, message_id)
    if text is not None:
        QApplication.clipboard().setText(text)
        bus.notice.emit("Message copied to the clipboard")


def promote(page, message_id: str) -> None:
    """Promote keeps the fact, not the message: a small editor opens with the message's text (Markdown
    stripped, trimmed to the Atlas limit) and a category; Enter saves (agent.memory.atlas.add_node)."""
    db = page.ctx.db

    def draft():
        from agent.memory.atlas import promote_draft

        return promote_draft(db, message_id)

    Op(page, draft, "Promoting to the Atlas").success(lambda d: open_promote_editor(page, d)).run()


def open_promote_editor(page, draft) -> None:
    from desktop.dialogs.memory_editor import MemoryEditor

    note = "Keep only the fact: edit the text down to what the agent should remember. Enter saves."
    if draft.shortened:
        note += " (The message was longer than the Atlas's 2,000 characters and was shortened.)"
    page.promote_editor = MemoryEditor(page, page.ctx.db, title="Promote to Atlas", label=draft.label,
                                       category=draft.category, source=draft.source, note=note)
    page.promote_editor.open()


_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def export_file_name(title: str, fmt: str) -> str:
    """A file name from the thread title that every OS accepts (no / \\ : * ? " < > | or controls, no
    Windows device name)."""
    stem = " ".join(_UNSAFE_NAME.sub("-", title or "").split()).strip(" .-")[:60].strip() or "thread"
    if is_device_name(stem):  # "con.md" would be the console on Windows
        stem = f"thread {stem}"
    return stem + (".md" if fmt == "markdown" else ".json")


def export_dialog(page, fmt: str) -> None:
    """Ask where to save (non-blocking dialog; the last folder is remembered), then export."""
    if page.conversation_id is None:
        bus.error.emit("Open a thread to export it.")
        return
    folder = page.ctx.settings.export_dir or str(Path.home())
    dialog = QFileDialog(page, "Export thread", folder,
                         "Markdown (*.md)" if fmt == "markdown" else "JSON (*.json)")
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setDefaultSuffix("md" if fmt == "markdown" else "json")  # "notes" is saved as notes.md
    dialog.selectFile(export_file_name(page.title_label.text(), fmt))
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def chosen(path: str) -> None:
        page.ctx.settings.export_dir = str(Path(path).parent)
        export_thread(page, fmt, Path(path))

    dialog.fileSelected.connect(chosen)
    page.export_file_dialog = dialog
    dialog.open()


def export_thread(page, fmt: str, path: Path) -> None:
    db, cid = page.ctx.db, page.conversation_id

    def run() -> Path:
        from agent.chat.export import export_thread_in as write_export

        with db.session() as s:
            return write_export(s, cid, Path(path), fmt)

    Op(page, run, "Exporting the thread").success(
        lambda written: bus.notice.emit(f"Exported to {written}")).failure(
        lambda exc: bus.error.emit(f"Could not export the thread to {path}: {exc}")).run()


def preview_prompt(page) -> None:
    db, cid, thread = page.ctx.db, page.current_connection_id(), page.conversation_id
    knowledge, question = page.attach.knowledge(), page.composer.toPlainText().strip()

    def build() -> str:
        from agent.chat.attached import knowledge_for
        from agent.prompt import preview_system_prompt_in
        from local_schema.models import AgentConnection

        # The passages the message in the composer would carry (agent.chat.turn adds exactly this block).
        _passages, block = knowledge_for(db, knowledge, question) if question else ([], "")
        with db.session() as s:  # with the open thread's own addition to the system prompt
            return preview_system_prompt_in(s, s.get(AgentConnection, cid) if cid else None, conversation_id=thread,
                                            knowledge=block)

    extra = ""
    if knowledge:
        extra = (f" With the knowledge set “{knowledge[0]}”, the passages found for the message in the composer "
                 "come last" + ("" if question else " (type a message to see them)") + ".")
    Op(page, build, "Building the system prompt").success(lambda text: _show_prompt(page, text, extra)).run()


def _show_prompt(page, text: str, extra: str = "") -> None:
    dialog = QDialog(page)
    dialog.setObjectName("PromptPreview")
    dialog.setWindowTitle("System prompt preview")
    dialog.resize(640, 480)
    layout = QVBoxLayout(dialog)
    note = Label("Exactly the system message the next turn sends: the connection's base prompt, the memory "
                 "block (nodes at strength 0.75 or more, strongest first, at most 40), then promoted skills. "
                 "The thread's last 40 messages follow it." + extra)
    note.setObjectName("Muted")
    note.setWordWrap(True)
    layout.addWidget(note)
    view = QPlainTextEdit(text or "(empty: this connection has no base prompt, memory or promoted skills yet)")
    view.setReadOnly(True)
    layout.addWidget(view)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    page.prompt_dialog = dialog
    dialog.show()  # non-modal: the user can keep reading the thread beside it


def message_menu(page, pos) -> None:
    """The same actions as the links under a message, for the right mouse button and the keyboard."""
    index = page.view.indexAt(pos)
    if not index.isValid():
        return
    row = page.transcript.row_at(index.row())
    if row.streaming or row.provisional:
        return
    menu = QMenu(page)
    menu.addAction("Copy message", lambda: page.on_message_action("copy", row.id))
    menu.addAction("Promote to Atlas", lambda: page.on_message_action("promote", row.id))
    if row.role == "user":
        menu.addAction("Edit…", lambda: page.on_message_action("edit", row.id))
    if row.role == "assistant" and not page.turns.busy:
        menu.addAction("Regenerate reply", lambda: page.on_message_action("regenerate", row.id))
    if row.error and not page.turns.busy:
        menu.addAction("Retry", lambda: page.on_message_action("retry", row.id))
    if len(row.siblings) > 1:
        if row.sibling_index > 1:
            menu.addAction("Previous version ‹", lambda: page.on_message_action("previous_sibling", row.id))
        if row.sibling_index < len(row.siblings):
            menu.addAction("Next version ›", lambda: page.on_message_action("next_sibling", row.id))
        if row.role == "assistant":
            menu.addAction("Side by side…", lambda: page.on_message_action("side_by_side", row.id))
    menu.addAction("Fork from here", lambda: page.on_message_action("fork", row.id))
    menu.exec(page.view.viewport().mapToGlobal(pos))
