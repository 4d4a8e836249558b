"""Keychain backends for tests, benchmarks and screenshots, which never use an OS keychain.

`MemoryKeyring` is a real keyring backend that keeps secrets in a dict (Vorta forces its DB keyring the
same way); the `memory_keyring` fixture (tests/plugins/keyrings.py) installs it for one test and puts the
previous backend back.
`FileKeyring` lets a child process (the sync SIGKILL tests run `python -m mirari sync`) see the
session the test signed in with: the child gets PYTHON_KEYRING_BACKEND=standin.keyrings.FileKeyring and
MIRARI_TEST_KEYRING_FILE.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


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
