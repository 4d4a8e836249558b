"""Dream Mode settings: a small JSON file in the data dir, shared by the window and `mirari dream`.

Kept beside the database (not in the window's QSettings) so the headless command honours the same
budget as the window, and a `--data-dir` profile is whole. Written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from local_schema import settings_file
from local_schema.settings_file import clamp

FILE_NAME = "dream.json"


@dataclass
class DreamSettings:
    enabled: bool = True  # automatic dreams; `mirari dream run` and "Dream now" work either way
    connection_id: str = ""  # the dreaming connection; none chosen = no automatic dream
    idle_minutes: int = 10  # no input in the window for this long
    min_new_messages: int = 20  # ... and this many new messages since the last dream,
    max_interval_hours: int = 24  # ... or this long since the last dream
    max_requests: int = 30  # per dream: requests to the endpoint
    max_chars: int = 150_000  # per dream: characters sent
    replay_turns: int = 5  # Replay re-answers this many recent user turns

    def validated(self) -> DreamSettings:
        """Clamp every number into a sane range (a hand-edited file must not make a runaway dream)."""
        d = DreamSettings()
        return DreamSettings(
            enabled=bool(self.enabled),
            connection_id=str(self.connection_id or ""),
            idle_minutes=clamp(self.idle_minutes, 1, 24 * 60, d.idle_minutes),
            min_new_messages=clamp(self.min_new_messages, 1, 100_000, d.min_new_messages),
            max_interval_hours=clamp(self.max_interval_hours, 1, 24 * 30, d.max_interval_hours),
            max_requests=clamp(self.max_requests, 0, 1000, d.max_requests),
            max_chars=clamp(self.max_chars, 0, 10_000_000, d.max_chars),
            replay_turns=clamp(self.replay_turns, 1, 50, d.replay_turns),
        )


def load_settings(data_dir: str | Path) -> DreamSettings:
    return settings_file.load(Path(data_dir) / FILE_NAME, DreamSettings)


def save_settings(data_dir: str | Path, settings: DreamSettings) -> DreamSettings:
    return settings_file.save(Path(data_dir) / FILE_NAME, settings)
