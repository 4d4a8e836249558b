"""The command line's approval policies, `ask` on a real pseudo-terminal and without one."""

from __future__ import annotations

import io
import os

import pytest

from agent.tools.approval import approver, describe
from agent.tools.loop import ALLOW_ONCE, ALWAYS, DENY, PendingCall

CALL = PendingCall("c1", "files__read_file", "files", "read_file", {"path": "/tmp/a\nb", "n": 1}, "{}")


@pytest.fixture
def terminal():
    """(stdin, stdout) of a real pty, and a function that types a line into it."""
    leader, follower = os.openpty()
    stdin = os.fdopen(follower, "r", closefd=False)
    out = io.StringIO()

    def type_line(text: str) -> None:
        os.write(leader, (text + "\n").encode())

    yield stdin, out, type_line
    stdin.close()
    os.close(leader)
    os.close(follower)


@pytest.mark.parametrize("typed, decision", [("y", ALLOW_ONCE), ("always", ALWAYS), ("", DENY), ("nope", DENY)])
def test_ask_on_a_terminal(terminal, typed, decision):
    stdin, out, type_line = terminal
    type_line(typed)
    assert approver("ask", stdin, out)(CALL) == decision
    assert 'The model wants to run files/read_file {"n": 1, "path": "/tmp/a\\nb"}' in out.getvalue()


def test_ask_without_a_terminal_denies_and_the_fixed_policies(tmp_path):
    piped = io.StringIO("y\n")
    assert approver("ask", piped, io.StringIO())(CALL) == DENY
    assert approver("all", piped, io.StringIO())(CALL) == ALLOW_ONCE
    assert approver("never", piped, io.StringIO())(CALL) == DENY
    with pytest.raises(ValueError, match="--approve must be one of ask, all, never"):
        approver("maybe", piped, io.StringIO())


def test_long_arguments_are_shown_bounded_on_one_line():
    call = PendingCall("c", "x__y", "x", "y", {"text": "z" * 2000}, "{}")
    line = describe(call)
    assert "\n" not in line and len(line) < 600 and line.endswith("… (2,012 characters)")
