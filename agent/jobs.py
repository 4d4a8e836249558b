"""What a long job needs from whoever runs it: a way to report progress and to notice cancellation.

Long jobs (skill tests, Mirror reviews, dreams) are plain functions `fn(ctx: JobContext) -> result`
in `agent/`, with no Qt: the window runs them on `desktop.jobs.JobRunner` (a queue, Cancel, a
progress bar), the command line runs them directly with `run_headless`, and tests call them with a
context of their own. A job calls `ctx.progress(done, total, text)` as it goes and `ctx.check()`
between steps (and hands `ctx.cancel` to LLM calls so Cancel also aborts a request in flight).
`check()` raises `JobCancelled`; a job that is cancelled stores nothing half-done.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from agent.llm.client import CancelToken

T = TypeVar("T")

# progress(done, total, text): `total` 0 means "unknown" (a busy indicator instead of a bar)
ProgressFn = Callable[[int, int, str], None]


def _cancel_token() -> CancelToken:
    # Imported when a job is made, not with this module: the window imports it at start-up, and the
    # LLM client brings httpx (~0.5 s of imports before the first paint on a loaded 2-core machine).
    from agent.llm.client import CancelToken

    return CancelToken()


class JobCancelled(Exception):
    """The job was cancelled; whatever it had not stored yet is dropped."""

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)


@dataclass
class JobContext:
    """Handed to a running job. Thread-safe: `cancel` may be set from any thread."""

    cancel: CancelToken = field(default_factory=lambda: _cancel_token())
    on_progress: ProgressFn | None = None
    # A pause switch for jobs that can wait (Dream Mode pauses on user input): set = may run.
    _running: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._running.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel.cancelled

    def check(self) -> None:
        """Raise JobCancelled if cancelled; block while paused (until resumed or cancelled)."""
        while not self._running.is_set():
            if self.cancel.cancelled:
                break
            self._running.wait(0.1)
        if self.cancel.cancelled:
            raise JobCancelled()

    def progress(self, done: int, total: int = 0, text: str = "") -> None:
        self.check()
        if self.on_progress is not None:
            self.on_progress(done, total, text)

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()


def run_headless(fn: Callable[[JobContext], T], *, show_progress: bool = False) -> T:
    """Run a job on this thread (the command line): progress to stderr if asked, Ctrl+C cancels."""

    def report(done: int, total: int, text: str) -> None:
        where = f"{done}/{total}" if total else f"{done}"
        print(f"[{where}] {text}", file=sys.stderr, flush=True)

    ctx = JobContext(on_progress=report if show_progress else None)
    try:
        return fn(ctx)
    except KeyboardInterrupt:
        ctx.cancel.cancel()
        raise


def describe(result: Any) -> str:
    """A one-line summary for a finished job's notice (jobs may return an object with `summary`)."""
    summary = getattr(result, "summary", None)
    if callable(summary):
        summary = summary()
    return str(summary) if summary else "Done."
