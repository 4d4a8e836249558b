"""The Console's window on trees, with real widgets and the real fake endpoint checking what each request
carries: ‹ i/N › switches the branch (and keeps the message in place), Edit → Save / Save & resend,
Regenerate on an earlier reply, Fork, Compare side by side, the thread's settings panel."""

from __future__ import annotations

from PySide6.QtCore import Qt

from agent.chat import tree
from local_schema.models import Conversation
from standin.demo.seed import add_connection
from tests.desktop.helpers import bind_fake, click_action, finish_turn, path_messages, stored_messages


def _sent(fake_llm, i=-1) -> list[tuple[str, str]]:
    """The messages of a request after the system message."""
    return [(m["role"], m["content"]) for m in fake_llm.chat_requests[i].messages if m["role"] != "system"]


def _shown(console) -> list[str]:
    return [r.content for r in console.transcript.rows()]


def _row(console, content: str):
    return next(r for r in console.transcript.rows() if r.content == content)


def _two_turns(qtbot, window, settle, fake_llm):
    bind_fake(window, fake_llm, settle)
    console = window.pages["console"]
    fake_llm.reply(text="a1")
    finish_turn(qtbot, console, "q1")
    fake_llm.reply(text="a2")
    finish_turn(qtbot, console, "q2")
    settle()
    assert _shown(console) == ["q1", "a1", "q2", "a2"]
    return console


def click_header(qtbot, window, button) -> None:
    """Click a header button where it is shown whole (a narrower window folds it into ⋯)."""
    if not button.isVisible():
        window.resize(1400, 760)
        qtbot.waitUntil(button.isVisible, timeout=3000)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def click_switcher(qtbot, console, message_id: str, arrow: str) -> None:
    """Click ‹ or › of the painted ‹ i/N › under a message."""
    index = console.transcript.index(console.transcript.row_of(message_id))
    console.view.scrollTo(index)
    qtbot.wait(10)
    switcher = console.view.delegate.geometry(console.view.visualRect(index), index).switcher
    assert switcher is not None, "no ‹ i/N › under that message"
    rect = switcher[0] if arrow == "‹" else switcher[2]
    qtbot.mouseClick(console.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _leaf(db, cid):
    with db.session() as s:
        return tree.active_leaf_in(s, s.get(Conversation, cid))


def test_the_switcher_steps_through_versions_keeps_the_message_in_place_and_the_next_turn_follows(
        qtbot, window, settle, fake_llm):
    console = _two_turns(qtbot, window, settle, fake_llm)
    db, cid = window.ctx.db, console.conversation_id
    a1 = _row(console, "a1")
    assert a1.siblings == (a1.id,)  # one version: no switcher
    index = console.transcript.index(console.transcript.row_of(a1.id))
    assert console.view.delegate.geometry(console.view.visualRect(index), index).switcher is None

    fake_llm.reply(text="a1 again")
    with qtbot.waitSignal(console.turns.turn_finished, timeout=10_000):
        click_action(qtbot, console, a1.id, "regenerate")  # an earlier reply: q2 and a2 stay on the old branch
    settle()
    assert _sent(fake_llm) == [("user", "q1")]
    assert _shown(console) == ["q1", "a1 again"]
    again = _row(console, "a1 again")
    assert (again.sibling_index, len(again.siblings)) == (2, 2)

    index = console.transcript.index(console.transcript.row_of(again.id))
    top = console.view.visualRect(index).top()
    switcher = console.view.delegate.geometry(console.view.visualRect(index), index).switcher
    assert switcher is not None
    with qtbot.waitSignal(console.branches.switched, timeout=5000) as switched:
        click_switcher(qtbot, console, again.id, "‹")
    qtbot.waitUntil(lambda: _shown(console) == ["q1", "a1", "q2", "a2"], timeout=5000)
    settle(50)
    assert switched.args[0] == _leaf(db, cid) == _row(console, "a2").id  # the newest leaf through a1
    first = _row(console, "a1")
    assert (first.sibling_index, len(first.siblings)) == (1, 2)
    index = console.transcript.index(console.transcript.row_of(first.id))
    assert abs(console.view.visualRect(index).top() - top) <= 2  # the version took the old one's place

    fake_llm.reply(text="a3")
    finish_turn(qtbot, console, "q3")  # continues the branch shown
    assert _sent(fake_llm) == [("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2"),
                               ("user", "q3")]


def test_save_fixes_the_text_in_place_and_asks_nothing(qtbot, window, settle, fake_llm):
    console = _two_turns(qtbot, window, settle, fake_llm)
    asked = len(fake_llm.chat_requests)
    q2 = _row(console, "q2")
    click_action(qtbot, console, q2.id, "edit")
    dialog = console.tree_dialog
    assert dialog.editor.toPlainText() == "q2"
    dialog.editor.setPlainText("q2 without the typo")
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _shown(console) == ["q1", "a1", "q2 without the typo", "a2"], timeout=5000)
    assert len(fake_llm.chat_requests) == asked
    assert stored_messages(window.ctx.db, console.conversation_id) == [
        ("user", "q1"), ("assistant", "a1"), ("user", "q2 without the typo"), ("assistant", "a2")]


