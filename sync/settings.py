"""config.json, the settings shared by the window and the command line: one reader, one writer.

Each part of the app owns a section — `supabase` (sync.config), `skills` (agent.skills.settings),
`mirror` (agent.mirror.settings) — and keeps its own validation; all of them read and write through here.
A write is a read-modify-write of the whole file, so two processes (the window and `mirari config set`,
or the window saving the review budget while the CLI saves the promotion threshold) would otherwise drop
each other's change: `update_section` holds a lock file (`config.json.lock`) while it reads the file
again, changes its one section and writes the file atomically (local_schema.atomic).

The window's own layout (geometry, theme, the page shown) is not here: that is desktop.ini
(desktop/settings_store.py). Files of their own: dream.json, attachments.json, backup.json, account.json.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from local_schema.atomic import atomic_write_json
from sync.errors import ConfigError
from sync.filelock import FileLock, LockTimeout

CONFIG_FILE = "config.json"
LOCK_TIMEOUT = 10.0  # seconds; a write holds the lock for milliseconds


def config_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / CONFIG_FILE


def read_config(data_dir: str | Path) -> dict:
    """The whole file ({} when there is none). ConfigError when it cannot be read or is not an object."""
    import json

    path = config_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} does not contain a JSON object; fix or remove it")
    return data


def read_section(data_dir: str | Path, name: str) -> dict:
    """One section ({} when absent or not an object). ConfigError as `read_config`."""
    section = read_config(data_dir).get(name)
    return dict(section) if isinstance(section, dict) else {}


def update_section(data_dir: str | Path, name: str, change: Callable[[dict], dict]) -> dict:
    """Replace section `name` with `change(current section)`, keeping every other section as it is on
    disk at that moment (read under the lock, not before). Returns the new section."""
    path = config_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path.with_name(CONFIG_FILE + ".lock"))
    try:
        lock.acquire(LOCK_TIMEOUT)
    except LockTimeout:
        raise ConfigError(f"{path} is being written by another MIRARI process; try again") from None
    try:
        data = read_config(data_dir)
        current = data.get(name)
        section = change(dict(current) if isinstance(current, dict) else {})
        data[name] = section
        atomic_write_json(path, data)
        return section
    finally:
        lock.release()
