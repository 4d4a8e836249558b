"""Where the user's Supabase project is: `supabase.url` and `supabase.anon_key`.

Stored in the `supabase` section of `config.json` in the data dir (sync/settings.py: the one reader and
locked writer of that file, other sections kept); the environment
(`MIRARI_SUPABASE_URL`, `MIRARI_SUPABASE_ANON_KEY`) overrides the file. The anon key is a public client key,
not a secret, so a plain file is the right place for it; the user's session goes to the keychain.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from sync.errors import ConfigError
from sync.settings import read_section, update_section

KEYS = {"supabase.url": "MIRARI_SUPABASE_URL", "supabase.anon_key": "MIRARI_SUPABASE_ANON_KEY"}


@dataclass(frozen=True)
class SupabaseConfig:
    url: str
    anon_key: str


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
    section, name = key.split(".", 1)
    update_section(data_dir, section, lambda current: {**current, name: value})
    return value


def get_value(data_dir: Path, key: str) -> str | None:
    if key not in KEYS:
        raise ConfigError(f"unknown setting {key!r}; known: {', '.join(KEYS)}")
    env = os.environ.get(KEYS[key])
    if env:
        return validate(key, env)
    section, name = key.split(".", 1)
    value = read_section(data_dir, section).get(name)
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