def test_an_empty_edit_is_refused_in_the_dialog_and_loses_nothing(qtbot, window, settle, fake_llm):
    console = _two_turns(qtbot, window, settle, fake_llm)
    click_action(qtbot, console, _row(console, "q1").id, "edit")
    dialog = console.tree_dialog
    dialog.editor.setPlainText("   ")
    qtbot.mouseClick(dialog.resend_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.isVisible() and dialog.error_label.text() == "Type a message first."
    assert not console.turns.busy and len(fake_llm.chat_requests) == 2
    assert stored_messages(window.ctx.db, console.conversation_id)[0] == ("user", "q1")


def test_save_and_resend_asks_the_new_text_after_the_old_questions_history_and_keeps_the_old_branch(
        qtbot, window, settle, fake_llm):
    console = _two_turns(qtbot, window, settle, fake_llm)
    old_q2 = _row(console, "q2")
    click_action(qtbot, console, old_q2.id, "edit")
    dialog = console.tree_dialog
    dialog.editor.setPlainText("q2, asked better")
    fake_llm.reply(text="a2 better")
    with qtbot.waitSignal(console.turns.turn_finished, timeout=10_000) as done:
        qtbot.mouseClick(dialog.resend_button, Qt.MouseButton.LeftButton)
    assert done.args[0].status == "done"
    settle()
    assert _sent(fake_llm) == [("user", "q1"), ("assistant", "a1"), ("user", "q2, asked better")]
    assert _shown(console) == ["q1", "a1", "q2, asked better", "a2 better"]
    new_q2 = _row(console, "q2, asked better")
    assert new_q2.siblings == (old_q2.id, new_q2.id) and new_q2.sibling_index == 2
    assert stored_messages(window.ctx.db, console.conversation_id) == [
        ("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2"),
        ("user", "q2, asked better"), ("assistant", "a2 better")]
    # ‹ brings the old question back with its own reply
    with qtbot.waitSignal(console.branches.switched, timeout=5000):
        click_switcher(qtbot, console, new_q2.id, "‹")
    qtbot.waitUntil(lambda: _shown(console) == ["q1", "a1", "q2", "a2"], timeout=5000)


def test_fork_opens_a_new_thread_holding_the_path_down_to_the_message(qtbot, window, settle, fake_llm):
    console = _two_turns(qtbot, window, settle, fake_llm)
    original = console.conversation_id
    with qtbot.waitSignal(console.branches.forked, timeout=5000) as forked:
        click_action(qtbot, console, _row(console, "a1").id, "fork")
    copy = forked.args[0]
    qtbot.waitUntil(lambda: console.conversation_id == copy and _shown(console) == ["q1", "a1"], timeout=5000)
    assert path_messages(window.ctx.db, copy) == [("user", "q1"), ("assistant", "a1")]
    assert path_messages(window.ctx.db, original) == [("user", "q1"), ("assistant", "a1"), ("user", "q2"),
                                                      ("assistant", "a2")]
    fake_llm.reply(text="forked answer")
    finish_turn(qtbot, console, "q2 in the fork")
    assert _sent(fake_llm) == [("user", "q1"), ("assistant", "a1"), ("user", "q2 in the fork")]


def _compare_setup(qtbot, window, settle, fake_llm):
    console = _two_turns(qtbot, window, settle, fake_llm)
    other = add_connection(window.ctx.db, "Other", fake_llm.base_url, "other-model")
    console.refresh_connections()
    settle()
    fake_llm.responder = lambda req: f"answer from {req.body['model']}"
    return console, other


def test_compare_asks_each_connection_the_same_path_and_shows_the_replies_side_by_side(
        qtbot, window, settle, fake_llm):
    console, other = _compare_setup(qtbot, window, settle, fake_llm)
    first = console.current_connection_id()
    click_header(qtbot, window, console.compare_button)
    dialog = console.tree_dialog
    assert dialog.checked_connections() == [first, other]
    dialog.question.setPlainText("Which is better?")
    with qtbot.waitSignal(dialog.compared, timeout=15_000) as compared:
        qtbot.mouseClick(dialog.ask_button, Qt.MouseButton.LeftButton)
    results = compared.args[0]
    assert [r.status for r in results] == ["done", "done"]
    asked = sorted((r.body["model"], tuple(_sent(fake_llm, i))) for i, r in enumerate(fake_llm.chat_requests)
                   if i >= len(fake_llm.chat_requests) - 2)
    history = (("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2"), ("user", "Which is better?"))
    assert asked == [("fake-model", history), ("other-model", history)]
    columns = list(dialog.columns.values())
    assert [c.label.text() for c in columns] == ["Fake Hermes · fake-model", "Other · other-model"]
    assert [c.body.toPlainText() for c in columns] == ["answer from fake-model", "answer from other-model"]
    assert columns[0].geometry().top() == columns[1].geometry().top()  # side by side
    assert columns[0].geometry().right() < columns[1].geometry().left()
    settle()
    qtbot.waitUntil(lambda: _shown(console)[-2:] == ["Which is better?", "answer from fake-model"], timeout=5000)
    with db_session(window) as s:  # the thread keeps its own connection
        assert s.get(Conversation, console.conversation_id).agent_connection_id == first
    # pick the other one: it becomes the active leaf and the transcript shows it
    assert not columns[0].pick_button.isEnabled() and columns[1].pick_button.isEnabled()
    with qtbot.waitSignal(console.branches.switched, timeout=5000):
        qtbot.mouseClick(columns[1].pick_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _shown(console)[-1] == "answer from other-model", timeout=5000)
    assert _leaf(window.ctx.db, console.conversation_id) == results[1].reply_message_id
    reply = console.transcript.rows()[-1]
    assert reply.author == "Other · other-model"  # siblings in the order they were written (side by side: either)
    assert sorted(reply.siblings) == sorted(r.reply_message_id for r in results) and reply.sibling_index
    fake_llm.responder = None
    fake_llm.reply(text="go on")
    finish_turn(qtbot, console, "Go on")
    assert _sent(fake_llm)[-3:] == [("user", "Which is better?"), ("assistant", "answer from other-model"),
                                    ("user", "Go on")]


def test_a_compare_reply_that_fails_is_kept_with_its_reason_and_the_other_is_shown(qtbot, window, settle, fake_llm):
    console, other = _compare_setup(qtbot, window, settle, fake_llm)
    fake_llm.responder = lambda req: ({"status": 500, "error_json": {"error": {"message": "overloaded"}}}
                                      if req.body["model"] == "fake-model" else "answer from other-model")
    click_header(qtbot, window, console.compare_button)
    dialog = console.tree_dialog
    dialog.question.setPlainText("Which?")
    with qtbot.waitSignal(dialog.compared, timeout=15_000) as compared:
        qtbot.mouseClick(dialog.ask_button, Qt.MouseButton.LeftButton)
    assert [r.status for r in compared.args[0]] == ["failed", "done"]
    failed_column = next(iter(dialog.columns.values()))
    assert "overloaded" in failed_column.state.text()
    qtbot.waitUntil(lambda: _shown(console)[-1] == "answer from other-model", timeout=5000)
    with db_session(window) as s:
        question = compared.args[0][0].user_message_id
        replies = tree.children_in(s, console.conversation_id, question)  # in the order they were written
        assert sorted((m.status, m.content, m.model) for m in replies) == [
            ("done", "answer from other-model", "other-model"), ("error", "", "fake-model")]
    # Retry in the failed column asks that connection again: a new sibling; the failure and the leaf stay
    assert failed_column.retry_button.isVisible() and not failed_column.pick_button.isEnabled()
    fake_llm.responder = lambda req: f"answer from {req.body['model']}"
    leaf = _leaf(window.ctx.db, console.conversation_id)
    with qtbot.waitSignal(dialog.compared, timeout=15_000):
        qtbot.mouseClick(failed_column.retry_button, Qt.MouseButton.LeftButton)
    assert fake_llm.chat_requests[-1].body["model"] == "fake-model"
    assert _sent(fake_llm)[-1] == ("user", "Which?") and ("assistant", "") not in _sent(fake_llm)
    assert failed_column.body.toPlainText() == "answer from fake-model" and not failed_column.retry_button.isVisible()
    assert _leaf(window.ctx.db, console.conversation_id) == leaf
    with db_session(window) as s:
        assert sorted(m.status for m in tree.children_in(s, console.conversation_id, question)) == [
            "done", "done", "error"]
    with qtbot.waitSignal(console.branches.switched, timeout=5000):
        qtbot.mouseClick(failed_column.pick_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _shown(console)[-1] == "answer from fake-model", timeout=5000)


def test_side_by_side_shows_a_replys_stored_versions(qtbot, window, settle, fake_llm):
    console = _two_turns(qtbot, window, settle, fake_llm)
    a2 = _row(console, "a2")
    fake_llm.reply(text="a2 again")
    with qtbot.waitSignal(console.turns.turn_finished, timeout=10_000):
        click_action(qtbot, console, a2.id, "regenerate")
    settle()
    click_action(qtbot, console, _row(console, "a2 again").id, "side_by_side")
    dialog = console.tree_dialog
    qtbot.waitUntil(lambda: len(dialog.columns) == 2, timeout=5000)
    assert [c.body.toPlainText() for c in dialog.columns.values()] == ["a2", "a2 again"]
    assert dialog.question_label.text() == "You asked: q2"


def test_the_settings_panel_saves_through_the_agent_and_the_next_request_carries_them(
        qtbot, window, settle, fake_llm):
    console = _two_turns(qtbot, window, settle, fake_llm)
    click_header(qtbot, window, console.settings_button)
    dialog = console.tree_dialog
    qtbot.waitUntil(dialog.save_button.isEnabled, timeout=5000)
    assert dialog.temperature.text() == "default" and dialog.max_tokens.text() == "default"
    dialog.temperature.setValue(0.3)
    dialog.max_tokens.setValue(64)
    dialog.stop.setPlainText("###\n\\nUser:\n")
    dialog.addition.setPlainText("Answer in one line.")
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    fake_llm.reply(text="ok")
    finish_turn(qtbot, console, "q3")
    body = fake_llm.chat_requests[-1].body
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.3, 64, ["###", "\nUser:"])
    assert body["messages"][0]["role"] == "system" and body["messages"][0]["content"].endswith("Answer in one line.")
    # read back as stored; back to the defaults
    click_header(qtbot, window, console.settings_button)
    dialog = console.tree_dialog
    qtbot.waitUntil(dialog.save_button.isEnabled, timeout=5000)
    assert (dialog.temperature.value(), dialog.max_tokens.value()) == (0.3, 64)
    assert dialog.stop.toPlainText() == "###\n\\nUser:"
    dialog.temperature.setValue(dialog.temperature.minimum())
    dialog.max_tokens.setValue(0)
    dialog.stop.setPlainText("")
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    finish_turn(qtbot, console, "q4")
    body = fake_llm.chat_requests[-1].body
    assert "max_tokens" not in body and "stop" not in body and body.get("temperature", 0.7) == 0.7


