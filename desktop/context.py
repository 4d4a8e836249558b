"""What every screen shares: the data dir, the open database, GUI settings and the key store.

Passed explicitly to each page (no global `mw` as in Anki), so tests can build any page on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.settings_store import AppSettings


@dataclass
class AppContext:
    data_dir: Path
    settings: AppSettings
    db: Any = None  # local_schema.database.LocalDatabase once opened
    secrets: Any = None  # agent.secrets store
    app_lock: Any = None  # sync.accounts.app_lock, held while the database is open
    extras: dict = field(default_factory=dict)
