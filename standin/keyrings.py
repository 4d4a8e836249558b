"""Keychain backends for tests: the tests never use an OS keychain (keyring raises NoKeyringError).

`MemoryKeyring` is a real keyring backend that keeps secrets in a dict (Vorta forces its DB keyring the
same way); the `memory_keyring` fixture installs it for one test and puts the previous backend back.
`FileKeyring` lets a child process (the sync SIGKILL tests run `python -m desktop.cli sync`) see the
session the test signed in with: the child gets PYTHON_KEYRING_BACKEND=tests.keyrings.FileKeyring and
MIRARI_TEST_KEYRING_FILE.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


def pytest_configure(config: pytest.Config) -> None:
    """The suite never touches a real keychain. The Linux test machines have none (keyring falls back to
    its "fail" backend); the macOS and Windows CI runners do, and without this the tests would write into
    the login Keychain or the Credential Manager and find a keychain where they expect none. Tests that
    want one install MemoryKeyring or FileKeyring; child processes inherit this unless given another.
    (A hook, not import-time code: a child process imports this module as its FileKeyring backend.)"""
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]
    name = "Test memory keyring"

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise PasswordDeleteError("no such password")


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]
    name = "Test file keyring"

    @property
    def path(self) -> Path:
        return Path(os.environ["MIRARI_TEST_KEYRING_FILE"])

    def _load(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def _save(self, data: dict) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)

    def get_password(self, service, username):
        return self._load().get(f"{service}\n{username}")

    def set_password(self, service, username, password):
        data = self._load()
        data[f"{service}\n{username}"] = password
        self._save(data)

    def delete_password(self, service, username):
        data = self._load()
        if data.pop(f"{service}\n{username}", None) is None:
            raise PasswordDeleteError("no such password")
        self._save(data)


@pytest.fixture
def memory_keyring():
    """An empty in-memory keychain for this test; the developer's own keychain is never touched."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
