"""The per-dream budget: requests and characters sent, enforced before each request is made.

`BudgetedClient` wraps an LLMClient (same `stream_chat`, so `ask_json` and plain calls both go
through it). When the next request would go past either limit it raises `BudgetExhausted` without
sending anything; the dream then ends with a partial report that says so.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


class BudgetExhausted(Exception):
    """The dream's budget does not allow the next request."""


@dataclass
class Budget:
    max_requests: int
    max_chars: int
    requests: int = 0
    chars: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"max_requests": self.max_requests, "max_chars": self.max_chars,
                "requests": self.requests, "chars": self.chars}

    def describe(self) -> str:
        return (f"{self.requests} of {self.max_requests} requests, "
                f"{self.chars:,} of {self.max_chars:,} characters sent")


def message_chars(messages: list[dict]) -> int:
    return sum(len(str(m.get("content") or "")) for m in messages)


class BudgetedClient:
    """An LLMClient that refuses a request the budget cannot pay for."""

    def __init__(self, client: Any, budget: Budget) -> None:
        self._client = client
        self.budget = budget
        self._lock = threading.Lock()

    def _charge(self, messages: list[dict]) -> None:
        size = message_chars(messages)
        with self._lock:
            b = self.budget
            if b.requests + 1 > b.max_requests:
                raise BudgetExhausted(f"the budget of {b.max_requests} requests is used up")
            if b.chars + size > b.max_chars:
                raise BudgetExhausted(f"the next request ({size:,} characters) would pass the budget of "
                                      f"{b.max_chars:,} characters ({b.chars:,} already sent)")
            b.requests += 1
            b.chars += size

    def stream_chat(self, messages: list[dict], **kwargs: Any) -> Iterator[str]:
        self._charge(messages)
        return self._client.stream_chat(messages, **kwargs)

    def complete(self, messages: list[dict], **kwargs: Any) -> str:
        return "".join(self.stream_chat(messages, **kwargs))
