"""Demo data for the Observatory, Tasks and Templates screenshots: two weeks of activity (messages and
new skills on most days), a few tasks in every column, two published templates and one installed
from a file. Used by scripts/screenshots.py; everything goes through the same agent functions as the app.
"""

from __future__ import annotations

import json
import random
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from standin.demo.seed import add_thread, long_messages

TASKS = [
    ("Compare Hermes 3 70B with the local 8B on the retry question", "done", "hermes"),
    ("Write the system prompt for the work gateway", "in_progress", "work"),
    ("Review last week's Mirror report", "in_progress", None),
    ("Try the metric-units memory on a cooking question", "pending", "hermes"),
    ("Export the planning thread for the team", "pending", None),
    ("Promote “Cite sources” once it scores 0.7", "pending", None),
]

FRIEND_TEMPLATE = {
    "format": "mirari-template", "version": 1, "id": "7d9c1f52-3a8e-4b6f-9d21-5e4c3b2a1f09",
    "name": "Careful reviewer", "description": "Reviews code and text with a checklist.", "category": "review",
    "payload": {"skills": [{"name": "Checklist review", "description": "Goes through a fixed checklist",
                            "category": "review", "template_prompt": "Review against: correctness, clarity, "
                                                                     "tests, naming. One line each."}],
                "seed_memory": [{"label": "Wants reviews as short checklists", "category": "style",
                                 "strength": 0.8}]},
}


def add_history(db, connection_id: str, days: int = 14, seed: int = 3) -> None:
    """Threads on most of the last `days` days, a busier middle of the week, and new skills on some."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    for back in range(days - 1, 0, -1):
        if back % 6 == 5:
            continue  # a quiet day
        size = 2 * rng.randint(3, 18) + (24 if back % 7 in (2, 3) else 0)
        start = now - timedelta(days=back, hours=rng.uniform(1, 8))
        add_thread(db, f"Session {days - back}", long_messages(size), connection_id, start=start)
    with db.write() as s:
        for back in (12, 9, 8, 4, 1):
            s.execute(text("UPDATE skills SET created_at = :t WHERE id = (SELECT id FROM skills "
                           "WHERE created_at > :recent ORDER BY created_at LIMIT 1)"),
                      {"t": (now - timedelta(days=back, hours=2)).isoformat(timespec="microseconds"),
                       "recent": (now - timedelta(hours=1)).isoformat(timespec="microseconds")})


def add_tasks(db, ids: dict[str, str]) -> None:
    from agent.tasks.board import add_task

    for title, status, connection in TASKS:
        add_task(db, title, connection_id=ids.get(connection) if connection else None, status=status)


def add_templates(db) -> dict[str, str]:
    """Two templates of the user's own (one public) and one installed from a friend's file."""
    from sqlmodel import select

    from agent.templates.install import import_file
    from agent.templates.publish import publish
    from local_schema.models import MemoryNode, Skill

    with db.session() as s:
        skills = {k.name: k.id for k in s.exec(select(Skill)).all()}
        nodes = [n.id for n in s.exec(select(MemoryNode)).all()]
    names = list(skills)
    writer = publish(db, "Concise technical writer", "Short answers with sources, in metric units.", "writing",
                     [skills[n] for n in names[:2]], nodes[:2], is_public=True)
    private = publish(db, "My planning habits", None, "planning", [skills[names[-1]]], nodes[2:3])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "careful-reviewer.mirari-template.json"
        path.write_text(json.dumps(FRIEND_TEMPLATE), encoding="utf-8")
        friend = import_file(db, path)
    return {"writer": writer.id, "private": private.id, "friend": friend.template_id,
            "skill_ids": [skills[n] for n in names[:2]], "node_ids": nodes[:2], "_": str(uuid.uuid4())}
