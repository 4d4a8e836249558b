"""The template payload and its checks: the server's own shape and size rules, mirrored exactly.

A template is `name`, `description`, `category`, `is_public` and a payload

    {"skills": [{name, description, category, template_prompt, tools?}],
     "seed_memory": [{label, category, strength}]}

The server (supabase/migrations/…100000_tables.sql, table `templates`) refuses a row unless:
- the payload is an object whose `skills` and `seed_memory` are arrays, every skill an object with a
  string `name`, every seed memory an object with a string `label` (templates_payload_shape);
- at most 200 skills and 2,000 seed memories (templates_payload_items, server migration
  20261206200000: the size limit alone let a template carry 45,000 memories for every installer to write);
- `octet_length(payload::text) <= 1000000` — the size of PostgreSQL's own *jsonb* rendering, which is
  not Python's: `", "` and `": "` separators, numbers in plain notation (`0.00001`, never `1e-05`),
  non-ASCII characters raw (templates_payload_size; see `agent.storable.jsonb_text_size`);
- `name` <= 500, `description` <= 20 000, `category` <= 500 characters (code points).
PostgreSQL text and jsonb cannot hold U+0000 at all, nor can UTF-8 carry a lone surrogate.

What a template brings is copied into the installer's own rows, whose checks are stricter per field,
so a payload must also fit those (skills: name <= 500, a template_prompt — the skill itself — and with
description <= 20 000, category <= 500; memory: label <= 2000, category <= 500, strength in [0, 1]). A payload that
passes here is accepted by the server and installable by anyone. Publish, import and install all use
`template_problems`; nothing here executes or interprets any of the text. A skill's optional `tools` are
"server/tool" names with the bounds of skills.tools (at most 32, each at most 128 characters): installed,
they are only names — MCP servers are configured per device, so nothing is enabled or run.
"""

from __future__ import annotations

import math
from typing import Any

from agent.storable import check_text as _check_text
from agent.storable import jsonb_text_size

PAYLOAD_BYTES_LIMIT = 1_000_000  # templates_payload_size
SKILLS_LIMIT = 200  # templates_payload_items: skills per template
MEMORY_LIMIT = 2_000  # ... and seed memories per template
NAME_LIMIT = 500
DESCRIPTION_LIMIT = 20_000
CATEGORY_LIMIT = 500
SKILL_NAME_LIMIT = 500
SKILL_TEXT_LIMIT = 20_000  # skills.description and skills.template_prompt
LABEL_LIMIT = 2000  # memory_nodes.label


