"""Export through the menu and the file dialog, as a user does it: the suggested name is safe on every
OS, a name typed without an extension gets the format's, the folder is remembered, failures are said."""

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QLineEdit

from desktop.bus import bus
from local_schema.files import is_device_name
from standin.demo.seed import add_thread


def _open_thread(qtbot, window, title):
    cid = add_thread(window.ctx.db, title, [("user", "Q1"), ("assistant", "A1")])
    console = window.pages["console"]
    window.show_page("console")
    with qtbot.waitSignal(console.thread_opened, timeout=5000):
        console.refresh_threads(select=cid)
    return console


def _menu_action(console, text):
    return next(a for a in console.export_button.menu().actions() if a.text() == text)


def _dialog(qtbot, console) -> QFileDialog:
    qtbot.waitUntil(lambda: getattr(console, "export_file_dialog", None) is not None
                    and console.export_file_dialog.isVisible(), timeout=5000)
    return console.export_file_dialog


def _save(qtbot, dialog) -> None:
    buttons = dialog.findChild(QDialogButtonBox, "buttonBox")
    qtbot.mouseClick(buttons.button(QDialogButtonBox.StandardButton.Save), Qt.MouseButton.LeftButton)


def test_export_through_the_dialog_adds_the_extension_and_remembers_the_folder(qtbot, window, settle, tmp_path):
    console = _open_thread(qtbot, window, 'Plans: Q3/Q4 "draft"?')
    out = tmp_path / "exports"
    out.mkdir()

    _menu_action(console, "As Markdown…").trigger()
    dialog = _dialog(qtbot, console)
    suggested = dialog.findChild(QLineEdit, "fileNameEdit").text()
    assert suggested.endswith(".md") and not any(ch in suggested for ch in '/\\:*?"<>|')
    dialog.setDirectory(str(out))  # the user browses to the folder…
    edit = dialog.findChild(QLineEdit, "fileNameEdit")
    edit.clear()
    qtbot.keyClicks(edit, "notes")  # …and types a name without an extension
    with qtbot.waitSignal(bus.notice, timeout=5000) as notice:
        _save(qtbot, dialog)
    assert "Exported to" in notice.args[0]
    assert "Q1" in (out / "notes.md").read_text("utf-8")
    settle()

    _menu_action(console, "As JSON…").trigger()
    dialog = _dialog(qtbot, console)
    assert Path(dialog.directory().absolutePath()) == out  # the last folder, not the home folder again
    edit = dialog.findChild(QLineEdit, "fileNameEdit")
    assert edit.text().endswith(".json")
    with qtbot.waitSignal(bus.notice, timeout=5000):
        _save(qtbot, dialog)
    (written,) = out.glob("*.json")
    assert json.loads(written.read_text("utf-8"))["messages"][1]["content"] == "A1"


def test_a_failed_export_says_why(qtbot, window, settle, tmp_path):
    console = _open_thread(qtbot, window, "Thread")
    from desktop.pages.console import actions

    target = tmp_path / "a-folder.md"
    target.mkdir()  # a folder where the file should go: the write fails
    with qtbot.waitSignal(bus.error, timeout=5000) as err:
        actions.export_thread(console, "markdown", target)
    assert err.args[0].startswith("Could not export the thread")


@pytest.mark.parametrize("title", ["con", "NUL.notes", "Com1", "lpt9 ", "aux"])
def test_a_title_windows_reads_as_a_device_still_suggests_a_file(title):
    """On Windows "con.md" is the console and "nul.notes.md" the null device, in any folder."""
    from desktop.pages.console.actions import export_file_name
    from desktop.pages.templates.page import _file_stem

    for name in (export_file_name(title, "markdown"), export_file_name(title, "json")):
        assert not is_device_name(name) and title.strip() in name, name
    assert not is_device_name(_file_stem(title) + ".mirari-template.json")
    assert export_file_name("Console notes", "markdown") == "Console notes.md"  # only whole device names
