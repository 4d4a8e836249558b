"""Bind: presets, validation, keys in the keychain (never the database), Test, edit and delete."""

import socket

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from sqlmodel import select

from local_schema.models import AgentConnection, ConnectionCheck


def _bind(qtbot, window, settle, preset="Custom", url=None, model="fake-model", key="", name="Fake"):
    window.show_page("bind")
    page = window.pages["bind"]
    qtbot.mouseClick(page.preset_buttons[preset], Qt.MouseButton.LeftButton)
    if url is not None:
        page.url_edit.clear()
        qtbot.keyClicks(page.url_edit, url)
    if model is not None:
        page.model_edit.clear()
        qtbot.keyClicks(page.model_edit, model)
    if name is not None:
        page.name_edit.clear()
        qtbot.keyClicks(page.name_edit, name)
    if key:
        qtbot.keyClicks(page.key_edit, key)
    with qtbot.waitSignal(page.saved, timeout=5000) as saved:
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    settle()
    return page, saved.args[0]


def _rows(window):
    with window.ctx.db.session() as s:
        return s.exec(select(AgentConnection)).all()


def test_presets_fill_the_form_and_bind_a_connection_with_its_key_in_the_keychain(
        qtbot, window, settle, memory_keyring, fake_llm):
    page = window.pages["bind"]
    assert list(page.preset_buttons) == ["Hermes · Local", "Hermes · Cloud", "OpenRouter", "Nous", "Custom"]
    qtbot.mouseClick(page.preset_buttons["OpenRouter"], Qt.MouseButton.LeftButton)
    assert page.url_edit.text() == "https://openrouter.ai/api/v1"
    assert page.model_edit.text() == "nousresearch/hermes-3-llama-3.1-70b"
    assert page.provider_combo.currentText() == "openrouter"

    page, cid = _bind(qtbot, window, settle, "Hermes · Local", url=fake_llm.base_url, key="sk-secret-123",
                      name="My Hermes", model=None)
    (row,) = _rows(window)
    assert (row.name, row.provider, row.base_url, row.model) == ("My Hermes", "hermes", fake_llm.base_url, "hermes3")
    assert memory_keyring.secrets[("MIRARI", cid)] == "sk-secret-123"
    assert page.key_edit.text() == ""  # the key field never keeps the key on screen
    db_bytes = b"".join(p.read_bytes() for p in window.ctx.data_dir.glob("local.sqlite3*"))
    assert b"sk-secret-123" not in db_bytes
    assert page.model.rowCount() == 1
    qtbot.waitUntil(lambda: "stored" in page.key_note.text())


def test_invalid_form_shows_errors_and_saves_nothing(qtbot, window, settle):
    page = window.pages["bind"]
    window.show_page("bind")
    qtbot.mouseClick(page.preset_buttons["Custom"], Qt.MouseButton.LeftButton)
    qtbot.keyClicks(page.name_edit, "Broken")
    qtbot.keyClicks(page.url_edit, "ftp://example.com/v1")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert page.errors["base_url"].isVisible()
    assert "http://" in page.errors["base_url"].text()
    assert page.errors["model"].isVisible()
    assert page.url_edit.property("invalid") is True
    assert _rows(window) == []
    # fixing the fields clears the errors and saves
    page.url_edit.clear()
    qtbot.keyClicks(page.url_edit, "https://example.com/v1")
    assert not page.errors["base_url"].isVisible()
    qtbot.keyClicks(page.model_edit, "m1")
    with qtbot.waitSignal(page.saved, timeout=5000):
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert [r.base_url for r in _rows(window)] == ["https://example.com/v1"]


def _test(qtbot, page):
    with qtbot.waitSignal(page.tested, timeout=15000) as tested:
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
        assert page.status.status == "testing"  # the click returned at once: the test runs off the UI thread
    return tested.args[1]


