"""Sync tests: an in-memory keychain for every test (no OS keychain exists on this machine), an account
on the stand-in, a database session acting as it ("api"), and "devices" (separate data dirs) signed in
to it."""

from __future__ import annotations

import keyring
import pytest


@pytest.fixture(autouse=True)
def _only_the_test_keychain(memory_keyring):
    """Every sync test keeps its session in the in-memory keychain unless it asks for the file one."""
    return memory_keyring


@pytest.fixture
def user(supabase_stack):
    """A fresh account on the stand-in: (email, password, user_id)."""
    return supabase_stack.new_user()


@pytest.fixture
def api(supabase_stack, user):
    """A PostgREST-equivalent database session acting as `user` (for writes made 'elsewhere')."""
    from standin.impersonate import ApiSession

    session = ApiSession(supabase_stack.db_url, user[2])
    yield session
    session.close()


@pytest.fixture
def devices(supabase_stack, tmp_path, user):
    """make(name, sign_in=True) -> a Device (own data dir) signed in as `user`."""
    from tests.sync.helpers import Device

    email, password, _ = user
    made = []

    def make(name, sign_in=True):
        dev = Device(supabase_stack, tmp_path / name)
        if sign_in:
            dev.engine.sign_in(email, password)
        made.append(dev)
        return dev

    yield make
    for dev in made:
        dev.close()


@pytest.fixture
def file_keyring_env(tmp_path, monkeypatch):
    """A keychain shared with child processes (the CLI / SIGKILL tests); returns the env they need."""
    from standin.keyrings import FileKeyring

    path = str(tmp_path / "keyring.json")
    monkeypatch.setenv("MIRARI_TEST_KEYRING_FILE", path)
    keyring.set_keyring(FileKeyring())
    return {"MIRARI_TEST_KEYRING_FILE": path, "PYTHON_KEYRING_BACKEND": "standin.keyrings.FileKeyring"}
