"""The Skill Forge page's reads, shaped for the views (they run inside background ops and touch no
widget), and the longer texts the page shows for a test result.

The rules themselves live in agent.skills.forge; `SkillRow.gate` is the reason agent.skills.forge.check_move
gives for the next move, computed here so the page can grey the button out and say why before the
user clicks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.connections.rows import live_connections
from agent.skills.forge import GateRefused, check_move, legal_targets, list_skills_in, run_state
from agent.skills.settings import load_min_score
from agent.tools.config import list_servers
from desktop.models.skill_model import SkillRow, percent
from local_schema.models import Skill


@dataclass(frozen=True)
class Snapshot:
    rows: list[SkillRow]
    min_score: float
    connections: list[tuple[str, str]]  # (id, "name · model")
    servers: list = ()  # this device's MCP servers and their tools (agent.tools.config.ServerConfig)


def _row(skill: Skill, min_score: float) -> SkillRow:
    targets = legal_targets(skill.status)
    gate, warnings = None, ()
    if targets:
        try:
            warnings = tuple(check_move(skill, targets[0], min_score))
        except GateRefused as refused:
            gate = str(refused)
    return SkillRow(skill, run_state(skill), targets[0] if targets else None, gate, warnings)


def load(db, data_dir) -> Snapshot:
    min_score = load_min_score(data_dir)
    with db.session() as session:
        rows = [_row(s, min_score) for s in list_skills_in(session)]
    connections = [(c.id, f"{c.name} · {c.model}") for c in live_connections(db)]
    return Snapshot(rows, min_score, connections, list_servers(db))


def load_threads(db) -> list[tuple[str, str]]:
    """(id, "title · N messages") of the threads with messages, most recent activity first."""
    from agent.chat.threads import list_threads

    return [(t.id, f"{t.title} · {t.message_count} messages") for t in list_threads(db) if t.message_count]


def last_test_long(row: SkillRow) -> str:
    """For the detail card: rates, difference, what was run, on what and when; or why there is none."""
    last = row.skill.last_test
    if not isinstance(last, dict):
        return "Never tested. Add test cases, choose a connection, Run tests."
    delta = float(last.get("delta", 0.0)) * 100
    when = _when(last.get("ran_at"))
    cases = len(last.get("results") or [])
    text = (f"With the skill {percent(last.get('with_rate', 0))} · without {percent(last.get('without_rate', 0))} · "
            f"{delta:+.0f} points — {cases} case(s) × {last.get('runs', 1)} run(s) on "
            f"{last.get('connection_name') or 'a connection'} ({last.get('model') or '?'}), v{last.get('version')}"
            f"{', ' + when if when else ''}.")
    if row.state == "stale":
        text += " The prompt or the cases changed since: run the tests again."
    return text + _tools_long(last)


def _tools_long(last: dict) -> str:
    """What the skill's tools did in the run: calls ran / denied / failed, and the notes (names not offered)."""
    tools = last.get("tools")
    if not isinstance(tools, dict):
        return ""
    counts = {"ran": 0, "denied": 0, "failed": 0}
    for result in last.get("results") or []:
        calls = result.get("tool_calls") if isinstance(result, dict) else None
        for key in counts:
            value = calls.get(key) if isinstance(calls, dict) else 0
            counts[key] += value if isinstance(value, int) and not isinstance(value, bool) else 0
    offered = [str(n) for n in tools.get("offered") or []][:32]
    text = (f"\nTools offered: {', '.join(offered) or 'none'} — calls: {counts['ran']} ran, {counts['denied']} denied, "
            f"{counts['failed']} failed.")
    notes = [str(n)[:300] for n in tools.get("notes") or []][:32]
    return text + "".join(f"\nNote: {note}" for note in notes)


def _when(stamp) -> str:
    try:
        return datetime.fromisoformat(str(stamp)).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return ""
