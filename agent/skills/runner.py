"""Run a skill's test cases with and without the skill: a cancellable long job. No Qt.

    report = run_skill_tests(db, skill_id, connection_id, api_key, runs=2, ctx=ctx)

Every case is sent `runs` times (1–3) with the skill and `runs` times without it, to the chosen
connection, one request at a time:
    with:    system = the connection's system prompt + "## Skills / ### <name> / <template_prompt>"
             (the same block the Console adds for a promoted skill), user = the case's prompt;
    without: system = the connection's system prompt only (no system message if it is empty).
Memory is left out on purpose: the comparison isolates the skill. Temperature 0.7, the Console's, so
repeated runs measure what a user would see; max_tokens 2048 bounds each reply.

Pass rate = runs in which every expectation of the case held / (cases × runs). The result (rates, the
difference, per-case counts, what failed) is stored in `skills.last_test` and `score` = the pass rate
with the skill, in one write at the end. Nothing is stored when the job is cancelled, when a request
fails (a network error says nothing about the skill), or when the skill changed while it ran.

A skill that names tools (`skills.tools`) is tested with them: the requests with the skill offer the
named tools this device has enabled and run the tool loop (agent/skills/tool_run.py), approved without
anyone to ask — a tool marked "Always" on this device, or one the person confirmed for this run
(`approval`: "all", "never" (default) or a set of server/tool names); every other call is denied and the
run records it. A named tool this device lacks or has disabled is a note in the result, not an error.
The result then also holds `tools` (offered, always, approval, notes) and per case `tool_calls`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.jobs import JobCancelled, JobContext
from agent.llm.client import LLMClient
from agent.llm.errors import LLMError
from agent.prompt import SKILLS_HEADING
from agent.skills.cases import cases_hash, run_case
from agent.skills.forge import SkillError, get_skill_in
from agent.skills.tool_run import CaseCalls, SkillTools, fit_result, skill_tools_for_run
from agent.skills.tools import NEVER, stored_tools
from agent.tools.config import list_servers
from local_schema.database import LocalDatabase
from local_schema.models import AgentConnection
from local_schema.timestamps import utc_now

MAX_RUNS = 3
TEMPERATURE = 0.7
MAX_TOKENS = 2048
FAILURES_KEPT = 5  # failure descriptions kept per case (last_test stays small: the server caps it)
FAILURE_CHARS = 160


@dataclass
class CaseResult:
    prompt: str
    passed_with: int = 0
    passed_without: int = 0
    failed_with: list[str] = field(default_factory=list)  # expectations that failed with the skill
    tool_calls: CaseCalls | None = None  # what the calls with the skill did (a skill that names tools)


@dataclass
class TestReport:
    skill_id: str
    version: int
    runs: int
    cases: list[CaseResult]
    with_rate: float
    without_rate: float
    last_test: dict  # exactly what was stored

    __test__ = False  # not a pytest class

    @property
    def delta(self) -> float:
        return round(self.with_rate - self.without_rate, 4)

    def summary(self) -> str:
        return (f"with the skill {self.with_rate:.0%}, without {self.without_rate:.0%} "
                f"({self.delta * 100:+.0f} points) over {len(self.cases)} case(s) × {self.runs} run(s)")


def skill_block(name: str, template_prompt: str) -> str:
    """The skill as the Console's system message carries it (agent.prompt)."""
    return f"{SKILLS_HEADING}\n### {' '.join(name.split())}\n{template_prompt.strip()}"


def _messages(base: str, extra: str | None, prompt: str) -> list[dict]:
    system = "\n\n".join(part for part in (base.strip(), extra or "") if part)
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]


