"""Where the user's Supabase project is: `supabase.url` and `supabase.anon_key`.

Stored in `config.json` in the data dir (other sections of that file are preserved); the environment
(`MIRARI_SUPABASE_URL`, `MIRARI_SUPABASE_ANON_KEY`) overrides the file. The anon key is a public client key,
not a secret, so a plain file is the right place for it; the user's session goes to the keychain.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from local_schema.files import replace
from sync.errors import ConfigError

CONFIG_FILE = "config.json"
KEYS = {"supabase.url": "MIRARI_SUPABASE_URL", "supabase.anon_key": "MIRARI_SUPABASE_ANON_KEY"}


@dataclass(frozen=True)
class SupabaseConfig:
    url: str
    anon_key: str


def _read(data_dir: Path) -> dict:
    path = Path(data_dir) / CONFIG_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} does not contain a JSON object")
    return data


def atomic_write_json(path: Path, data: dict, mode: int = 0o600) -> None:
    """Write to a temp file in the same directory, fsync, then rename: a crash leaves old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        replace(tmp, path)  # retried on Windows while a reader or the virus scanner holds it
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def validate(key: str, value: str) -> str:
    if key not in KEYS:
        raise ConfigError(f"unknown setting {key!r}; known: {', '.join(KEYS)}")
    value = value.strip()
    if key == "supabase.url":
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"supabase.url must be an http(s) URL like https://xyz.supabase.co, got {value!r}")
        value = value.rstrip("/")
    elif not value:
        raise ConfigError("supabase.anon_key must not be empty")
    return value


def set_value(data_dir: Path, key: str, value: str) -> str:
    value = validate(key, value)
    data = _read(data_dir)
    section, name = key.split(".", 1)
    if not isinstance(data.get(section), dict):
        data[section] = {}
    data[section][name] = value
    atomic_write_json(Path(data_dir) / CONFIG_FILE, data)
    return value


def get_value(data_dir: Path, key: str) -> str | None:
    if key not in KEYS:
        raise ConfigError(f"unknown setting {key!r}; known: {', '.join(KEYS)}")
    env = os.environ.get(KEYS[key])
    if env:
        return validate(key, env)
    section, name = key.split(".", 1)
    value = (_read(data_dir).get(section) or {}).get(name)
    return value if isinstance(value, str) and value else None


def load_supabase_config(data_dir: Path) -> SupabaseConfig:
    url, key = get_value(data_dir, "supabase.url"), get_value(data_dir, "supabase.anon_key")
    missing = [k for k, v in (("supabase.url", url), ("supabase.anon_key", key)) if not v]
    if missing:
        raise ConfigError(
            f"Supabase is not configured ({', '.join(missing)} missing): run "
            "`mirari config set supabase.url https://<project>.supabase.co` and "
            "`mirari config set supabase.anon_key <key>`, or set MIRARI_SUPABASE_URL / MIRARI_SUPABASE_ANON_KEY")
    return SupabaseConfig(url=url, anon_key=key)