def test_a_wrong_setting_is_said_in_the_panel_and_nothing_is_written(qtbot, window, settle, fake_llm):
    console = _two_turns(qtbot, window, settle, fake_llm)
    click_header(qtbot, window, console.settings_button)
    dialog = console.tree_dialog
    qtbot.waitUntil(dialog.save_button.isEnabled, timeout=5000)
    dialog.max_tokens.setValue(100)
    dialog.stop.setPlainText("a\nb\nc\nd\ne")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=5000)
    assert "At most 4 stop sequences" in dialog.error_label.text()
    assert dialog.isVisible() and dialog.stop.toPlainText() == "a\nb\nc\nd\ne"  # what was typed stays
    with db_session(window) as s:
        c = s.get(Conversation, console.conversation_id)
        assert (c.max_tokens, c.stop_sequences) == (None, None)


def db_session(window):
    return window.ctx.db.session()


def test_switching_a_message_at_the_top_of_the_view_keeps_the_readers_place(qtbot, window, settle):
    from sqlmodel import select

    from local_schema.models import Message
    from standin.demo.seed import add_thread

    db = window.ctx.db
    cid = add_thread(db, "Long", [("user" if i % 2 == 0 else "assistant", f"m{i}\n\n" + "words " * 60)
                                  for i in range(30)])
    with db.session() as s:
        m11 = next(m for m in s.exec(select(Message)) if m.content.startswith("m11\n"))
    with db.write() as s:  # another version of m11, with a branch of its own below it
        other = Message(conversation_id=cid, role="assistant", content="m11 other", parent_id=m11.parent_id)
        s.add(other)
        s.flush()
        parent = other.id
        for i in range(12, 30):
            below = Message(conversation_id=cid, role="user" if i % 2 == 0 else "assistant",
                            content=f"m{i} other\n\n" + "words " * 60, parent_id=parent)
            s.add(below)
            s.flush()
            parent = below.id
        s.get(Conversation, cid).active_leaf_id = None  # the newest leaf: the new branch
    console = window.pages["console"]
    window.show_page("console")
    with qtbot.waitSignal(console.thread_opened, timeout=10_000):
        console.refresh_threads(select=cid)
    assert _shown(console)[-1].startswith("m29 other")
    console.view.scroll_to_message(other.id)
    settle(50)
    index = console.transcript.index(console.transcript.row_of(other.id))
    top = console.view.visualRect(index).top()
    assert top <= 5 and not console.view.at_bottom()  # m11's other version at the top of the view
    with qtbot.waitSignal(console.branches.switched, timeout=5000):
        click_switcher(qtbot, console, other.id, "‹")
    qtbot.waitUntil(lambda: console.transcript.row_of(m11.id) is not None, timeout=5000)
    settle(50)
    assert _shown(console)[-1].startswith("m29\n")
    index = console.transcript.index(console.transcript.row_of(m11.id))
    assert abs(console.view.visualRect(index).top() - top) <= 2