def run_skill_tests(db: LocalDatabase, skill_id: str, connection_id: str, api_key: str | None = "", *,
                    runs: int = 1, ctx: JobContext | None = None, client: LLMClient | None = None,
                    host=None, approval=NEVER, secrets=None) -> TestReport:
    """The job. Raises SkillError (nothing to run, skill gone or changed), LLMError (a request failed),
    JobCancelled — and stores nothing in each of those cases. `host` (an agent.tools.host.ToolHost) runs
    the skill's tools; without one, a host is started for the run and closed after it."""
    ctx = ctx or JobContext()
    if not 1 <= int(runs) <= MAX_RUNS:
        raise SkillError(f"Run each case 1 to {MAX_RUNS} times, not {runs}.")
    runs = int(runs)
    with db.session() as session:
        skill = get_skill_in(session, skill_id)
        connection = session.get(AgentConnection, connection_id)
        if connection is None or connection.deleted_at is not None:
            raise SkillError("That connection no longer exists; choose another one in Bind.")
    cases = list(skill.test_cases or [])
    if not cases:
        raise SkillError("This skill has no test cases yet: add at least one, then run the tests.")
    if not (skill.template_prompt or "").strip():
        raise SkillError("This skill has no template prompt to test.")
    names = stored_tools(skill)
    tested = {"version": skill.version, "cases_hash": cases_hash(cases)}
    tools: SkillTools | None = None
    own_host = None
    if names:
        tools = skill_tools_for_run(list_servers(db), names, approval, host, secrets)
        if tools.toolset and host is None:
            from agent.tools.host import ToolHost  # the SDK is loaded only for a run that offers tools

            tools.host = own_host = ToolHost()
    block = skill_block(skill.name, skill.template_prompt)
    base = connection.system_prompt or ""
    own_client = client is None
    client = client or LLMClient(connection.base_url, connection.model, api_key)
    results = [CaseResult(case["prompt"]) for case in cases]
    total, done = len(cases) * runs * 2, 0
    try:
        for number, (case, result) in enumerate(zip(cases, results, strict=True), start=1):
            for run in range(1, runs + 1):
                for with_skill in (True, False):
                    ctx.progress(done, total, f"Case {number}/{len(cases)}, run {run}/{runs}, "
                                              f"{'with' if with_skill else 'without'} the skill")
                    messages = _messages(base, block if with_skill else None, case["prompt"])
                    if with_skill and tools is not None and tools.toolset:
                        reply, calls = _ask_with_tools(client, tools, messages, ctx)
                        result.tool_calls = result.tool_calls or CaseCalls()
                        result.tool_calls.merge(calls)
                    else:
                        reply = _ask(client, messages, ctx)
                    passed, failed = run_case(case, reply)
                    if with_skill:
                        result.passed_with += passed
                        for detail in failed:
                            if detail not in result.failed_with and len(result.failed_with) < FAILURES_KEPT:
                                result.failed_with.append(detail[:FAILURE_CHARS])
                    else:
                        result.passed_without += passed
                    done += 1
        ctx.progress(done, total, "Saving the result")
    finally:
        if own_client:
            client.close()
        if own_host is not None:
            own_host.close()
    return _store(db, skill_id, connection, tested, runs, results, tools, names)


def _ask(client: LLMClient, messages: list[dict], ctx: JobContext) -> str:
    try:
        reply = "".join(client.stream_chat(messages, temperature=TEMPERATURE, max_tokens=MAX_TOKENS,
                                           cancel=ctx.cancel))
    except LLMError as err:
        if ctx.cancelled:
            raise JobCancelled() from None
        raise LLMError(err.kind, f"A test request failed: {err.message} Nothing was stored.",
                       status=err.status) from None
    ctx.check()  # a cancelled stream just ends: this turns it into JobCancelled before it is counted
    return reply


def _ask_with_tools(client: LLMClient, tools: SkillTools, messages: list[dict], ctx: JobContext):
    try:
        reply, calls = tools.ask(client, messages, ctx.cancel, {"temperature": TEMPERATURE, "max_tokens": MAX_TOKENS})
    except LLMError as err:
        if ctx.cancelled:
            raise JobCancelled() from None
        raise LLMError(err.kind, f"A test request failed: {err.message} Nothing was stored.",
                       status=err.status) from None
    ctx.check()
    return reply, calls


def _store(db: LocalDatabase, skill_id: str, connection: AgentConnection, tested: dict, runs: int,
           results: list[CaseResult], tools: SkillTools | None = None, names: tuple | list = ()) -> TestReport:
    attempts = len(results) * runs
    with_rate = round(sum(r.passed_with for r in results) / attempts, 4)
    without_rate = round(sum(r.passed_without for r in results) / attempts, 4)
    last_test = {
        **tested,
        "ran_at": utc_now(),
        "connection_id": connection.id,
        "connection_name": connection.name,
        "model": connection.model,
        "runs": runs,
        "with_rate": with_rate,
        "without_rate": without_rate,
        "delta": round(with_rate - without_rate, 4),
        "results": [{"with": r.passed_with, "without": r.passed_without, "failed": r.failed_with,
                     **({"tool_calls": r.tool_calls.to_json()} if r.tool_calls else {})}
                    for r in results],
        **({"tools": tools.describe()} if tools is not None else {}),
    }
    last_test = fit_result(last_test)
    with db.write() as session:
        skill = get_skill_in(session, skill_id)
        if (skill.version != tested["version"] or cases_hash(skill.test_cases or []) != tested["cases_hash"]
                or stored_tools(skill) != list(names)):
            raise SkillError("The skill changed while its tests ran, so the result would describe an "
                             "older version; nothing was stored. Run the tests again.")
        skill.last_test = last_test
        skill.score = with_rate
        session.add(skill)
    return TestReport(skill_id, tested["version"], runs, results, with_rate, without_rate, last_test)
