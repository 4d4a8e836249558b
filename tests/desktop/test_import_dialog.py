"""File → Import… as a user does it: the menu, the file dialog, the format detected (or asked), the job
with its progress and Cancel, the summary, and the Console's thread list refreshed."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "imports"


def _choose_file(qtbot, window, path: Path) -> None:
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    action = next(a for a in file_menu.actions() if a.text() == "&Import…")
    assert action is window.import_action and action.isEnabled()
    action.trigger()
    qtbot.waitUntil(lambda: getattr(window, "import_file_dialog", None) is not None
                    and window.import_file_dialog.isVisible(), timeout=5000)
    dialog = window.import_file_dialog
    edit = dialog.findChild(QLineEdit, "fileNameEdit")
    edit.setText(str(path))
    buttons = dialog.findChild(QDialogButtonBox, "buttonBox")
    qtbot.mouseClick(buttons.button(QDialogButtonBox.StandardButton.Open), Qt.MouseButton.LeftButton)


def _import_dialog(qtbot, window, previous=None):
    qtbot.waitUntil(lambda: getattr(window, "import_dialog", None) not in (None, previous), timeout=10_000)
    return window.import_dialog


def _ended(qtbot, dialog) -> str:
    qtbot.waitUntil(lambda: dialog.close_button.isVisible(), timeout=20_000)
    assert not dialog.bar.isVisible() and not dialog.cancel_button.isVisible()
    assert dialog.status.textFormat() == Qt.TextFormat.PlainText
    return dialog.status.text()


def _titles(console) -> list[str]:
    return sorted(t.title for t in console.threads.rows())


def test_import_a_chatgpt_zip_from_the_file_menu(qtbot, window, settle, tmp_path):
    console = window.pages["console"]
    window.show_page("console")
    archive = tmp_path / "chatgpt export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(FIXTURES / "chatgpt_conversations.json", "conversations.json")
        z.writestr("chat.html", "<html></html>")

    _choose_file(qtbot, window, archive)
    dialog = _import_dialog(qtbot, window)
    assert dialog.heading.text() == "Importing chatgpt export.zip"
    text = _ended(qtbot, dialog)
    assert text == ("Imported from ChatGPT: 3 new threads, 14 messages. 5 messages skipped (system, hidden, "
                    "reasoning or empty).")
    assert dialog.heading.text() == "Imported chatgpt export.zip"
    job = window.ctx.jobs.jobs[-1]
    assert job.label == "Importing chatgpt export.zip" and job.state == "done"  # listed with the other jobs
    settle()
    qtbot.waitUntil(lambda: "Trip to Lisbon" in _titles(console), timeout=5000)
    assert _titles(console) == ["Content types", "No times anywhere in this one, and no title either.",
                                "Trip to Lisbon"]
    dialog.close_button.click()
    assert not dialog.isVisible()

    _choose_file(qtbot, window, archive)  # again: nothing new
    again = _import_dialog(qtbot, window, previous=dialog)
    assert "3 threads already imported, unchanged." in _ended(qtbot, again)
    settle()
    assert len(console.threads.rows()) == 3


def test_a_file_that_does_not_say_its_format_asks_for_it(qtbot, window, tmp_path):
    empty = tmp_path / "conversations.json"
    empty.write_text("[]")
    _choose_file(qtbot, window, empty)
    qtbot.waitUntil(lambda: getattr(window, "import_source_dialog", None) is not None
                    and window.import_source_dialog.isVisible(), timeout=5000)
    asked = window.import_source_dialog
    assert [asked.choice.itemText(i) for i in range(asked.choice.count())] == ["ChatGPT", "Claude"]
    asked.choice.setCurrentText("Claude")
    asked.accept()
    dialog = _import_dialog(qtbot, window)
    assert _ended(qtbot, dialog) == "conversations.json holds no Claude conversations: nothing was imported."


def test_a_cut_off_file_says_so_and_keeps_what_came_before(qtbot, window, settle, tmp_path):
    console = window.pages["console"]
    window.show_page("console")
    text = (FIXTURES / "claude_conversations.json").read_text()
    cut = tmp_path / "conversations.json"
    cut.write_text(text[:text.index('"claude-tree"') + 20])
    _choose_file(qtbot, window, cut)
    dialog = _import_dialog(qtbot, window)
    error = _ended(qtbot, dialog)
    assert dialog.status.objectName() == "Error"
    assert error.startswith("conversations.json is cut off or malformed in conversation 2 (read up to byte ")
    assert error.endswith("The 1 conversation before it is imported; once the file is fixed, importing it again "
                          "adds only the rest")
    assert dialog.heading.text() == "Could not import all of conversations.json"
    settle()
    qtbot.waitUntil(lambda: _titles(console) == ["Poem about rain"], timeout=5000)


def test_cancel_an_import_waiting_in_the_job_queue(qtbot, window, settle):
    release = threading.Event()
    blocker = window.ctx.jobs.submit("Another long job", lambda ctx: release.wait(20))
    try:
        _choose_file(qtbot, window, FIXTURES / "claude_conversations.json")
        dialog = _import_dialog(qtbot, window)
        assert dialog.status.text() == "Waiting for the job queue…" and dialog.cancel_button.isVisible()
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        text = _ended(qtbot, dialog)
    finally:
        release.set()
    assert text.startswith("Cancelled after 0 conversations: those stay imported (0 new threads, 0 messages)")
    assert dialog.heading.text() == "Import of claude_conversations.json cancelled"
    qtbot.waitUntil(lambda: blocker.state == "done", timeout=10_000)
    settle()
    with window.ctx.db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM conversations").scalar() == 0


def test_a_file_that_is_not_an_export_is_refused_in_plain_words(qtbot, window):
    _choose_file(qtbot, window, FIXTURES / "not_an_export.json")
    qtbot.waitUntil(lambda: getattr(window, "import_error_box", None) is not None
                    and window.import_error_box.isVisible(), timeout=5000)
    box = window.import_error_box
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert box.text() == ("Nothing was imported: not_an_export.json is not a conversations export: it should hold "
                          "a list of conversations (starting with “[”), but starts with “{”")
    assert getattr(window, "import_dialog", None) is None  # no job was started
    box.close()