def test_switching_the_last_reply_at_the_bottom_shows_the_new_version_from_its_start(qtbot, window, settle):
    from sqlmodel import select

    from local_schema.models import Message
    from standin.demo.seed import add_thread

    db = window.ctx.db
    cid = add_thread(db, "Versions", [("user" if i % 2 == 0 else "assistant", f"m{i}\n\n" + "words " * 60)
                                      for i in range(12)] + [("user", "last question"), ("assistant", "short")])
    with db.session() as s:
        short = next(m for m in s.exec(select(Message)) if m.content == "short")
    with db.write() as s:
        long = Message(conversation_id=cid, role="assistant", content="long\n\n" + "many words " * 800,
                       parent_id=short.parent_id)
        s.add(long)
        s.get(Conversation, cid).active_leaf_id = short.id
    console = window.pages["console"]
    window.show_page("console")
    with qtbot.waitSignal(console.thread_opened, timeout=10_000):
        console.refresh_threads(select=cid)
    settle(50)
    assert console.view.at_bottom() and _shown(console)[-1] == "short"
    index = console.transcript.index(console.transcript.row_of(short.id))
    top = console.view.visualRect(index).top()
    with qtbot.waitSignal(console.branches.switched, timeout=5000):
        click_switcher(qtbot, console, short.id, "›")
    qtbot.waitUntil(lambda: console.transcript.row_of(long.id) is not None, timeout=5000)
    settle(50)
    index = console.transcript.index(console.transcript.row_of(long.id))
    assert abs(console.view.visualRect(index).top() - top) <= 2  # not scrolled to the long reply's end


