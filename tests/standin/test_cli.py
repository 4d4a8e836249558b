"""`python -m standin` as a developer runs it: one JSON line, a working stack, clean exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.portable import needs_posix_signals

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tmp_path():
    """pytest's tmp_path is private to root (0700); PostgreSQL runs as the postgres user and must enter it."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="standin-cli-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@needs_posix_signals
def test_cli_prints_one_json_line_serves_and_cleans_up_on_sigterm(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the throwaway cluster is created under here
    proc = subprocess.Popen([sys.executable, "-m", "standin"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert set(info) == {"url", "anon_key", "service_role_key", "jwt_secret", "db_url"}
        assert any(tmp_path.iterdir())
        signup = httpx.post(f"{info['url']}/auth/v1/signup", json={"email": "cli@example.test", "password": "secret-1"},
                            headers={"apikey": info["anon_key"]}, timeout=30)
        token = signup.json()["access_token"]
        rows = httpx.get(f"{info['url']}/rest/v1/tasks", timeout=30,
                         headers={"apikey": info["anon_key"], "Authorization": f"Bearer {token}"})
        assert rows.status_code == 200 and rows.json() == []
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out == ""  # exactly one line was printed
    assert list(tmp_path.iterdir()) == []  # cluster stopped and its directory removed


@needs_posix_signals
def test_cli_keeps_a_given_data_dir(tmp_path):
    data = tmp_path / "standin"
    proc = subprocess.Popen([sys.executable, "-m", "standin", "--data-dir", str(data)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert (data / "pgdata" / "PG_VERSION").exists()


def test_a_kept_data_dir_keeps_the_keys_so_sessions_survive_a_restart(tmp_path):
    """A real project keeps its keys: after a restart on the same data dir the anon key, the JWT secret and
    the sessions issued before are still valid (before, every start made new ones: "Invalid API key")."""
    data = tmp_path / "standin"

    def start():
        proc = subprocess.Popen([sys.executable, "-m", "standin", "--data-dir", str(data)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return proc, json.loads(proc.stdout.readline())

    def stop(proc):
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode == 0

    proc, first = start()
    try:
        token = httpx.post(f"{first['url']}/auth/v1/signup", json={"email": "kept@example.test", "password": "secret-1"},
                           headers={"apikey": first["anon_key"]}, timeout=30).json()["access_token"]
    finally:
        stop(proc)
    assert oct((data / "standin-keys.json").stat().st_mode & 0o777) == "0o600"
    proc, second = start()
    try:
        assert (second["anon_key"], second["service_role_key"], second["jwt_secret"]) == \
            (first["anon_key"], first["service_role_key"], first["jwt_secret"])
        me = httpx.get(f"{second['url']}/auth/v1/user", timeout=30,
                       headers={"apikey": second["anon_key"], "Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["email"] == "kept@example.test"
    finally:
        stop(proc)
