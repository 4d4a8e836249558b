"""A skill's test run with its tools (docs/skills.md "Tests with tools"). No Qt.

With the skill, each case's request offers the skill's named tools that this device has enabled
(agent.skills.tools.skill_toolset) and runs agent.tools.loop.ToolLoop — the chat turn's loop — with an
unattended approval (test_approver) and a storage that keeps nothing: a test run writes no messages.
Without the skill, no tools either: the comparison is the skill (its prompt and its tools) against none.

What the calls did goes into the stored result, bounded (the server caps last_test at 50,000 bytes):
per case the number of calls run, denied and failed, and the first CALLS_KEPT of them. `fit_result`
trims the details (never the counts or rates) when a result with many long names would not fit.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from agent.skills.tools import ALL, NEVER, skill_toolset, test_approver, tool_key
from agent.storable import jsonb_text_size
from agent.tools.config import ServerConfig
from agent.tools.loop import DENY, CallRecord, ToolLoop, host_runner
from agent.tools.toolset import ToolSet

CALLS_KEPT = 3
MAX_ROUNDS = 4  # rounds of calls per test request (a test should not wander)
CALL_TIMEOUT = 60.0
RESULT_BYTES = 48_000  # under the server's skills_last_test_size (50,000 bytes of its jsonb text)


@dataclass
class CaseCalls:
    ran: int = 0
    denied: int = 0
    failed: int = 0
    kept: list[dict] = field(default_factory=list)

    def add(self, record: CallRecord) -> None:
        if record.decision == DENY:
            self.denied += 1
        elif record.ok:
            self.ran += 1
        else:
            self.failed += 1
        if len(self.kept) < CALLS_KEPT:
            name = tool_key(record.call.server, record.call.tool or "") if record.call.server else record.call.name
            self.kept.append({"tool": name[:200], "decision": record.decision, "ok": record.ok})

    def merge(self, other: CaseCalls) -> None:
        self.ran, self.denied, self.failed = self.ran + other.ran, self.denied + other.denied, self.failed + other.failed
        self.kept.extend(other.kept[:CALLS_KEPT - len(self.kept)])

    def to_json(self) -> dict:
        return {"ran": self.ran, "denied": self.denied, "failed": self.failed, "calls": self.kept}


class _Nowhere:
    """TurnStorage that stores nothing: a test run is not a conversation."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def add_assistant(self, text: str, tool_calls: list[dict] | None) -> str:
        return f"test-{next(self._ids)}"

    def add_tool_result(self, tool_call_id: str, name: str, text: str) -> str:
        return f"test-{next(self._ids)}"


@dataclass
class SkillTools:
    """The tools one test run offers, what it could not offer, and how calls are approved."""

    toolset: ToolSet
    notes: list[str]
    servers: dict[str, ServerConfig]
    approval: str | frozenset[str] = NEVER
    host: object | None = None
    secrets: object | None = None

    @property
    def offered(self) -> list[str]:
        return sorted(tool_key(t.server, t.tool) for t in self.toolset.offered.values())

    @property
    def always(self) -> list[str]:
        return sorted(tool_key(t.server, t.tool) for t in self.toolset.offered.values() if t.always_allow)

    def describe(self) -> dict:
        approval = self.approval if isinstance(self.approval, str) else sorted(self.approval)
        return {"offered": self.offered, "always": self.always, "approval": approval, "notes": self.notes}

    def ask(self, client, messages: list[dict], cancel, options: dict) -> tuple[str, CaseCalls]:
        """One request with the tools (a ToolLoop turn); LLMError propagates, like a plain request."""
        calls = CaseCalls()
        loop = ToolLoop(client, self.toolset, run_tool=host_runner(self.host, self.servers, self.secrets),
                        approve=test_approver(self.approval), storage=_Nowhere(), remember_always=None,
                        max_rounds=MAX_ROUNDS, call_timeout=CALL_TIMEOUT, cancel=cancel, on_call=calls.add,
                        options=options)
        return loop.run(messages).text, calls


def skill_tools_for_run(servers: list[ServerConfig], names: list[str], approval=NEVER, host=None,
                        secrets=None) -> SkillTools:
    toolset, notes = skill_toolset(servers, names)
    if approval not in (ALL, NEVER):
        approval = frozenset(approval)
    return SkillTools(toolset, notes, {s.name: s for s in servers}, approval, host, secrets)


def fit_result(last_test: dict, limit: int = RESULT_BYTES) -> dict:
    """`last_test` within `limit` bytes: drop the kept calls, then all but 3 notes and names, then all but
    one failure description per case — the least useful details first; counts and rates always stay."""
    def fits() -> bool:
        return jsonb_text_size(last_test) <= limit

    def shorten(items: list, keep: int) -> list:
        return items if len(items) <= keep else items[:keep] + [f"… and {len(items) - keep} more"]

    results = [r for r in last_test.get("results") or [] if isinstance(r, dict)]
    tools = last_test.get("tools") if isinstance(last_test.get("tools"), dict) else {}
    steps = [lambda: [r["tool_calls"].update(calls=[]) for r in results if r.get("tool_calls")],
             lambda: tools.update({k: shorten(list(tools.get(k) or []), 3) for k in ("notes", "offered", "always")}),
             lambda: [r.update(failed=shorten(list(r.get("failed") or []), 1)) for r in results]]
    for step in steps:
        if fits():
            break
        step()
    return last_test
