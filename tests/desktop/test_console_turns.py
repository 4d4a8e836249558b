"""Console turns against the real fake endpoint: stream, Stop keeps partial text, error + Retry, Regenerate."""

from PySide6.QtCore import Qt

from tests.desktop.helpers import (
    bind_fake,
    click_action,
    finish_turn,
    path_messages,
    start_turn,
    stored_messages,
    type_and_send,
)


def test_send_streams_in_coalesced_batches_and_stores_both_messages(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    console = window.pages["console"]
    tokens = [f"w{i} " for i in range(60)]
    fake_llm.reply(tokens=tokens, token_delay=0.02)
    start_turn(qtbot, console, "Hello there")  # no thread yet: the first send creates one
    assert console.stop_button.isVisible() and not console.send_button.isVisible()
    seen = []
    console.turns.runner.text_changed.connect(seen.append)
    with qtbot.waitSignal(console.turns.turn_finished, timeout=15000) as done:
        pass
    result = done.args[0]
    assert result.status == "done", result.error
    full = "".join(tokens)
    assert seen and seen[-1] == full
    assert 1 < len(seen) < len(tokens)  # streamed in several batches, far fewer than one per token
    assert all(full.startswith(part) for part in seen)
    settle()
    assert stored_messages(window.ctx.db, console.conversation_id) == [("user", "Hello there"), ("assistant", full)]
    rows = console.transcript.rows()
    assert [(r.role, r.content, r.streaming) for r in rows] == [("user", "Hello there", False),
                                                                 ("assistant", full, False)]
    assert not rows[0].id.startswith("pending:") and rows[1].id == result.reply_message_id
    assert console.send_button.isVisible() and console.composer.toPlainText() == ""
    # the new thread got its title from the first message and is listed
    assert console.threads.rows()[0].title == "Hello there"
    assert console.title_label.text() == "Hello there"


def test_stop_mid_stream_keeps_the_partial_reply(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    console = window.pages["console"]
    fake_llm.reply(tokens=[f"t{i} " for i in range(400)], token_delay=0.02)
    start_turn(qtbot, console, "Tell me a long story")
    qtbot.waitUntil(lambda: len(console.turns.runner.text) > 20, timeout=10000)
    with qtbot.waitSignal(console.turns.turn_finished, timeout=10000) as done:
        qtbot.mouseClick(console.stop_button, Qt.MouseButton.LeftButton)
    result = done.args[0]
    assert result.status == "stopped"
    settle()
    stored = stored_messages(window.ctx.db, console.conversation_id)
    assert stored[0] == ("user", "Tell me a long story")
    role, partial = stored[1]
    assert role == "assistant" and partial.startswith("t0 t1 ") and len(partial) < len("".join(f"t{i} " for i in range(400)))
    assert console.transcript.rows()[-1].content == partial


def test_a_failed_reply_shows_its_error_and_retry_shows_the_new_reply_in_its_place(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    console = window.pages["console"]
    fake_llm.enqueue({"status": 500, "error_json": {"error": {"message": "model crashed"}}})
    fake_llm.reply(text="Recovered answer")
    assert finish_turn(qtbot, console, "Are you there?").status == "failed"
    failed = console.transcript.rows()[-1]
    assert failed.role == "assistant" and failed.status == "error" and "model crashed" in failed.error
    assert stored_messages(window.ctx.db, console.conversation_id) == [("user", "Are you there?"), ("assistant", "")]

    with qtbot.waitSignal(console.turns.turn_finished, timeout=10000) as done:
        click_action(qtbot, console, failed.id, "retry")
    assert done.args[0].status == "done" and done.args[0].superseded_ids == [failed.id]
    settle()
    assert path_messages(window.ctx.db, console.conversation_id) == [
        ("user", "Are you there?"), ("assistant", "Recovered answer")]
    assert stored_messages(window.ctx.db, console.conversation_id) == [  # the failure stays, as a sibling
        ("user", "Are you there?"), ("assistant", ""), ("assistant", "Recovered answer")]
    assert [(r.content, r.error) for r in console.transcript.rows()] == [("Are you there?", None),
                                                                          ("Recovered answer", None)]


def test_a_failed_reply_and_an_unanswered_question_offer_retry_after_reopening(qtbot, window, settle, fake_llm):
    from local_schema.models import Message
    from tests.desktop.helpers import NO_REPLY_TEXT

    bind_fake(window, fake_llm, settle)
    console = window.pages["console"]
    fake_llm.enqueue({"status": 503, "error_json": {"error": {"message": "overloaded"}}})
    finish_turn(qtbot, console, "First try")
    settle()
    cid = console.conversation_id
    console.turns._errors.clear()  # as after a restart: only the database remains
    with qtbot.waitSignal(console.thread_opened, timeout=5000):
        console.conversation_id = None
        console.open_thread(cid)
    assert "overloaded" in console.transcript.rows()[-1].error  # stored with the reply
    with window.ctx.db.write() as s:  # a question whose reply never came (the app died before any answer)
        s.add(Message(conversation_id=cid, role="user", content="Second try"))
    with qtbot.waitSignal(console.thread_opened, timeout=5000):
        console.conversation_id = None
        console.open_thread(cid)
    last = console.transcript.rows()[-1]
    assert (last.content, last.error) == ("Second try", NO_REPLY_TEXT)


def test_regenerate_shows_the_new_reply_and_keeps_the_old_one_as_a_sibling(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    console = window.pages["console"]
    fake_llm.enqueue({"text": "First answer"}, {"text": "Second answer"})
    finish_turn(qtbot, console, "Question")
    settle()
    reply = console.transcript.rows()[-1]
    assert reply.content == "First answer"
    with qtbot.waitSignal(console.turns.turn_finished, timeout=10000) as done:
        click_action(qtbot, console, reply.id, "regenerate")
    assert done.args[0].status == "done"
    settle()
    assert stored_messages(window.ctx.db, console.conversation_id) == [("user", "Question"),
                                                                        ("assistant", "First answer"),
                                                                        ("assistant", "Second answer")]
    assert path_messages(window.ctx.db, console.conversation_id) == [("user", "Question"),
                                                                     ("assistant", "Second answer")]
    assert [r.content for r in console.transcript.rows()] == ["Question", "Second answer"]
    # the regenerate request re-asked the same question, without a second copy of it
    last = fake_llm.chat_requests[-1].messages
    assert [m["content"] for m in last if m["role"] == "user"] == ["Question"]


def test_sending_without_a_connection_explains_and_keeps_the_text(qtbot, window, settle):
    from desktop.bus import bus

    console = window.pages["console"]
    window.show_page("console")
    with qtbot.waitSignal(bus.error, timeout=3000) as err:
        type_and_send(qtbot, console, "hello?")
    assert "Bind a connection" in err.args[0]
    assert console.composer.toPlainText() == "hello?"


def test_a_message_over_the_server_limit_is_refused_and_kept_in_the_composer(qtbot, window, settle, fake_llm):
    from desktop.bus import bus

    bind_fake(window, fake_llm, settle)
    console = window.pages["console"]
    huge = "log line\n" * 25_000  # 225,000 characters: a pasted log file
    console.composer.setPlainText(huge)
    with qtbot.waitSignal(bus.error, timeout=3000) as err:
        qtbot.mouseClick(console.send_button, Qt.MouseButton.LeftButton)
    assert "limit is 200,000" in err.args[0]
    settle()
    assert console.composer.toPlainText() == huge and not console.turns.busy
    assert console.transcript.rowCount() == 0 and fake_llm.chat_requests == []


def test_a_new_message_after_a_failure_continues_below_it_without_sending_it(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    console = window.pages["console"]
    fake_llm.enqueue({"status": 500, "error_json": {"error": {"message": "boom"}}})
    finish_turn(qtbot, console, "first")
    settle()
    failure = console.transcript.rows()[1].error
    assert failure
    fake_llm.reply(text="answer to second")
    qtbot.keyClicks(console.composer, "second")
    qtbot.keyClick(console.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # a new line
    assert not console.turns.busy
    finish_turn(qtbot, console, "with two lines")
    settle()
    # the failed reply keeps its error (its Retry makes a sibling branch); it is never sent
    assert [r.error for r in console.transcript.rows()] == [None, failure, None, None]
    assert stored_messages(window.ctx.db, console.conversation_id)[2:] == [
        ("user", "second\nwith two lines"), ("assistant", "answer to second")]
    assert [m["content"] for m in fake_llm.chat_requests[-1].messages if m["role"] != "system"] == [
        "first", "second\nwith two lines"]
    # what the person typed keeps its line break on screen
    second = console.transcript.rows()[2]
    doc = console.view.delegate.rendered(second).doc
    assert doc.blockCount() == 1 and doc.toPlainText() == "second\nwith two lines"  # one paragraph, two lines


def test_closing_the_window_mid_stream_keeps_what_arrived(qtbot, window, settle, fake_llm):
    from desktop.ops import pool

    bind_fake(window, fake_llm, settle)
    console = window.pages["console"]
    fake_llm.reply(tokens=[f"p{i} " for i in range(500)], token_delay=0.02)
    start_turn(qtbot, console, "Long answer please")
    qtbot.waitUntil(lambda: len(console.turns.runner.text) > 15, timeout=10000)
    cid = console.conversation_id
    window.close()  # closeEvent stops the stream
    assert pool().waitForDone(10_000)
    role, text = stored_messages(window.ctx.db, cid)[-1]
    assert role == "assistant" and text.startswith("p0 p1 ") and len(text) < len("p0 " * 500)


def test_a_code_block_can_be_copied_while_it_is_still_streaming(qtbot, window, settle, fake_llm):
    from PySide6.QtWidgets import QApplication

    from tests.desktop.helpers import click_copy_code

    bind_fake(window, fake_llm, settle)
    console = window.pages["console"]
    tokens = ["Here:\n\n", "```python\n", "x = 1\n", "y = 2\n"] + [f"z{i} = {i}\n" for i in range(200)]
    fake_llm.reply(tokens=tokens, token_delay=0.03)
    start_turn(qtbot, console, "code please")
    qtbot.waitUntil(lambda: "y = 2" in console.turns.runner.text, timeout=10000)
    reply = console.transcript.rows()[-1]
    assert reply.streaming
    QApplication.clipboard().clear()
    click_copy_code(qtbot, console, reply.id)
    copied = QApplication.clipboard().text()
    assert copied.startswith("x = 1\ny = 2") and "▍" not in copied
    with qtbot.waitSignal(console.turns.turn_finished, timeout=10000):
        qtbot.mouseClick(console.stop_button, Qt.MouseButton.LeftButton)


def test_each_reply_shows_the_connection_and_model_that_wrote_it(qtbot, window, settle, fake_llm):
    """Switching the thread to another connection used to rename the author of every past reply."""
    from standin.demo.seed import add_connection

    first = bind_fake(window, fake_llm, settle)
    console = window.pages["console"]
    fake_llm.reply(text="From the first.")
    assert finish_turn(qtbot, console, "q1").status == "done"
    other = add_connection(window.ctx.db, "Other box", fake_llm.base_url, "other-model")
    console.refresh_connections()
    settle()
    console.connection_combo.setCurrentIndex(console.connection_combo.findData(other))
    fake_llm.reply(text="From the other.")
    assert finish_turn(qtbot, console, "q2").status == "done"
    settle()
    expected = [("user", "You"), ("assistant", "Fake Hermes · fake-model"), ("user", "You"),
                ("assistant", "Other box · other-model")]
    delegate = console.view.delegate
    assert [(r.role, delegate.role_name(r)) for r in console.transcript.rows()] == expected
    console.open_thread(console.conversation_id)  # read back from the database
    settle()
    assert [(r.role, delegate.role_name(r)) for r in console.transcript.rows()] == expected
    assert console.current_connection_id() == other and first != other
