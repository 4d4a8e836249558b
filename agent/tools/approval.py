"""Approval policies for the command line (`mirari chat … --approve ask|all|never`, agent.chat.tools_cli).

- `all`: every call runs (Allow once each time; nothing is remembered);
- `never`: every call is denied (the model gets the denial as the result and answers without it);
- `ask`: each call is shown on the terminal — server, tool, arguments on one line, bounded — and the
  answer read: `y` Allow once, `a` Always for this tool, anything else Deny. Without a terminal (a
  script, a pipe) it denies: nothing runs that nobody approved.
The window's approval (a prompt in the transcript) is the GUI's own callback with the same answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TextIO

from agent.tools.loop import ALLOW_ONCE, ALWAYS, DENY, PendingCall

MODES = ("ask", "all", "never")
SHOWN_ARGUMENTS = 500


def describe(call: PendingCall) -> str:
    """`server/tool {"arg": …}` on one line, the arguments cut at SHOWN_ARGUMENTS characters."""
    arguments = json.dumps(call.arguments, ensure_ascii=False, sort_keys=True)
    if len(arguments) > SHOWN_ARGUMENTS:
        arguments = arguments[:SHOWN_ARGUMENTS] + f"… ({len(arguments):,} characters)"
    arguments = "".join(ch if ch.isprintable() else " " for ch in arguments)
    return f"{call.server}/{call.tool} {arguments}"


def approver(mode: str, stdin: TextIO, stdout: TextIO) -> Callable[[PendingCall], str]:
    if mode == "all":
        return lambda call: ALLOW_ONCE
    if mode == "never":
        return lambda call: DENY
    if mode != "ask":
        raise ValueError(f"--approve must be one of {', '.join(MODES)}, not {mode!r}")

    def ask(call: PendingCall) -> str:
        try:
            interactive = stdin.isatty()
        except (AttributeError, ValueError):
            interactive = False
        if not interactive:
            return DENY
        stdout.write(f"\nThe model wants to run {describe(call)}\n"
                     "Allow once [y], always for this tool [a], deny [N]? ")
        stdout.flush()
        answer = (stdin.readline() or "").strip().lower()
        return ALLOW_ONCE if answer in ("y", "yes") else ALWAYS if answer in ("a", "always") else DENY

    return ask
