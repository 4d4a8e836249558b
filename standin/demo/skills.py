"""Demo skills for screenshots and manual checks: one or two in every stage of the pipeline, with test
cases, and real test results obtained by running them against a fake endpoint (standin/model)
that follows a skill when its prompt is in the system message.

Everything goes through agent.skills.forge / agent.skills.runner, the same functions the page uses.
"""

from __future__ import annotations

SKILLS = [
    # name, category, description, template prompt, test cases, final status
    ("Bullet summaries", "writing", "When the user asks for a summary of a text.",
     "Summarise as 3–5 short bullets starting with •. No introduction, no conclusion.",
     [{"prompt": "Summarise: SQLite WAL lets readers continue while a writer appends.",
       "expectations": [{"kind": "contains", "value": "•"}, {"kind": "max_chars", "value": 300}]},
      {"prompt": "Summarise the plot of Hamlet.",
       "expectations": [{"kind": "regex", "value": "^• "}, {"kind": "not_contains", "value": "In conclusion"}]},
      {"prompt": "Summarise: tea is nice.", "expectations": [{"kind": "contains", "value": "•"}]}],
     "promoted"),
    ("Cite sources", "research", "Factual answers name where the facts come from.",
     "When you state a fact, end the sentence with its source in square brackets, e.g. [RFC 9110].",
     [{"prompt": "What does HTTP status 429 mean?", "expectations": [{"kind": "regex", "value": r"\[[^\]]+\]"}]},
      {"prompt": "When was SQLite first released?", "expectations": [{"kind": "contains", "value": "["}]},
      {"prompt": "Say hello.", "expectations": [{"kind": "max_chars", "value": 40}]}],
     "testing"),
    ("JSON for tools", "coding", "Replies that a script will parse.",
     "When the user asks for data, answer with a single JSON object and nothing else.",
     [{"prompt": "Give me three fruit names as data.", "expectations": [{"kind": "is_json"}]}],
     "accepted"),
    ("Plain language", "style", "Explanations for non-specialists.",
     "Explain without jargon; define any technical term in one short sentence.", [], "suggested"),
    ("Weekly planning", "productivity", "Helps plan the week around focus time.",
     "When asked to plan, propose at most three priorities and protect mornings for deep work.",
     [{"prompt": "Plan my week.", "expectations": [{"kind": "contains", "value": "morning"}]}], "suggested"),
    ("Socratic tutor", "teaching", "Answers questions with guiding questions.",
     "Do not give answers directly; ask one guiding question at a time.",
     [{"prompt": "What is 7 × 8?", "expectations": [{"kind": "contains", "value": "?"}]}], "archived"),
]

REPLIES = {  # what the fake endpoint answers when the skill's prompt is in the system message
    "Bullet summaries": "• WAL keeps readers going\n• one writer appends\n• checkpoints fold it back",
    "Cite sources": "429 means Too Many Requests [RFC 6585]. SQLite appeared in 2000 [sqlite.org].",
    "JSON for tools": '{"fruits": ["apple", "pear", "plum"]}',
    "Socratic tutor": "What is 7 × 7, and what do you add to it?",
}
PLAIN_REPLY = ("Sure! Here is a detailed answer in plain prose, as I would normally give it • "
               "with a morning focus block.")


def responder(request) -> str:
    """Answer like a model that follows whichever demo skill is in the system message."""
    system = next((m.get("content", "") for m in request.messages if m.get("role") == "system"), "")
    for name, _category, _description, prompt, _cases, _status in SKILLS:
        if prompt in system and name in REPLIES:
            return REPLIES[name]
    return PLAIN_REPLY


def build_demo_skills(db, connection_id: str) -> dict[str, str]:
    """Create the demo skills (the connection must answer through `responder`); returns ids by name."""
    from agent.skills.forge import SkillDraft, create_suggested, edit_skill, move_skill
    from agent.skills.runner import run_skill_tests

    path = {"suggested": [], "accepted": ["accepted"], "testing": ["accepted", "testing"],
            "promoted": ["accepted", "testing", "promoted"],
            "archived": ["accepted", "testing", "promoted", "archived"]}
    ids = {}
    for name, category, description, prompt, cases, status in SKILLS:
        skill = create_suggested(db, SkillDraft(name, prompt, description, category, cases))
        ids[name] = skill.id
        for step in path[status]:
            if step == "testing":
                run_skill_tests(db, skill.id, connection_id, "", runs=2)
            move_skill(db, skill.id, step, min_score=0.5)
    # A promoted skill whose prompt was refined once: version 2, its last test run still current.
    edit_skill(db, ids["Bullet summaries"], template_prompt=SKILLS[0][3] + " Keep each bullet under 12 words.")
    run_skill_tests(db, ids["Bullet summaries"], connection_id, "", runs=2)
    return ids
