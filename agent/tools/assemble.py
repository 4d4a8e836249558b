"""Streamed `tool_calls` put back together, and made safe to store and send again.

A streaming endpoint sends each call in fragments (agent.llm.client.ToolCallDelta): the first carries its
`index`, `id` and the start of the name, the next ones more of the name and the arguments, a few
characters at a time; calls are told apart by `index`. What the model produced is untrusted, and it is
stored (messages.tool_calls) and sent back in later requests, so each call is normalised here:

- a missing or over-long id gets a fresh `call_…` one (the tool message must name it);
- a name outside OpenAI's rule ([a-zA-Z0-9_-]{1,64}) is sanitised — the loop then finds no such tool and
  answers with an error, but the stored call is one every endpoint accepts;
- arguments over ARGUMENTS_LIMIT, or beyond the round's TOTAL_LIMIT, are replaced by "{}" and the call
  is answered with an error; arguments that are not a JSON object are kept as sent and answered with an
  error (the model can correct itself);
- at most MAX_CALLS calls a round are kept (the server's check allows 64).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from agent.llm.client import ToolCallDelta
from agent.tools.names import NAME_LIMIT, is_valid, sanitise

MAX_CALLS = 16
ARGUMENTS_LIMIT = 100_000
TOTAL_LIMIT = 190_000  # all arguments of one round: messages.tool_calls holds 250,000 characters at most
ID_LIMIT = 200


@dataclass
class AssembledCall:
    id: str
    name: str
    arguments: str
    problem: str | None = None  # why it cannot run as it is (answered with an error)
    parsed: dict = field(default_factory=dict)

    def to_openai(self) -> dict:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass
class _Parts:
    id: str = ""
    name: list[str] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    size: int = 0


class ToolCallAssembler:
    def __init__(self) -> None:
        self._parts: dict[int, _Parts] = {}

    def feed(self, delta: ToolCallDelta) -> None:
        parts = self._parts.setdefault(delta.index, _Parts())
        if delta.id and not parts.id:
            parts.id = delta.id
        if delta.name:
            parts.name.append(delta.name)
        if delta.arguments and parts.size <= ARGUMENTS_LIMIT:  # past the limit: stop keeping (bounded memory)
            parts.arguments.append(delta.arguments)
            parts.size += len(delta.arguments)

    def __bool__(self) -> bool:
        return bool(self._parts)

    def calls(self) -> list[AssembledCall]:
        out: list[AssembledCall] = []
        total = 0
        seen_ids: set[str] = set()
        for _index, parts in sorted(self._parts.items())[:MAX_CALLS]:
            call_id = parts.id if 0 < len(parts.id) <= ID_LIMIT and parts.id not in seen_ids else ""
            call_id = call_id or f"call_{uuid.uuid4().hex[:24]}"
            seen_ids.add(call_id)
            raw_name = "".join(parts.name)
            name = raw_name if is_valid(raw_name) else sanitise(raw_name)[:NAME_LIMIT]
            arguments = "".join(parts.arguments).strip() or "{}"
            call = AssembledCall(call_id, name, arguments)
            if parts.size > ARGUMENTS_LIMIT or total + len(arguments) > TOTAL_LIMIT:
                call.arguments = "{}"
                call.problem = (f"The arguments were longer than {ARGUMENTS_LIMIT:,} characters (or the calls of "
                                "this round together too long); the call was not run.")
            else:
                try:
                    parsed = json.loads(arguments)
                except ValueError as exc:
                    call.problem = f"The arguments are not valid JSON ({exc}); the call was not run."
                else:
                    if isinstance(parsed, dict):
                        call.parsed = parsed
                    else:
                        call.problem = "The arguments must be a JSON object; the call was not run."
            total += len(call.arguments)
            out.append(call)
        return out
