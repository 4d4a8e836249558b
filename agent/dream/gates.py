"""When may the agent dream by itself? Every gate is a plain function of facts, so tests can drive
them with a fixed clock and idle time, and the window shows the reason it is not dreaming.

A dream starts only when ALL hold: dreaming is on; a dreaming connection is chosen, exists and its
key is available; the window has had no input for `idle_minutes`; no reply is streaming; no other
dream runs; there is enough new material since the last dream (>= `min_new_messages` new messages,
or `max_interval_hours` passed; before the first dream, any message); and the budget allows at least one request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.dream.settings import DreamSettings


@dataclass(frozen=True)
class DreamFacts:
    """What the window knows right now."""

    now: datetime
    idle_seconds: float  # since the last keyboard/mouse input in the window
    streaming: bool  # a Console reply is being written
    dreaming: bool  # a dream is already running (or paused)
    connection_exists: bool
    key_available: bool  # the connection's key can be read (or it needs none)
    new_messages: int  # messages created since the last dream started
    last_dream_at: datetime | None  # when the last dream started; None = never


def blocking_reasons(settings: DreamSettings, facts: DreamFacts) -> list[str]:
    """Why an automatic dream may not start now; empty = it may."""
    reasons = []
    if not settings.enabled:
        reasons.append("Dreaming is turned off.")
    if not settings.connection_id:
        reasons.append("No dreaming connection is chosen.")
    elif not facts.connection_exists:
        reasons.append("The dreaming connection no longer exists.")
    elif not facts.key_available:
        reasons.append("The dreaming connection's API key is not available (locked or missing).")
    idle_needed = settings.idle_minutes * 60
    if facts.idle_seconds < idle_needed:
        left = max(1, round((idle_needed - facts.idle_seconds) / 60))
        reasons.append(f"You were active recently (waits for {settings.idle_minutes} idle minutes; "
                       f"about {left} to go).")
    if facts.streaming:
        reasons.append("A reply is being written.")
    if facts.dreaming:
        reasons.append("A dream is already running.")
    if not enough_material(settings, facts):
        reasons.append(f"Not enough new material ({facts.new_messages} new messages; needs "
                       f"{settings.min_new_messages}, or {settings.max_interval_hours} h since the last dream).")
    if settings.max_requests < 1 or settings.max_chars < 1:
        reasons.append("The dream budget is zero.")
    return reasons


def enough_material(settings: DreamSettings, facts: DreamFacts) -> bool:
    if facts.new_messages >= settings.min_new_messages:
        return True
    if facts.last_dream_at is None:
        return facts.new_messages > 0
    return facts.now - facts.last_dream_at >= timedelta(hours=settings.max_interval_hours)
