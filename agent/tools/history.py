"""Stored messages as the OpenAI messages of a request, tool calls and results included, always valid.

An endpoint refuses a conversation where a `tool` message answers no call of the assistant message before
it, or where a call is left without an answer. Stored history can be like that: a window of the last 40
messages may start between a call and its result, a turn interrupted by a crash may have stored the calls
but not all results, a row may arrive from another device before its neighbour. So:

- an assistant message's `tool_calls` are sent with it (content null when it has no text);
- a `tool` message is sent with its `tool_call_id` when it answers a call of the assistant message it
  follows, and is left out otherwise;
- a call without a stored result gets one: "Error: no result was recorded (the turn was interrupted)."
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MISSING_RESULT = "Error: no result was recorded for this call (the turn was interrupted)."


def _calls(value: Any) -> list[dict]:
    if not isinstance(value, list):
        return []
    return [c for c in value if isinstance(c, dict) and isinstance(c.get("id"), str)
            and isinstance(c.get("function"), dict)]


def wire_messages(rows: Iterable[Any]) -> list[dict]:
    """Messages (rows with role, content, tool_calls, tool_call_id) as OpenAI request messages, in order."""
    out: list[dict] = []
    waiting: list[str] = []

    def close_round() -> None:
        for call_id in waiting:
            out.append({"role": "tool", "tool_call_id": call_id, "content": MISSING_RESULT})
        waiting.clear()

    for row in rows:
        role = getattr(row, "role", None)
        if role == "tool":
            call_id = getattr(row, "tool_call_id", None)
            if call_id in waiting:
                waiting.remove(call_id)
                out.append({"role": "tool", "tool_call_id": call_id, "content": row.content})
            continue  # a result whose call is not just before it: left out
        close_round()
        calls = _calls(getattr(row, "tool_calls", None)) if role == "assistant" else []
        if calls:
            out.append({"role": "assistant", "content": row.content or None, "tool_calls": calls})
            waiting.extend(c["id"] for c in calls)
        else:
            out.append({"role": role, "content": row.content})
    close_round()
    return out
