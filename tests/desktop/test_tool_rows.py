"""Tool calls and results as the transcript reads them from the database: whatever a row holds (a row from
another device may hold anything in messages.tool_calls), it renders as bounded plain text."""

from __future__ import annotations

import json

from sqlalchemy import text

from agent.chat.threads import new_thread
from desktop import queries
from desktop.widgets.tool_text import ARGUMENTS_SHOWN, CALLS_SHOWN, calls_text, result_text, split_name
from local_schema.database import open_database
from local_schema.models import Message


def test_forged_tool_calls_are_read_tolerantly(tmp_path):
    db = open_database(tmp_path / "local.sqlite3")
    thread = new_thread(db, None).id
    values = ['{"not": "a list"}', "not json at all", "[]", json.dumps([{"id": "c", "function": {"name": "a__b"}}])]
    with db.write() as s:
        parent = None
        for i, _ in enumerate(values):
            m = Message(conversation_id=thread, role="assistant", content=f"m{i}", seq=i + 1, parent_id=parent)
            s.add(m)
            parent = m.id
    with db.write() as s:  # written raw, as a sync pull of someone else's row could hold it
        for i, value in enumerate(values):
            s.execute(text("UPDATE messages SET tool_calls = :v WHERE content = :c"), {"v": value, "c": f"m{i}"})
    window = queries.tail_window(db, thread, 10)
    assert [r.tool_calls for r in window.rows] == [None, None, None, [{"id": "c", "function": {"name": "a__b"}}]]
    assert calls_text("m3", window.rows[3].tool_calls) == "m3\n\n⚒ a · b\n{}"
    db.close()


def test_calls_text_is_bounded_and_survives_odd_shapes():
    odd = [{"function": "nope"}, "a string", {"function": {"name": 7, "arguments": "{broken"}}]
    shown = calls_text("", odd)
    assert shown == "⚒ ?\n{}\n\n⚒ 7\n{broken"  # no name: "?"; an unparsable argument string as it is
    many = [{"function": {"name": f"s__t{i}", "arguments": "{}"}} for i in range(CALLS_SHOWN + 5)]
    assert calls_text("", many).endswith("… and 5 more calls")
    huge = calls_text("", [{"function": {"name": "s__t", "arguments": json.dumps({"x": "y" * 50_000})}}])
    assert len(huge) < ARGUMENTS_SHOWN + 200 and "more characters)" in huge
    assert calls_text("", None) == " " and split_name("__x") == ("", "__x") and split_name("a__b__c") == ("a", "b__c")


def test_long_results_collapse_by_lines_or_characters():
    assert result_text("short", False) == ("short", 0)
    lines = "\n".join(f"line {i}" for i in range(20))
    shown, hidden = result_text(lines, False)
    assert shown == "\n".join(f"line {i}" for i in range(6)) + "\n…" and hidden == 14
    assert result_text(lines, True) == (lines, 0)
    one_long_line, hidden = result_text("x" * 5000, False)
    assert len(one_long_line) == 802 and hidden == 1
    assert result_text("", False) == ("(the tool returned nothing)", 0)
