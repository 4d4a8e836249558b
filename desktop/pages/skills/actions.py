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
from desktop.models.skill_model import SkillRow, percent
from local_schema.models import Skill


@dataclass(frozen=True)
class Snapshot:
    rows: list[SkillRow]
    min_score: float
    connections: list[tuple[str, str]]  # (id, "name · model")


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
    return Snapshot(rows, min_score, connections)


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
    return text


def _when(stamp) -> str:
    try:
        return datetime.fromisoformat(str(stamp)).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return ""