def test_no_turn_starts_while_a_comparison_is_written_and_stop_keeps_what_arrived(qtbot, window, settle, fake_llm):
    from desktop.bus import bus
    from standin.model import Reply
    from tests.desktop.helpers import type_and_send

    console, _other = _compare_setup(qtbot, window, settle, fake_llm)
    fake_llm.responder = lambda req: Reply(tokens=[f"{req.body['model']} "] + ["word "] * 300, token_delay=0.03)
    click_header(qtbot, window, console.compare_button)
    dialog = console.tree_dialog
    dialog.question.setPlainText("Slowly, please")
    qtbot.mouseClick(dialog.ask_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(dialog.columns) == 2 and all("word" in c.body.toPlainText()
                                                             for c in dialog.columns.values()), timeout=10_000)
    asked = len(fake_llm.chat_requests)
    errors = []
    bus.error.connect(errors.append)
    console.composer.setReadOnly(False)  # even typed in: Enter starts nothing while the replies are written
    type_and_send(qtbot, console, "meanwhile")
    qtbot.wait(200)  # (not settle(): the comparison's streams are background work still running)
    assert not console.turns.busy and len(fake_llm.chat_requests) == asked
    assert errors and "comparison" in errors[-1]
    assert tree_dialogs_open_compare(console) is dialog  # Compare again shows the one being written
    with qtbot.waitSignal(dialog.compared, timeout=10_000) as compared:
        qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
    assert [r.status for r in compared.args[0]] == ["stopped", "stopped"]
    with db_session(window) as s:
        question = compared.args[0][0].user_message_id
        kept = [m.content for m in tree.children_in(s, console.conversation_id, question)]
    assert len(kept) == 2 and all(k.startswith(("fake-model word", "other-model word")) for k in kept)
    assert console.turns.paused is None and console.send_button.isEnabled()
    fake_llm.responder = None
    fake_llm.reply(text="ok")
    console.composer.clear()
    assert finish_turn(qtbot, console, "now").status == "done"


