"""Templates as a person reads them: the plain text the Publish preview, "Yours" and `mirari templates
show` print instead of raw JSON. Every value is shown as text (the widgets that show it are plain-text
ones); nothing here interprets it.

    Writer's pack
    Public · category: writing
    Concise answers for technical writing.

    Skills (1), each shared with its name, description, category and prompt:
      • Summarise — Short summaries (writing)
          Answer in three bullet points.

    Memory (2), each shared with its fact, category and strength:
      • Prefers metric units (preference, 0.80)
      • Works in Python (fact, 0.60)
"""

from __future__ import annotations

from typing import Any

PROMPT_LINES = 12  # a prompt longer than this is cut in the text (the whole of it is still shared)


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _items(payload: Any, key: str) -> list[dict]:
    items = payload.get(key) if isinstance(payload, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _strength(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) and not isinstance(value, bool) else "no strength"


def _prompt_lines(prompt: Any) -> list[str]:
    lines = [line.rstrip() for line in prompt.splitlines()] if isinstance(prompt, str) else []
    while lines and not lines[-1]:
        lines.pop()
    shown = lines[:PROMPT_LINES]
    if len(lines) > len(shown):
        shown.append(f"… ({len(lines) - len(shown)} more lines)")
    return ["      " + line if line else "" for line in shown]


def describe_skills(payload: Any, *, prompts: bool, heading: str) -> list[str]:
    skills = _items(payload, "skills")
    lines = [f"Skills ({len(skills)}){heading}" if skills else "No skills."]
    for skill in skills:
        line = "  • " + (_text(skill.get("name")) or "(no name)")
        if _text(skill.get("description")):
            line += " — " + _text(skill.get("description"))
        if _text(skill.get("category")):
            line += f" ({_text(skill.get('category'))})"
        lines.append(line)
        named = skill.get("tools")
        tools = [_text(t) for t in named if isinstance(t, str)] if isinstance(named, list) else []
        if tools:  # names only: installing them enables nothing on this device
            lines.append("      needs tools: " + ", ".join(tools[:32]))
        if prompts:
            lines += _prompt_lines(skill.get("template_prompt"))
    return lines


def describe_memory(payload: Any, *, strengths: bool, heading: str) -> list[str]:
    memory = _items(payload, "seed_memory")
    lines = [f"Memory ({len(memory)}){heading}" if memory else "No memory."]
    for node in memory:
        detail = [_text(node.get("category")) or "fact"] + ([_strength(node.get("strength"))] if strengths else [])
        lines.append(f"  • {_text(node.get('label')) or '(no label)'} ({', '.join(detail)})")
    return lines


def describe_template(document: dict, *, status: str | None = None) -> str:
    """A template document (`agent.templates.publish.preview()`: name, description, category, is_public, payload)
    as text: what a publish shares, field by field. `status` replaces the visibility line (e.g. "Public ·
    12 installs · waiting to sync")."""
    payload = document.get("payload")
    visibility = "Public" if document.get("is_public") else "Private"
    category = _text(document.get("category"))
    lines = [_text(document.get("name")) or "(no name)",
             status or (visibility + (f" · category: {category}" if category else " · no category")),
             _text(document.get("description")) or "No description.", ""]
    lines += describe_skills(payload, prompts=True, heading=", each shared with its name, description, category "
                                                            "and prompt:")
    lines.append("")
    lines += describe_memory(payload, strengths=True, heading=", each shared with its fact, category and strength:")
    return "\n".join(lines)
