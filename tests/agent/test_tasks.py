"""Tasks: add, edit, move, delete, filter by connection — and the commands over the same rules."""

from __future__ import annotations

import json

import pytest
from mirari.main import main

from agent.tasks import board
from agent.tasks.board import TaskError
from local_schema.models import AgentConnection, Task


def _connection(db, name="Hermes") -> str:
    with db.write() as s:
        c = AgentConnection(name=name, provider="hermes", base_url="http://localhost:11434/v1", model="hermes3")
        s.add(c)
    return c.id


def test_add_edit_move_delete(db):
    cid = _connection(db)
    task = board.add_task(db, "  Write   the docs ", "why and how", connection_id=cid)
    assert (task.title, task.status, task.connection_id) == ("Write the docs", "pending", cid)
    board.move_task(db, task.id, "in_progress")
    board.edit_task(db, task.id, title="Write the README", connection_id=None, description="")
    [info] = board.list_tasks(db)
    assert (info.title, info.status, info.connection_id, info.description) == (
        "Write the README", "in_progress", None, None)
    board.delete_task(db, task.id)
    assert board.list_tasks(db) == []
    with db.session() as s:
        assert s.get(Task, task.id) is None  # a real delete: capture sends the server a tombstone


@pytest.mark.parametrize(("call", "message"), [
    (lambda db: board.add_task(db, "   "), "needs a title"),
    (lambda db: board.add_task(db, "x" * 501), "too long"),
    (lambda db: board.add_task(db, "ok", "d" * 20_001), "too long"),
    (lambda db: board.add_task(db, "ok", connection_id="nope"), "no connection"),
    (lambda db: board.add_task(db, "ok", status="blocked"), "Unknown status"),
    (lambda db: board.move_task(db, "missing", "done"), "no task"),
])
def test_refusals_write_nothing(db, call, message):
    with pytest.raises(TaskError, match=message):
        call(db)
    assert board.list_tasks(db) == []


def test_a_failed_edit_leaves_the_task_as_it_was(db):
    task = board.add_task(db, "Keep me")
    with pytest.raises(TaskError):
        board.edit_task(db, task.id, title="New title", status="blocked")  # the title change rolls back too
    assert [t.title for t in board.list_tasks(db)] == ["Keep me"]


def test_filter_by_connection_and_deleted_connection_name(db):
    a, b = _connection(db, "A"), _connection(db, "B")
    board.add_task(db, "for a", connection_id=a)
    board.add_task(db, "for b", connection_id=b)
    board.add_task(db, "for nobody")
    assert [t.title for t in board.list_tasks(db, connection_id=a)] == ["for a"]
    assert {t.title: t.connection_name for t in board.list_tasks(db)} == {"for a": "A", "for b": "B",
                                                                         "for nobody": None}
    assert [t.title for t in board.list_tasks(db, status="pending")] == ["for a", "for b", "for nobody"]


def test_next_status_walks_the_board():
    assert board.next_status("pending", 1) == "in_progress"
    assert board.next_status("in_progress", 1) == "done"
    assert board.next_status("done", 1) is None
    assert board.next_status("pending", -1) is None


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_tasks_commands(tmp_path, capsys):
    d = str(tmp_path)
    code, out, err = run(capsys, "--data-dir", d, "tasks", "add", "Ship it")
    assert code == 0, err
    task_id = out.strip()
    assert run(capsys, "--data-dir", d, "tasks", "move", task_id, "done")[0] == 0
    code, out, _ = run(capsys, "--data-dir", d, "tasks", "edit", task_id, "--title", "Shipped", "--description", "v1")
    assert code == 0
    code, out, _ = run(capsys, "--data-dir", d, "tasks", "list", "--json")
    [row] = json.loads(out)
    assert (row["id"], row["title"], row["status"], row["description"]) == (task_id, "Shipped", "done", "v1")
    code, out, _ = run(capsys, "--data-dir", d, "stats", "--json")
    numbers = json.loads(out)
    assert (numbers["tasks"], numbers["tasks_done"]) == (1, 1)
    assert run(capsys, "--data-dir", d, "tasks", "delete", task_id)[0] == 0
    code, out, _ = run(capsys, "--data-dir", d, "tasks", "list")
    assert out.strip() == "no tasks"


@pytest.mark.parametrize("argv", [
    ("tasks", "move", "no-such-id", "done"),
    ("tasks", "add", "x", "--connection", "no-such-connection"),
    ("tasks", "edit", "no-such-id", "--title", "t"),
    ("tasks", "delete", "no-such-id"),
])
def test_task_command_errors_are_one_line(tmp_path, capsys, argv):
    code, out, err = run(capsys, "--data-dir", str(tmp_path), *argv)
    assert code != 0 and out == ""
    assert err.startswith("mirari: error: ") and err.count("\n") == 1