def tree_dialogs_open_compare(console):
    from desktop.pages.console import tree_dialogs

    return tree_dialogs.open_compare(console)


def test_a_version_that_sync_brings_shows_its_switcher_in_place(qtbot, window, settle, fake_llm):
    from local_schema.models import Message

    console = _two_turns(qtbot, window, settle, fake_llm)
    db, cid = window.ctx.db, console.conversation_id
    a1 = _row(console, "a1")
    resets, repainted = [], []
    console.transcript.modelReset.connect(lambda: resets.append(1))
    console.transcript.dataChanged.connect(lambda top, _bottom, _roles: repainted.append(
        console.transcript.row_at(top.row()).content))
    with db.write() as s:  # another device regenerated a1 (a sibling, not the branch this device reads)
        conn = s.connection()
        with db.applying_remote(conn):
            other = Message(conversation_id=cid, role="assistant", content="a1 elsewhere", parent_id=a1.parent_id)
            s.add(other)
    db.notify_changed({"messages"}, "sync", None)
    qtbot.waitUntil(lambda: len(_row(console, "a1").siblings) == 2, timeout=5000)
    assert _shown(console) == ["q1", "a1", "q2", "a2"] and _row(console, "a1").sibling_index == 1 and resets == []
    assert "a1" in repainted  # the row is painted again, now with ‹ 1/2 ›
    index = console.transcript.index(console.transcript.row_of(a1.id))
    assert console.view.delegate.geometry(console.view.visualRect(index), index).switcher is not None
