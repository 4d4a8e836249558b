"""Asking a model for JSON, and never trusting what comes back.

    draft = ask_json(client, messages, validate_draft, cancel=ctx.cancel)

1. The request asks for `response_format: {"type": "json_object"}`; an endpoint that refuses the
   field (HTTP 400/422, as llama.cpp builds and some proxies do) is asked again without it.
2. The reply is parsed tolerantly: plain JSON, JSON inside ``` fences, or the first balanced
   {...}/[...] in prose around it. A value the server could not store or a field could not use —
   NaN, Infinity, 1e400, a huge integer, U+0000 or a lone surrogate (`\u0000`, `\ud800` escapes) —
   makes the reply invalid like any other malformed answer (agent.storable.json_value_problem).
3. `validate(value)` turns it into the caller's type or raises `Invalid` with one sentence that a
   model can act on (which field, what limit).
4. On failure exactly ONE repair request follows, quoting the problem. If that fails too,
   `StructuredOutputError` says what was wrong; the caller stores nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from agent.jobs import JobCancelled
from agent.llm import errors
from agent.llm.client import CancelToken, LLMClient
from agent.llm.errors import LLMError
from agent.storable import json_value_problem, text_problem

T = TypeVar("T")

JSON_FORMAT = {"type": "json_object"}
_FENCE = re.compile(r"```[ \t]*(?:json|JSON|javascript|js)?[ \t]*\n?(.*?)```", re.DOTALL)
MAX_REPLY_CHARS = 400_000  # a reply longer than this is not parsed at all
REPAIR_INSTRUCTION = ("Your previous reply could not be used: {problem} Answer again with only the "
                      "corrected JSON, no commentary and no code fences.")


class Invalid(ValueError):
    """The value does not satisfy the expected shape; the message is shown to the model and the user."""


class StructuredOutputError(Exception):
    """The model did not produce usable JSON, even after one repair request. Nothing was stored."""

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw


def extract_json(text: str) -> Any:
    """The JSON value in a model's reply: the whole text, a fenced block, or the first balanced span."""
    if text is None or not text.strip():
        raise Invalid("The reply was empty.")
    if len(text) > MAX_REPLY_CHARS:
        raise Invalid(f"The reply is {len(text):,} characters long; expected a short JSON object.")
    stripped = text.strip()
    candidates = [stripped, *(m.group(1).strip() for m in _FENCE.finditer(text))]
    span = _balanced_span(stripped)
    if span:
        candidates.append(span)
    last_error = None
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (ValueError, RecursionError) as exc:
            last_error = exc
            continue
        problem = json_value_problem(value)
        if problem:
            raise Invalid(f"The reply cannot be used: {problem}")
        return value
    detail = f" ({last_error})" if isinstance(last_error, json.JSONDecodeError) else ""
    raise Invalid(f"The reply is not valid JSON{detail}.")


def _balanced_span(text: str) -> str | None:
    """The first {...} or [...] whose brackets balance (strings and escapes respected)."""
    found = re.search(r"[{\[]", text)
    if found is None:
        return None
    start = found.start()
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return text[start:index + 1]
    return None


def ask_json(client: LLMClient, messages: Sequence[dict], validate: Callable[[Any], T], *,
             cancel: CancelToken | None = None, temperature: float = 0.2,
             max_tokens: int | None = None, on_attempt: Callable[[int], None] | None = None) -> T:
    """Send `messages`, parse and validate the reply; one repair request; else StructuredOutputError.

    LLMError (network, HTTP) propagates as is; a cancel raises JobCancelled.
    """
    cancel = cancel or CancelToken()
    conversation = list(messages)
    state = {"format": True}
    raw = _complete(client, conversation, cancel, temperature, max_tokens, state)
    if on_attempt:
        on_attempt(1)
    try:
        return validate(extract_json(raw))
    except Invalid as problem:
        first_problem = str(problem)
    conversation += [{"role": "assistant", "content": raw[:20_000]},
                     {"role": "user", "content": REPAIR_INSTRUCTION.format(problem=first_problem)}]
    raw = _complete(client, conversation, cancel, temperature, max_tokens, state)
    if on_attempt:
        on_attempt(2)
    try:
        return validate(extract_json(raw))
    except Invalid as problem:
        raise StructuredOutputError(
            f"The model's reply could not be used, even after one repair request: {problem} "
            "Nothing was stored; try again or pick another connection.", raw) from None


def _complete(client: LLMClient, messages: list[dict], cancel: CancelToken, temperature: float,
              max_tokens: int | None, state: dict) -> str:
    while True:
        try:
            text = "".join(client.stream_chat(messages, temperature=temperature, max_tokens=max_tokens,
                                              cancel=cancel,
                                              response_format=JSON_FORMAT if state["format"] else None))
        except LLMError as err:
            if state["format"] and err.kind == errors.HTTP and err.status in (400, 415, 422):
                state["format"] = False  # the endpoint does not take response_format: ask plainly
                continue
            raise
        if cancel.cancelled:
            raise JobCancelled()
        return text


# -- small validators shared by the rites ------------------------------------------------------------
def require_object(value: Any, what: str = "The reply") -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"{what} must be a JSON object, not {type(value).__name__}.")
    return value


def text_field(obj: dict, key: str, *, limit: int, required: bool = True, default: str = "") -> str:
    """A string field, trimmed; Invalid if missing (when required), not a string, or over `limit`."""
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid(f'The field "{key}" is missing or empty.')
        return default
    if not isinstance(value, str):
        raise Invalid(f'The field "{key}" must be a string.')
    problem = text_problem(value)
    if problem:  # typed or pasted by a person (the model's JSON is checked as a whole in extract_json)
        raise Invalid(f'The field "{key}": {problem}.')
    value = value.strip()
    if len(value) > limit:
        raise Invalid(f'The field "{key}" is {len(value):,} characters long; the limit is {limit:,}.')
    return value


def list_field(obj: dict, key: str, *, max_items: int, required: bool = True) -> list:
    value = obj.get(key)
    if value is None:
        if required:
            raise Invalid(f'The field "{key}" is missing; it must be a list.')
        return []
    if not isinstance(value, list):
        raise Invalid(f'The field "{key}" must be a list.')
    if len(value) > max_items:
        raise Invalid(f'The field "{key}" has {len(value)} items; at most {max_items} are allowed.')
    return value
