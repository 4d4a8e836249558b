"""The tool loop of one chat turn: ask the model with the enabled tools, run what it calls, continue.

    loop = ToolLoop(client, toolset, run_tool=host_runner(host), approve=ask_user, storage=storage)
    result = loop.run(prompt_messages)      # blocking: a worker thread

Each round streams one completion with the tools offered (agent.llm.client, `events=True`) and assembles
the streamed `tool_calls` (agent.tools.assemble). No call: the text is the reply, the turn is done. Calls:
the assistant message with its calls is stored, then each call in order —

- a name that was not offered, or arguments that are not a JSON object: an error result, nothing run;
- otherwise `approve(call)` decides (skipped for a tool marked "Always"): ALLOW_ONCE, ALWAYS (remembered
  through `remember_always`) or DENY (an error result saying the user denied it);
- an allowed call runs with the time limit and the turn's cancel token; a failure, a timeout or a
  cancel becomes the result text ("Error: …"), so the model learns what happened and the turn goes on —

and each result is stored as a `tool` message carrying the call's id and sent back. At most `max_rounds`
rounds of calls: the request after the last one offers the tools with tool_choice "none", so the model
answers in text; calls it makes anyway are answered "not run: limit reached" and the turn ends.

Storage is a `TurnStorage` (agent.chat.tool_turn.TreeStorage in a chat turn; agent.tools.store a flat thread): the
assistant message of a round, then its results in call order, then the reply — each stored as the next
node of the turn, so a result's parent is the message before it (docs/tools.md). Stop (`cancel`) ends
the turn after the call in flight: every call of the round still gets a result ("Cancelled", "not run"),
so what is stored is always a conversation an endpoint accepts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from agent.llm.client import CancelToken, Finish, LLMClient, ToolCallDelta
from agent.tools.assemble import AssembledCall, ToolCallAssembler
from agent.tools.config import spec_of
from agent.tools.host import READY
from agent.tools.results import ToolResult, bounded
from agent.tools.toolset import OfferedTool, ToolSet

log = logging.getLogger(__name__)

ALLOW_ONCE, ALWAYS, DENY = "allow_once", "always", "deny"
DEFAULT_MAX_ROUNDS = 8
DONE, STOPPED = "done", "stopped"


@dataclass(frozen=True)
class PendingCall:
    """A call the model asked for, as an approval dialog shows it."""

    id: str
    name: str  # as offered
    server: str | None  # None: not a tool that was offered
    tool: str | None
    arguments: dict
    raw_arguments: str
    problem: str | None = None


class TurnStorage(Protocol):
    def add_assistant(self, text: str, tool_calls: list[dict] | None) -> str:
        """Store an assistant message (with its calls, or the final reply when None); returns its id."""

    def add_tool_result(self, tool_call_id: str, name: str, text: str) -> str:
        """Store the result of one call as a `tool` message; returns its id."""


@dataclass
class CallRecord:
    call: PendingCall
    decision: str  # allow_once | always | deny | auto (always allowed) | invalid | skipped
    text: str  # the result as stored and sent
    ok: bool


@dataclass
class LoopResult:
    status: str  # done | stopped
    text: str = ""  # the final reply ("" when the turn stopped or ended on calls)
    rounds: int = 0  # rounds of tool calls made
    calls: list[CallRecord] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)  # everything stored, in order
    limit_reached: bool = False


RunTool = Callable[[str, str, dict, float, CancelToken], ToolResult]  # server, tool, args, timeout, cancel


class ToolLoop:
    def __init__(self, client: LLMClient, toolset: ToolSet, *, run_tool: RunTool,
                 approve: Callable[[PendingCall], str], storage: TurnStorage,
                 remember_always: Callable[[str, str], None] | None = None, max_rounds: int = DEFAULT_MAX_ROUNDS,
                 call_timeout: float = 60.0, cancel: CancelToken | None = None,
                 on_delta: Callable[[str], None] | None = None,
                 on_call: Callable[[CallRecord], None] | None = None, temperature: float = 0.7,
                 options: dict | None = None) -> None:
        self.client, self.toolset = client, toolset
        self.run_tool, self.approve, self.storage = run_tool, approve, storage
        self.remember_always = remember_always
        self.max_rounds, self.call_timeout = max(0, int(max_rounds)), call_timeout
        self.cancel_token = cancel or CancelToken()
        self.on_delta, self.on_call = on_delta, on_call
        # The request's parameters: the thread's settings (temperature, max_tokens, stop) over the default.
        self.options = {"temperature": temperature, **(options or {})}
        self._always: set[str] = {name for name, t in toolset.offered.items() if t.always_allow}

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def run(self, messages: list[dict]) -> LoopResult:
        """Run the turn on `messages` (the prompt: system, history, the user's message). LLMError from the
        model ends it (what was stored stays stored)."""
        history = list(messages)
        result = LoopResult(DONE)
        for round_number in range(self.max_rounds + 1):
            last = round_number == self.max_rounds
            text, calls = self._ask(history, last)
            if self.cancel_token.cancelled and not calls:
                result.status = STOPPED
                if text:
                    result.message_ids.append(self.storage.add_assistant(text, None))
                    result.text = text
                return result
            if not calls:
                result.message_ids.append(self.storage.add_assistant(text, None))
                result.text = text
                return result
            wire = [c.to_openai() for c in calls]
            result.message_ids.append(self.storage.add_assistant(text, wire))
            history.append({"role": "assistant", "content": text or None, "tool_calls": wire})
            result.rounds += 1
            for call in calls:
                record = self._answer(call, last)
                result.calls.append(record)
                result.message_ids.append(self.storage.add_tool_result(call.id, call.name, record.text))
                history.append({"role": "tool", "tool_call_id": call.id, "content": record.text})
                if self.on_call:
                    self.on_call(record)
            if last:
                result.limit_reached = True
                return result
            if self.cancel_token.cancelled:
                result.status = STOPPED
                return result
        return result  # not reached: the last round returns

    # -- one request ------------------------------------------------------------------------------
    def _ask(self, history: list[dict], last: bool) -> tuple[str, list[AssembledCall]]:
        parts: list[str] = []
        assembler = ToolCallAssembler()
        tools = self.toolset.definitions or None
        for event in self.client.stream_chat(history, cancel=self.cancel_token, **self.options,
                                             tools=tools, tool_choice="none" if last and tools else None,
                                             events=True):
            if isinstance(event, str):
                parts.append(event)
                if self.on_delta:
                    self.on_delta(event)
            elif isinstance(event, ToolCallDelta):
                assembler.feed(event)
            elif isinstance(event, Finish):
                pass  # a reply with calls is one whatever the reason says (some endpoints say "stop")
        calls = assembler.calls() if assembler and not self.cancel_token.cancelled else []
        return "".join(parts), calls

    # -- one call -------------------------------------------------------------------------------------
    def _pending(self, call: AssembledCall) -> tuple[PendingCall, OfferedTool | None]:
        offered = self.toolset.find(call.name)
        problem = call.problem
        if offered is None and problem is None:
            known = ", ".join(sorted(self.toolset.offered)) or "none"
            problem = f"There is no tool named {call.name}; the tools offered are: {known}."
        return PendingCall(call.id, call.name, offered.server if offered else None, offered.tool if offered else None,
                           call.parsed, call.arguments, problem), offered

    def _answer(self, call: AssembledCall, last: bool) -> CallRecord:
        pending, offered = self._pending(call)
        if self.cancel_token.cancelled:
            return CallRecord(pending, "skipped", "Error: not run, the user stopped the turn.", False)
        if last:
            return CallRecord(pending, "skipped", f"Error: not run, this turn reached its limit of {self.max_rounds} "
                                                  "rounds of tool calls. Answer with what you have.", False)
        if pending.problem or offered is None:
            return CallRecord(pending, "invalid", f"Error: {pending.problem}", False)
        if offered.name in self._always:
            decision = "auto"
        else:
            try:
                decision = self.approve(pending)
            except Exception:  # noqa: BLE001 - a broken approval never runs the call, and the turn goes on
                log.exception("the approval of %s failed; the call is denied", offered.name)
                decision = DENY
            if self.cancel_token.cancelled:  # Stop while the user was asked (the window withdraws the question)
                return CallRecord(pending, "skipped", "Error: not run, the user stopped the turn.", False)
            if decision not in (ALLOW_ONCE, ALWAYS):
                return CallRecord(pending, DENY, "Error: the user denied this call; do not try it again in this "
                                                 "turn unless they ask.", False)
            if decision == ALWAYS:
                self._always.add(offered.name)
                if self.remember_always is not None:
                    try:
                        self.remember_always(offered.server, offered.tool)
                    except Exception:  # noqa: BLE001 - the call still runs; the choice just is not kept
                        log.exception("could not remember 'always allow' for %s", offered.name)
        try:
            outcome = self.run_tool(offered.server, offered.tool, pending.arguments, self.call_timeout,
                                    self.cancel_token)
        except Exception as exc:  # noqa: BLE001 - ToolError and anything else: the model is told, the turn goes on
            text, _ = bounded(f"Error: {exc}")
            return CallRecord(pending, decision, text, False)
        text = outcome.text if not outcome.is_error else f"Error: {outcome.text}"
        return CallRecord(pending, decision, text or "(the tool returned nothing)", not outcome.is_error)


def host_runner(host, servers: dict | None = None, secrets=None) -> RunTool:
    """A RunTool that calls through an agent.tools.host.ToolHost. With `servers` (name -> ServerConfig), a
    server that is not running is started first (a chat turn starts only the servers the model calls); one
    that does not start gives the call its error."""

    def run(server: str, tool: str, arguments: dict, timeout: float, cancel: CancelToken) -> ToolResult:
        if servers and server in servers and host.status(server).state != READY:
            host.connect(spec_of(servers[server], secrets))
        return host.call(server, tool, arguments, timeout=timeout, cancel=cancel)

    return run