def test_test_reports_online_offline_and_error_with_reason_and_time(qtbot, window, settle, fake_llm):
    page, cid = _bind(qtbot, window, settle, url=fake_llm.base_url)
    assert _test(qtbot, page) == "online"
    assert page.status.word.text() == "Online"
    assert page.status.when.text().startswith("Last check ")

    # 401: wrong key
    fake_llm.required_key = "sk-right"
    page.key_edit.setText("sk-wrong")
    assert _test(qtbot, page) == "error"
    assert "key" in page.status.reason.text().lower()
    settle()
    with window.ctx.db.session() as s:
        check = s.get(ConnectionCheck, cid)
        assert check.status == "error" and "key" in check.error.lower()
        assert s.get(AgentConnection, cid).status == "error"

    # offline: a port nobody listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    page.url_edit.setText(f"http://127.0.0.1:{closed_port}/v1")
    assert _test(qtbot, page) == "offline"
    assert page.status.word.text() == "Offline"
    assert "refused" in page.status.reason.text().lower()
    settle()
    row = page.model.rows()[0]
    assert row.status == "offline" and row.checked_at


def test_edit_and_delete(qtbot, window, settle, memory_keyring, fake_llm):
    page, cid = _bind(qtbot, window, settle, url=fake_llm.base_url, key="sk-1")
    # a preset starts a new form; clicking the connection again brings it back for editing
    qtbot.mouseClick(page.preset_buttons["Nous"], Qt.MouseButton.LeftButton)
    assert page.editing_id is None and page.model_edit.text() == "Hermes-3-Llama-3.1-70B"
    rect = page.list.visualRect(page.model.index(0))
    qtbot.mouseClick(page.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert page.editing_id == cid and page.model_edit.text() == "fake-model"
    page.model_edit.setText("other-model")
    page.prompt_edit.setPlainText("You are terse.")
    with qtbot.waitSignal(page.saved, timeout=5000):
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    settle()
    (row,) = _rows(window)
    assert (row.id, row.model, row.system_prompt) == (cid, "other-model", "You are terse.")

    def accept_box():
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        box.button(QMessageBox.StandardButton.Yes).click()

    QTimer.singleShot(50, accept_box)
    with qtbot.waitSignal(page.deleted, timeout=5000):
        qtbot.mouseClick(page.delete_button, Qt.MouseButton.LeftButton)
    settle()
    assert _rows(window) == []
    assert ("MIRARI", cid) not in memory_keyring.secrets
    assert page.model.rowCount() == 0


def _answer_box(button):
    def answer():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        assert "unsaved changes" in box.text()
        box.button(button).click()
    QTimer.singleShot(20, answer)


def test_unsaved_edits_are_not_dropped_silently(qtbot, window, settle, fake_llm):
    from standin.demo.seed import add_connection

    page, first = _bind(qtbot, window, settle, url=fake_llm.base_url, name="First")
    add_connection(window.ctx.db, "Second", fake_llm.base_url, "second-model")
    page.refresh(select=first)
    settle()
    page.url_edit.setText("http://edited.example/v1")  # typed, not saved

    # clicking another connection asks; Cancel keeps the edit and the selection
    second_rect = page.list.visualRect(page.model.index(1))
    _answer_box(QMessageBox.StandardButton.Cancel)
    qtbot.mouseClick(page.list.viewport(), Qt.MouseButton.LeftButton, pos=second_rect.center())
    assert page.editing_id == first and page.url_edit.text() == "http://edited.example/v1"
    assert page.list.currentIndex().row() == 0

    # a refresh from elsewhere (e.g. a finished test or a sync) does not wipe the edit either
    page.refresh()
    settle()
    assert page.url_edit.text() == "http://edited.example/v1"

    # a preset asks too; Discard then starts the new form
    _answer_box(QMessageBox.StandardButton.Discard)
    qtbot.mouseClick(page.preset_buttons["Nous"], Qt.MouseButton.LeftButton)
    assert page.editing_id is None and page.model_edit.text() == "Hermes-3-Llama-3.1-70B"
    # an untouched form switches without a question
    qtbot.mouseClick(page.list.viewport(), Qt.MouseButton.LeftButton, pos=second_rect.center())
    assert page.model_edit.text() == "second-model"


def test_a_new_connection_is_not_tested_rather_than_offline(qtbot, window, settle, fake_llm):
    page, _cid = _bind(qtbot, window, settle, url=fake_llm.base_url)
    assert page.status.word.text() == "Not tested" and "Test connection" in page.status.reason.text()
    assert page.model.rows()[0].checked_at is None
    assert _test(qtbot, page) == "online"
    assert page.status.word.text() == "Online"
