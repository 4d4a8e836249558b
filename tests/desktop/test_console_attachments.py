"""Attachments and knowledge in the Console, with real widgets, the real database and the fake endpoint:
pick / drop / paste files onto the composer, chips with ×, the parts the request carries, thumbnails and
file chips on the stored message that open (in the background), a refused file, the knowledge selector,
the prompt preview of the passages, and citations that open their file."""

from __future__ import annotations

import base64
import io
import threading

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication, QPlainTextEdit

from desktop.bus import bus
from desktop.pages.console import attach
from tests.desktop.helpers import finish_turn


def png_bytes(size=(64, 48), color=(30, 160, 90)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def bind(window, fake_llm, settle, accepts_images=True) -> str:
    from agent.connections.rows import add_connection

    c = add_connection(window.ctx.db, window.ctx.secrets, name="Vision", base_url=fake_llm.base_url,
                       model="fake-vision", accepts_images=accepts_images)
    console = window.pages["console"]
    console.refresh_connections()
    settle()
    window.show_page("console")
    return c.id


def drop(console, paths) -> None:
    """As a drag from a file manager arrives: DragEnter (accepted), then Drop, on the composer."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(console.composer.viewport(), enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(console.composer.viewport(), event)


def chip_labels(console) -> list[str]:
    return [c.text() for c in console.attach_bar.chips()]


def click_chip(qtbot, console, message_id: str, kind: str, nth: int = 0) -> None:
    view = console.view
    index = console.transcript.index(console.transcript.row_of(message_id))
    view.scrollTo(index)
    qtbot.wait(10)
    chips = [c for c in view.delegate.geometry(view.visualRect(index), index).chips if c.kind == kind]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=chips[nth].rect.center())


@pytest.fixture
def opened(monkeypatch):
    seen = []
    monkeypatch.setattr(attach, "open_path", lambda path: seen.append(path) or True)  # the OS's viewer
    return seen


def test_pick_drop_and_paste_make_chips_that_go_with_the_message(qtbot, window, settle, fake_llm, tmp_path,
                                                                 monkeypatch, opened):
    bind(window, fake_llm, settle)
    console = window.pages["console"]
    (tmp_path / "notes.md").write_text("# Beds\nkale\n")
    (tmp_path / "photo.png").write_bytes(photo := png_bytes())
    (tmp_path / "extra.txt").write_text("to be removed")
    monkeypatch.setattr(attach, "choose_files", lambda _parent: [str(tmp_path / "notes.md")])
    assert console.attach_bar.paperclip.isVisible()
    qtbot.mouseClick(console.attach_bar.paperclip, Qt.MouseButton.LeftButton)
    settle()
    drop(console, [tmp_path / "photo.png", tmp_path / "extra.txt"])
    settle()
    pasted = QImage(8, 8, QImage.Format.Format_RGB32)
    pasted.fill(Qt.GlobalColor.red)
    QApplication.clipboard().setImage(pasted)
    console.composer.setFocus()
    qtbot.keyClick(console.composer, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    settle()
    assert sorted(chip_labels(console)) == sorted(["notes.md  ×", "photo.png  ×", "extra.txt  ×",
                                                   "pasted image.png  ×"])
    assert console.composer.toPlainText() == ""  # the pasted image did not land in the text
    extra = next(c for c in console.attach_bar.chips() if c.text().startswith("extra.txt"))
    qtbot.mouseClick(extra, Qt.MouseButton.LeftButton)  # ×: removed before sending
    assert "extra.txt  ×" not in chip_labels(console)
    order = [f.name for f in console.attach.files]

    result = finish_turn(qtbot, console, "What grows here?")
    assert result.status == "done", result.error
    settle()
    assert chip_labels(console) == []
    console.attach.restore()  # what a later turn's crash does: the files already stored never come back
    assert chip_labels(console) == []
    content = fake_llm.chat_requests[-1].messages[-1]["content"]
    images = [p["image_url"]["url"] for p in content[1:]]
    assert "data:image/png;base64," + base64.b64encode(photo).decode() in images and len(images) == 2
    assert '<file name="notes.md" type="text/markdown">\n# Beds\nkale\n\n</file>' in content[0]["text"]
    assert "extra.txt" not in content[0]["text"]
    row = console.transcript.rows()[0]
    assert [a.name for a in row.attachments] == order and all(a.local for a in row.attachments)

    # the thumbnail is read in the background; a click opens the file under its own name
    qtbot.waitUntil(lambda: console.view.delegate.thumbs.get(row.attachments[order.index("photo.png")])
                    is not None, timeout=5000)
    click_chip(qtbot, console, row.id, "attachment", order.index("photo.png"))
    qtbot.waitUntil(lambda: bool(opened), timeout=5000)
    assert opened[0].name == "photo.png" and opened[0].read_bytes() == photo


def test_a_refused_file_is_a_clear_error_and_no_chip(qtbot, window, settle, fake_llm, tmp_path):
    bind(window, fake_llm, settle)
    console = window.pages["console"]
    (tmp_path / "tool.bin").write_bytes(bytes(range(256)) * 4)
    with qtbot.waitSignal(bus.error, timeout=5000) as err:
        drop(console, [tmp_path / "tool.bin"])
    assert err.args[0] == "Not attached: tool.bin is a binary file, not text, an image or a PDF"
    settle()
    assert chip_labels(console) == [] and not console.attach_bar.chips_host.isVisible()


def test_an_image_for_a_text_only_connection_stores_nothing_and_keeps_the_chips(qtbot, window, settle, fake_llm,
                                                                               tmp_path):
    bind(window, fake_llm, settle, accepts_images=False)
    console = window.pages["console"]
    (tmp_path / "photo.png").write_bytes(png_bytes())
    drop(console, [tmp_path / "photo.png"])
    settle()
    with qtbot.waitSignal(bus.error, timeout=10000) as err:
        console.composer.setPlainText("look")
        console.send()
    assert "does not take images (photo.png)" in err.args[0]
    settle()
    assert chip_labels(console) == ["photo.png  ×"] and console.composer.toPlainText() == "look"
    with window.ctx.db.engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM messages").scalar() == 0
        assert c.exec_driver_sql("SELECT count(*) FROM attachments").scalar() == 0
    assert fake_llm.chat_requests == []


def test_a_file_only_on_the_server_is_fetched_in_the_background_when_opened(qtbot, window, settle, fake_llm,
                                                                           tmp_path, opened, monkeypatch):
    from sync import attachments as blobs

    bind(window, fake_llm, settle)
    console = window.pages["console"]
    (tmp_path / "plan.csv").write_text("a,b\n")
    drop(console, [tmp_path / "plan.csv"])
    settle()
    finish_turn(qtbot, console, "see the plan")
    settle()
    row = console.transcript.rows()[0]
    chip = row.attachments[0]
    blobs.blob_path(blobs.store_root(window.ctx.db), chip.sha256).unlink()  # as on another device
    console.transcript_ctl.refresh()
    settle()
    row = console.transcript.rows()[0]
    assert not row.attachments[0].local and row.attachments[0].name == "plan.csv"
    threads = []
    real_fetch = blobs.fetch
    monkeypatch.setattr(blobs, "fetch", lambda *a, **k: threads.append(threading.current_thread()) or real_fetch(*a, **k))
    with qtbot.waitSignal(bus.error, timeout=5000) as err:
        click_chip(qtbot, console, row.id, "attachment")
    # signed out here: the download cannot happen, and it says so; it was tried off the UI thread
    assert err.args[0] == "Could not open plan.csv: plan.csv is not on this device, and you are signed out: " \
                          "sign in to download it"
    assert threads and threads[0] is not threading.main_thread() and opened == []


def test_knowledge_selector_preview_and_citations(qtbot, window, settle, fake_llm, tmp_path, opened):
    from agent.knowledge.index import add_set, reindex

    bind(window, fake_llm, settle)
    console = window.pages["console"]
    folder = tmp_path / "garden"
    folder.mkdir()
    (folder / "beds.md").write_text("Tomatoes want six hours of sun.\n")
    add_set(window.ctx.db, "garden", folder)
    reindex(window.ctx.db, "garden")
    bus.changed.emit(frozenset({"knowledge_sets"}), None)
    settle()
    combo = console.attach_bar.knowledge_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["No knowledge", "garden"] and combo.isVisible()
    combo.setCurrentIndex(1)

    console.composer.setPlainText("How much sun for tomatoes?")
    qtbot.mouseClick(console.prompt_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.prompt_dialog is not None, timeout=3000)
    block = ("Passages from the user's knowledge folders (cite them as [file:line]):\n\n"
             '<passage source="garden/beds.md:1">\nTomatoes want six hours of sun.\n</passage>')
    assert console.prompt_dialog.findChild(QPlainTextEdit).toPlainText() == block
    console.prompt_dialog.close()
    console.composer.clear()

    fake_llm.reply(text="Six hours [garden/beds.md:1].")
    result = finish_turn(qtbot, console, "How much sun for tomatoes?")
    assert result.status == "done" and fake_llm.chat_requests[-1].messages[0]["content"] == block
    settle()
    reply = console.transcript.rows()[-1]
    assert [c.source for c in reply.citations] == ["garden/beds.md:1"]
    click_chip(qtbot, console, reply.id, "citation")
    assert opened == [(folder / "beds.md").resolve()]


def test_a_signed_in_window_downloads_another_devices_file_when_it_is_opened(qtbot, tmp_path, supabase_stack,
                                                                              memory_keyring, settle, fake_llm,
                                                                              opened):
    """Device A (headless) sends a message with a file and syncs; the window on device B shows it as a
    file chip with ↓, and a click downloads it through Storage in the background, then opens it."""
    from tests.desktop.sync_windows import close_window, open_device, sync_now
    from tests.sync.helpers import Device

    user = supabase_stack.new_user()
    a = Device(supabase_stack, tmp_path / "a")
    try:
        a.engine.sign_in(user[0], user[1])
        from agent.attachments.reading import prepare_bytes
        from agent.chat.turn import ChatTurn
        from local_schema.models import AgentConnection, Conversation

        with a.db.write() as s:
            connection = AgentConnection(name="Fake", provider="custom", base_url=fake_llm.base_url, model="m")
            thread = Conversation(agent_connection_id=connection.id, title="plans")
            s.add(connection)
            s.add(thread)
        ChatTurn(a.db, thread.id).send("the plan", [prepare_bytes("plan.csv", b"bed,crop\n1,kale\n")])
        a.sync()
    finally:
        a.close()
    window = open_device(qtbot, tmp_path / "b", memory_keyring, supabase_stack, user)
    try:
        console = window.show_page("console")
        sync_now(qtbot, window)
        settle()
        qtbot.waitUntil(lambda: console.conversation_id == thread.id and console.transcript.rowCount() == 2,
                        timeout=10000)
        row = console.transcript.rows()[0]
        assert [(c.name, c.local) for c in row.attachments] == [("plan.csv", False)]
        click_chip(qtbot, console, row.id, "attachment")
        qtbot.waitUntil(lambda: bool(opened), timeout=15000)
        assert opened[0].name == "plan.csv" and opened[0].read_bytes() == b"bed,crop\n1,kale\n"
        settle()
        qtbot.waitUntil(lambda: console.transcript.rows()[0].attachments[0].local, timeout=5000)
    finally:
        close_window(window)


def test_bind_says_whether_a_connections_model_takes_images(qtbot, window, settle, fake_llm):
    """The checkbox is stored on the connection and shown again when it is edited; a text-only connection
    is the default."""
    from sqlmodel import select

    from local_schema.models import AgentConnection

    window.show_page("bind")
    page = window.pages["bind"]
    qtbot.mouseClick(page.preset_buttons["Custom"], Qt.MouseButton.LeftButton)
    assert not page.images_check.isChecked()
    page.name_edit.setText("Vision")
    page.url_edit.setText(fake_llm.base_url)
    page.model_edit.setText("vision-model")
    page.images_check.setChecked(True)
    with qtbot.waitSignal(page.saved, timeout=5000) as saved:
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    settle()
    with window.ctx.db.session() as s:
        assert s.exec(select(AgentConnection)).one().accepts_images is True
    qtbot.mouseClick(page.preset_buttons["Custom"], Qt.MouseButton.LeftButton)
    assert not page.images_check.isChecked()
    rect = page.list.visualRect(page.model.index(0))
    qtbot.mouseClick(page.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert page.editing_id == saved.args[0] and page.images_check.isChecked()
    page.images_check.setChecked(False)
    assert page.has_unsaved_edits()
    with qtbot.waitSignal(page.saved, timeout=5000):
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    settle()
    with window.ctx.db.session() as s:
        assert s.exec(select(AgentConnection)).one().accepts_images is False
