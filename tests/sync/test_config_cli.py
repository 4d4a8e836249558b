"""Configuration file, env overrides and the CLI's error behaviour (no server needed)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sync import config
from sync.errors import ConfigError, KeychainUnavailable
from sync.session import SessionStore
from tests.portable import mode_of, shown_mode

ROOT = Path(__file__).resolve().parents[2]


def mirari(data_dir, *args, env=None):
    full_env = {**os.environ, **(env or {})}
    for key in ("MIRARI_SUPABASE_URL", "MIRARI_SUPABASE_ANON_KEY"):
        if env is None or key not in env:
            full_env.pop(key, None)
    return subprocess.run([sys.executable, "-m", "mirari", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60)


def test_set_get_keeps_other_sections_and_is_private(tmp_path, monkeypatch):
    monkeypatch.delenv("MIRARI_SUPABASE_URL", raising=False)
    (tmp_path / "config.json").write_text(json.dumps({"ui": {"theme": "dark"}}))
    config.set_value(tmp_path, "supabase.url", "https://abc.supabase.co/")
    config.set_value(tmp_path, "supabase.anon_key", "key-1")
    data = json.loads((tmp_path / "config.json").read_text())
    assert data == {"ui": {"theme": "dark"}, "supabase": {"url": "https://abc.supabase.co", "anon_key": "key-1"}}
    assert mode_of(tmp_path / "config.json") == shown_mode(0o600)
    monkeypatch.setenv("MIRARI_SUPABASE_URL", "http://127.0.0.1:9")
    assert config.load_supabase_config(tmp_path).url == "http://127.0.0.1:9"


def test_bad_values_and_missing_config_are_clear(tmp_path, monkeypatch):
    monkeypatch.delenv("MIRARI_SUPABASE_URL", raising=False)
    monkeypatch.delenv("MIRARI_SUPABASE_ANON_KEY", raising=False)
    with pytest.raises(ConfigError, match="http"):
        config.set_value(tmp_path, "supabase.url", "ftp:/nope")
    with pytest.raises(ConfigError, match="not configured"):
        config.load_supabase_config(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        config.get_value(tmp_path, "supabase.url")


def test_no_keychain_means_a_clear_error_unless_plaintext_is_allowed(tmp_path, monkeypatch):
    import keyring
    from keyring.backends import fail

    from sync.secrets import open_store

    keyring.set_keyring(fail.Keyring())
    monkeypatch.delenv("MIRARI_KEY_PASSPHRASE", raising=False)
    store = SessionStore(tmp_path, open_store(tmp_path))
    assert store.load() is None  # nothing can have been kept here
    with pytest.raises(KeychainUnavailable, match="set MIRARI_KEY_PASSPHRASE .* or set MIRARI_ALLOW_PLAINTEXT_SESSION"):
        store.check()
    monkeypatch.setenv("MIRARI_ALLOW_PLAINTEXT_SESSION", "1")
    assert store.load() is None
    from sync.session import AuthSession

    session = AuthSession("u1", "a@example.com", "access", "refresh", expires_at=1.0)
    store.save(session)  # explicitly allowed: a private file, said so in the error above
    assert mode_of(store.plaintext_path) == shown_mode(0o600)
    assert store.load() == session
    store.clear()
    assert store.load() is None and not store.plaintext_path.exists()


def test_cli_config_and_errors(tmp_path):
    ok = mirari(tmp_path, "config", "set", "supabase.url", "https://x.supabase.co")
    assert ok.returncode == 0, ok.stderr
    assert mirari(tmp_path, "config", "get", "supabase.url").stdout.strip() == "https://x.supabase.co"
    bad = mirari(tmp_path, "config", "set", "supabase.url", "not a url")
    assert bad.returncode == 1 and bad.stderr.startswith("mirari: error: supabase.url must be")
    assert len(bad.stderr.strip().splitlines()) == 1
    missing = mirari(tmp_path, "config", "get", "supabase.anon_key")
    assert missing.returncode == 1 and "not set" in missing.stderr
    # Not signed in: `sync` says so in one line and fails; status works offline.
    result = mirari(tmp_path, "sync")
    assert result.returncode != 0 and "signed out" in result.stderr
    status = json.loads(mirari(tmp_path, "status", "--json").stdout)
    assert status["state"] == "signed out" and status["account"] is None
    assert status["database"].endswith("local.sqlite3") and status["pending"] == 0
    unconfigured = mirari(tmp_path, "account", "login", "--email", "a@example.com",
                          env={"MIRARI_PASSWORD": "pw123456"})
    assert unconfigured.returncode == 1 and "supabase.anon_key missing" in unconfigured.stderr
    assert mirari(tmp_path, "config", "set", "supabase.anon_key", "k").returncode == 0
    # Login without a keychain and without a terminal: one clear line, nothing half-done.
    login = mirari(tmp_path, "account", "login", "--email", "a@example.com", env={"MIRARI_PASSWORD": "pw123456"})
    assert login.returncode == 1 and "keychain" in login.stderr


def test_sync_cli_imports_nothing_heavy():
    code = ("import sys, agent.cli.sync; heavy = [m for m in ('supabase', 'sqlalchemy', 'httpx', 'sqlmodel') "
            "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr



def test_headless_commands_log_through_the_redacting_handlers(tmp_path, capsys):
    import argparse
    import logging

    from agent.cli.main import configure_headless_logging
    from agent.logging_setup import remove_logging
    from mirari.main import main

    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
    configure_headless_logging(argparse.Namespace(data_dir=str(tmp_path)))
    try:
        logging.getLogger("sync.session").warning("refresh failed for Bearer %s", token)
        for handler in logging.getLogger().handlers:
            handler.flush()
    finally:
        remove_logging()
    written = (tmp_path / "logs" / "mirari.log").read_text()
    assert "refresh failed" in written and token not in written
    assert token not in capsys.readouterr().err

    assert main(["--data-dir", str(tmp_path), "status", "--json"]) == 0
    assert not [h for h in logging.getLogger().handlers if getattr(h, "_mirari", False)]  # removed after
