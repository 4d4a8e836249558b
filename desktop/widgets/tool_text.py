"""How tool calls and results read in the transcript, as plain text (never Markdown: arguments and results
come from a model and a tool, and are shown exactly as they are). No Qt.

An assistant message that called tools shows its text, then one block per call: "server · tool" and the
arguments, pretty-printed when they are JSON. A result (role `tool`) longer than COLLAPSED_LINES lines
(or COLLAPSED_CHARS characters) shows its beginning until the reader expands it.
"""

from __future__ import annotations

import json

COLLAPSED_LINES = 6
COLLAPSED_CHARS = 800
ARGUMENTS_SHOWN = 4_000  # characters of one call's arguments shown in the transcript
CALLS_SHOWN = 16  # a round holds at most 16 calls (agent.tools.assemble); a forged row may hold more


def split_name(name: str) -> tuple[str, str]:
    """("server", "tool") of an offered name `server__tool` (agent.tools.names); ("", name) otherwise."""
    server, sep, tool = name.partition("__")
    return (server, tool) if sep and server and tool else ("", name)


def arguments_text(arguments) -> str:
    """Arguments as readable text: JSON pretty-printed, anything else as it is; bounded."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            text = arguments
        else:
            text = json.dumps(arguments, ensure_ascii=False, indent=2, sort_keys=True)
    else:
        text = json.dumps(arguments, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    if len(text) > ARGUMENTS_SHOWN:
        text = text[:ARGUMENTS_SHOWN] + f"\n… ({len(text) - ARGUMENTS_SHOWN:,} more characters)"
    return text


def call_heading(server: str, tool: str) -> str:
    return f"⚒ {server} · {tool}" if server else f"⚒ {tool}"


def calls_text(content: str, tool_calls) -> str:
    """An assistant message with its calls, as the transcript shows it."""
    blocks = [content.strip()] if (content or "").strip() else []
    calls = [c for c in tool_calls if isinstance(c, dict)] if isinstance(tool_calls, list) else []
    for call in calls[:CALLS_SHOWN]:
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        server, tool = split_name(str(function.get("name") or "?"))
        blocks.append(call_heading(server, tool) + "\n" + arguments_text(function.get("arguments") or "{}"))
    if len(calls) > CALLS_SHOWN:
        blocks.append(f"… and {len(calls) - CALLS_SHOWN} more calls")
    return "\n\n".join(blocks) or " "


def result_text(content: str, expanded: bool) -> tuple[str, int]:
    """(what a result row shows, how many lines are hidden: 0 when it shows whole)."""
    content = content or "(the tool returned nothing)"
    lines = content.split("\n")
    if expanded or (len(lines) <= COLLAPSED_LINES and len(content) <= COLLAPSED_CHARS):
        return content, 0
    shown = "\n".join(lines[:COLLAPSED_LINES])[:COLLAPSED_CHARS]
    hidden = len(lines) - shown.count("\n") - 1
    return shown + "\n…", max(hidden, 1)


def is_tool_row(row) -> bool:
    return row.role == "tool" or bool(getattr(row, "tool_calls", None))


def shown_text(row) -> str:
    """The plain text the delegate renders for a tool row."""
    if row.role == "tool":
        return result_text(row.content, row.expanded)[0]
    return calls_text(row.content, row.tool_calls)