class TemplateInvalid(ValueError):
    """The template breaks a rule; `problems` lists every one, str() is a one-line summary."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" \
            if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}" if problems else "invalid template")


# --- the rules --------------------------------------------------------------------------------------------
def _text_problem(where: str, value: Any, limit: int, *, required: bool = False) -> str | None:
    if value is None:
        return f"{where} is missing" if required else None
    if not isinstance(value, str):
        return f"{where} must be text, not {_kind(value)}"
    if required and not value.strip():
        return f"{where} is empty"
    if len(value) > limit:
        return f"{where} is longer than {limit:,} characters ({len(value):,})"
    try:
        _check_text(value)
    except ValueError as exc:
        return f"{where}: {exc}"
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _skill_problems(index: int, skill: Any) -> list[str]:
    where = f"skills[{index}]"
    if not isinstance(skill, dict):
        return [f"{where} must be an object with a name, not {_kind(skill)}"]
    found = [_text_problem(f"{where}.name", skill.get("name"), SKILL_NAME_LIMIT, required=True),
             _text_problem(f"{where}.description", skill.get("description"), SKILL_TEXT_LIMIT),
             _text_problem(f"{where}.category", skill.get("category"), CATEGORY_LIMIT),
             # Not required by the server's check, but a skill is its prompt: the Forge refuses one without.
             _text_problem(f"{where}.template_prompt", skill.get("template_prompt"), SKILL_TEXT_LIMIT,
                           required=True),
             _tools_problem(f"{where}.tools", skill.get("tools"))]
    return [p for p in found if p]


def _tools_problem(where: str, value: Any) -> str | None:
    if value is None:
        return None
    from agent.skills.forge import SkillError
    from agent.skills.tools import validate_tool_names

    try:
        validate_tool_names(value)
    except SkillError as problem:
        return f"{where}: {problem}"
    return None


def _memory_problems(index: int, node: Any) -> list[str]:
    where = f"seed_memory[{index}]"
    if not isinstance(node, dict):
        return [f"{where} must be an object with a label, not {_kind(node)}"]
    found = [_text_problem(f"{where}.label", node.get("label"), LABEL_LIMIT, required=True),
             _text_problem(f"{where}.category", node.get("category"), CATEGORY_LIMIT)]
    strength = node.get("strength")
    if strength is not None:
        if isinstance(strength, bool) or not isinstance(strength, int | float):
            found.append(f"{where}.strength must be a number from 0 to 1, not {_kind(strength)}")
        elif not (math.isfinite(strength) and 0 <= strength <= 1):
            found.append(f"{where}.strength must be from 0 to 1 (it is {strength})")
    return [p for p in found if p]


def payload_problems(payload: Any) -> list[str]:
    """Every rule the payload breaks (empty when the server and every installer will accept it)."""
    if not isinstance(payload, dict):
        return [f"the payload must be an object, not {_kind(payload)}"]
    problems: list[str] = []
    lists = {}
    for key in ("skills", "seed_memory"):
        value = payload.get(key)
        if not isinstance(value, list):
            problems.append(f"the payload's {key!r} must be a list, not {_kind(value)}"
                            if key in payload else f"the payload has no {key!r} list")
        else:
            lists[key] = value
    for key, limit, what in (("skills", SKILLS_LIMIT, "skills"), ("seed_memory", MEMORY_LIMIT, "memories")):
        if len(lists.get(key, ())) > limit:
            problems.append(f"the template has {len(lists[key]):,} {what}; a template holds at most {limit:,}")
    for i, skill in enumerate(lists.get("skills", [])):
        problems.extend(_skill_problems(i, skill))
    for i, node in enumerate(lists.get("seed_memory", [])):
        problems.extend(_memory_problems(i, node))
    try:
        size = jsonb_text_size(payload)
    except ValueError as exc:
        problems.append(f"the payload cannot be stored: {exc}")
    except RecursionError:
        problems.append("the payload is nested too deeply")
    else:
        if size > PAYLOAD_BYTES_LIMIT:
            problems.append(f"the payload is {size:,} bytes; templates are limited to {PAYLOAD_BYTES_LIMIT:,}")
    return problems


def template_problems(name: Any, description: Any, category: Any, payload: Any,
                      is_public: Any = False) -> list[str]:
    """Every rule a template breaks: its own columns, then its payload."""
    problems = [p for p in (
        _text_problem("the name", name, NAME_LIMIT, required=True),
        _text_problem("the description", description, DESCRIPTION_LIMIT),
        _text_problem("the category", category, CATEGORY_LIMIT),
    ) if p]
    if not isinstance(is_public, bool):
        problems.append(f"is_public must be true or false, not {_kind(is_public)}")
    return problems + payload_problems(payload)


def validate_template(name: Any, description: Any, category: Any, payload: Any, is_public: Any = False) -> None:
    problems = template_problems(name, description, category, payload, is_public)
    if problems:
        raise TemplateInvalid(problems)


def validate_payload(payload: Any) -> None:
    problems = payload_problems(payload)
    if problems:
        raise TemplateInvalid(problems)


# --- building -------------------------------------------------------------------------------------------
def skill_entry(name: str, description: str | None, category: str | None, template_prompt: str | None,
                tools: list[str] | tuple = ()) -> dict:
    """What a skill shares: these fields and nothing else (no status, score, ids or owner); `tools` (names
    only) when it names any, so a skill without tools shares exactly what it shared before."""
    entry = {"name": name, "description": description, "category": category, "template_prompt": template_prompt}
    return {**entry, "tools": list(tools)} if tools else entry


def memory_entry(label: str, category: str | None, strength: float) -> dict:
    """What a memory node shares: its text, category and strength (never its source or ids)."""
    return {"label": label, "category": category, "strength": round(float(strength), 4)}


def build_payload(skills: list[dict], seed_memory: list[dict]) -> dict:
    return {"skills": list(skills), "seed_memory": list(seed_memory)}
