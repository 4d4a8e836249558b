"""What the server can store, checked before anything is stored here: text, JSON numbers, jsonb size.

PostgreSQL `text` and `jsonb` cannot hold U+0000 at all, and UTF-8 cannot carry a lone surrogate
(half of a UTF-16 pair, which JSON's `\\ud800` escape and a broken stream can produce). A row holding
either is stored in the local mirror, then refused by the server on every push, and parks the rows
that depend on it. Numbers: jsonb has no NaN or infinity, and a model's `1e400` parses as infinity.

- `text_problem` / `check_text`: the one check every outside text gets (templates, skills, the model's
  structured answers).
- `clean_text` / `StreamCleaner`: the chat stream cleans instead of refusing (a reply is not thrown
  away for one bad character): NUL is dropped, a split surrogate pair is joined, a lone half becomes
  U+FFFD, the replacement character.
- `json_value_problem`: a parsed JSON value that holds something of the above, or a number no field
  can use (not finite, or an integer beyond ±2^53).
- `jsonb_text_size`: `octet_length(value::jsonb::text)`, as the server's size checks count it.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

REPLACEMENT = "\ufffd"
MAX_JSON_INT = 2 ** 53  # beyond this a JSON number loses its digits in most readers; no field needs more


# --- text -------------------------------------------------------------------------------------------------
def text_problem(text: str) -> str | None:
    """Why the server cannot store `text` (one clause, lower case), or None."""
    if "\x00" in text:
        return "a text contains the NUL character (U+0000), which the server cannot store"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a text contains an unpaired surrogate, which is not valid Unicode"
    return None


def check_text(text: str) -> None:
    """ValueError (the clause of `text_problem`) for a text the server cannot store."""
    problem = text_problem(text)
    if problem:
        raise ValueError(problem)


def clean_text(text: str) -> str:
    """`text` without NUL; surrogate pairs joined into their character, lone halves replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 round trip: a high+low pair becomes the character it encodes, a lone half U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _is_high_surrogate(ch: str) -> bool:
    return "\ud800" <= ch <= "\udbff"


class StreamCleaner:
    """`clean_text` for a text that arrives in pieces: a high surrogate at the end of one piece waits
    for the next, which may start with its low half (an emoji split across two streamed events)."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        self._held = ""
        if text and _is_high_surrogate(text[-1]):
            text, self._held = text[:-1], text[-1]
        return clean_text(text)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return clean_text(held)


# --- parsed JSON ------------------------------------------------------------------------------------------
def json_value_problem(value: Any) -> str | None:
    """Why a parsed JSON value cannot be used or stored (one sentence), or None. Iterative: any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return "A number in it is NaN, Infinity or too large to represent (like 1e400)."
        elif isinstance(item, int):
            if abs(item) > MAX_JSON_INT:
                return f"A number in it ({_digits(item)}) is too large; numbers must stay within ±2^53."
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return _sentence(problem)
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and text_problem(key):
                    return _sentence(text_problem(key).replace("a text", "a key"))
                stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def _digits(number: int) -> str:
    text = str(abs(number)) if number.bit_length() < 4000 else ""
    return f"{len(text)} digits" if text else "thousands of digits"


def _sentence(clause: str) -> str:
    return clause[0].upper() + clause[1:] + "."


# --- PostgreSQL's jsonb text, measured --------------------------------------------------------------------
def _number_text(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    # What we send is Python's repr (json.dumps); numeric_in keeps its digits and scale, and numeric_out
    # writes them without an exponent. PostgreSQL's numeric has no negative zero.
    text = format(Decimal(repr(value)), "f")
    return text.lstrip("-") if Decimal(text) == 0 else text


def _string_size(text: str) -> int:
    size = 2  # the quotes
    for ch in text:
        code = ord(ch)
        if ch in '"\\' or ch in "\b\f\n\r\t":
            size += 2
        elif code < 0x20:
            size += 6  # \u00XX
        else:
            size += 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    return size


def jsonb_text_size(value: Any) -> int:
    """`octet_length(value::jsonb::text)`, computed without a server. Raises ValueError for what jsonb
    cannot store (NaN, infinities, U+0000, lone surrogates, keys that are not strings, other types)."""
    stack = [value]
    size = 0
    while stack:
        item = stack.pop()
        if item is None or item is True:
            size += 4
        elif item is False:
            size += 5
        elif isinstance(item, int | float):
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError("a number is not finite (NaN or infinity)")
            size += len(_number_text(item))
        elif isinstance(item, str):
            check_text(item)
            size += _string_size(item)
        elif isinstance(item, dict):
            size += 2 + max(0, len(item) - 1) * 2  # {} and ", "
            for key, child in item.items():
                if not isinstance(key, str):
                    raise ValueError("an object key is not a string")
                check_text(key)
                size += _string_size(key) + 2  # ": "
                stack.append(child)
        elif isinstance(item, list | tuple):
            size += 2 + max(0, len(item) - 1) * 2
            stack.extend(item)
        else:
            raise ValueError(f"a value of type {type(item).__name__} is not JSON")
    return size
