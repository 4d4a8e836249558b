"""Fault injection for tests of clients that must survive a bad network or a flaky server.

Rules match on HTTP method and a prefix of the full request path (e.g. "/rest/v1/messages").
The server thread reads the rules and tests write them, hence the lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class _Rule:
    kind: str  # "drop" | "fail" | "delay"
    method: str
    path_prefix: str
    times: int | None  # None = until cleared
    status: int = 0
    body: object = None
    headers: dict[str, str] | None = None
    seconds: float = 0.0
    hits: int = 0


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []

    # -- test-facing API -----------------------------------------------------------------
    def drop_response_after_commit(self, method: str, path_prefix: str, times: int = 1) -> None:
        """The request's transaction commits, then the connection is aborted without a response."""
        self._add(_Rule("drop", method.upper(), path_prefix, times))

    def fail_next(self, method: str, path_prefix: str, status: int, body: object = None, times: int = 1,
                  headers: dict[str, str] | None = None) -> None:
        """Answer `status` with `body` (JSON-encoded unless bytes/str) before touching the database."""
        self._add(_Rule("fail", method.upper(), path_prefix, times, status=status, body=body, headers=headers))

    def delay(self, method: str, path_prefix: str, seconds: float, times: int | None = None) -> None:
        """Sleep `seconds` before handling each matching request (every one until cleared, or `times`)."""
        self._add(_Rule("delay", method.upper(), path_prefix, times, seconds=seconds))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def hits(self, kind: str | None = None) -> int:
        """How many requests the rules have fired on (for asserting a fault really happened)."""
        with self._lock:
            return sum(r.hits for r in self._rules if kind in (None, r.kind))

    # -- server-facing -------------------------------------------------------------------
    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def take(self, kind: str, method: str, path: str) -> _Rule | None:
        """The first live rule of `kind` matching the request, counting one use of it."""
        with self._lock:
            for rule in self._rules:
                if (rule.kind == kind and rule.method in (method, "*") and path.startswith(rule.path_prefix)
                        and (rule.times is None or rule.hits < rule.times)):
                    rule.hits += 1
                    return rule
        return None
