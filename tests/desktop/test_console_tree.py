"""Today's Console on trees: it shows the active path; a search hit on another branch makes that branch
the active one; another device moving the active leaf (or a reply arriving under it) shows the new path
in place; a failed reply shows its stored error with Retry."""

from __future__ import annotations

from PySide6.QtCore import Qt
from sqlmodel import select

from agent.chat import tree
from local_schema.models import Conversation, Message
from standin.demo.seed import add_thread


def _open(qtbot, window, cid):
    console = window.pages["console"]
    window.show_page("console")
    with qtbot.waitSignal(console.thread_opened, timeout=10_000):
        console.refresh_threads(select=cid)
    return console


def _branch(db, cid, parent_id, contents) -> list[str]:
    ids = []
    with db.write() as s:
        for content in contents:
            m = Message(conversation_id=cid, role="assistant" if len(ids) % 2 == 0 else "user", content=content,
                        parent_id=parent_id)
            s.add(m)
            s.flush()
            parent_id = m.id
            ids.append(m.id)
    return ids


def _as_sync(db, sql: str, *params, tables=("conversations", "messages"), rows=None) -> None:
    with db.write() as session:
        conn = session.connection()
        with db.applying_remote(conn):
            conn.exec_driver_sql(sql, params)
    db.notify_changed(set(tables), "sync", rows)


def test_the_transcript_shows_the_active_path_only(qtbot, window, settle):
    db = window.ctx.db
    cid = add_thread(db, "Branched", [("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2")])
    with db.session() as s:
        q1 = next(m for m in s.exec(select(Message)) if m.content == "q1")
    side = _branch(db, cid, q1.id, ["a1 other", "q2 other", "a2 other"])
    with db.write() as s:
        s.get(Conversation, cid).active_leaf_id = side[-1]
    console = _open(qtbot, window, cid)
    assert [r.content for r in console.transcript.rows()] == ["q1", "a1 other", "q2 other", "a2 other"]
    assert [r.parent_id for r in console.transcript.rows()][1:] == [q1.id, *side[:-1]]


def test_a_search_hit_on_another_branch_makes_it_the_active_one(qtbot, window, settle):
    db = window.ctx.db
    cid = add_thread(db, "Branched", [("user", "q1"), ("assistant", "a1 zanzibarite"), ("user", "q2")])
    with db.session() as s:
        q1 = next(m for m in s.exec(select(Message)) if m.content == "q1")
        hit = next(m for m in s.exec(select(Message)) if "zanzibarite" in m.content)
    side = _branch(db, cid, q1.id, ["a1 regenerated", "q2 again"])
    with db.write() as s:
        s.get(Conversation, cid).active_leaf_id = side[-1]
    console = _open(qtbot, window, cid)
    assert [r.content for r in console.transcript.rows()] == ["q1", "a1 regenerated", "q2 again"]
    qtbot.keyClicks(console.search_box, "zanzibar")
    qtbot.waitUntil(lambda: console.search_results.list.count() == 1, timeout=5000)
    item = console.search_results.list.item(0)
    with qtbot.waitSignal(console.jumped, timeout=5000):
        rect = console.search_results.list.visualItemRect(item)
        qtbot.mouseClick(console.search_results.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert [r.content for r in console.transcript.rows()] == ["q1", "a1 zanzibarite", "q2"]
    with db.session() as s:
        assert tree.active_leaf_in(s, s.get(Conversation, cid)) == next(
            m.id for m in s.exec(select(Message)) if m.content == "q2")
        assert s.get(Conversation, cid).active_leaf_id != side[-1]
    assert hit.id in [r.id for r in console.transcript.rows()]


def test_another_device_moving_the_leaf_shows_its_path_in_place(qtbot, window, settle):
    db = window.ctx.db
    cid = add_thread(db, "Shared", [("user", "q1"), ("assistant", "a1")])
    with db.session() as s:
        q1 = next(m for m in s.exec(select(Message)) if m.content == "q1")
        a1 = next(m for m in s.exec(select(Message)) if m.content == "a1")
    with db.write() as s:
        s.get(Conversation, cid).active_leaf_id = a1.id
    console = _open(qtbot, window, cid)
    qtbot.keyClicks(console.composer, "still typing")
    resets = []
    console.transcript.modelReset.connect(lambda: resets.append(1))
    other = _branch(db, cid, q1.id, ["a1 from the other device"])[0]
    # A branch alone does not move what this device reads ...
    _as_sync(db, "SELECT 1")
    settle(300)
    assert [r.content for r in console.transcript.rows()] == ["q1", "a1"]
    # ... the other device's choice does (last writer wins), and a reply under the leaf extends the path.
    _as_sync(db, "UPDATE conversations SET active_leaf_id = ? WHERE id = ?", other, cid,  # only the thread's row
             tables=("conversations",), rows={"conversations": {cid}})
    qtbot.waitUntil(lambda: [r.content for r in console.transcript.rows()] == ["q1", "a1 from the other device"],
                    timeout=5000)
    _branch(db, cid, other, ["q2 typed over there"])
    _as_sync(db, "SELECT 1")
    qtbot.waitUntil(lambda: [r.content for r in console.transcript.rows()][-1] == "q2 typed over there", timeout=5000)
    assert resets == [] and console.composer.toPlainText() == "still typing"


def test_a_failed_reply_is_painted_with_its_error_and_a_retry_link(qtbot, window, settle):
    db = window.ctx.db
    cid = add_thread(db, "Failed", [("user", "q1")])
    with db.session() as s:
        q1 = s.exec(select(Message)).one()
    with db.write() as s:
        s.add(Message(conversation_id=cid, role="assistant", content="", parent_id=q1.id, status="error",
                      error="The server failed (HTTP 502): bad gateway."))
    console = _open(qtbot, window, cid)
    failed = console.transcript.rows()[-1]
    assert (failed.status, failed.error) == ("error", "The server failed (HTTP 502): bad gateway.")
    index = console.transcript.index(console.transcript.row_of(failed.id))
    names = [name for name, _rect in console.view.delegate.geometry(console.view.visualRect(index), index).actions]
    assert "retry" in names
