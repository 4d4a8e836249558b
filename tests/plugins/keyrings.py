"""The suite's keychain: never the OS one (`pytest_configure`), and `memory_keyring`, an empty in-memory
keychain (standin.keyrings.MemoryKeyring) for one test."""

from __future__ import annotations

import os

import keyring
import pytest

from standin.keyrings import MemoryKeyring


def pytest_configure(config: pytest.Config) -> None:
    """The suite never touches a real keychain. The Linux test machines have none (keyring falls back to
    its "fail" backend); the macOS and Windows CI runners do, and without this the tests would write into
    the login Keychain or the Credential Manager and find a keychain where they expect none. Tests that
    want one install MemoryKeyring or FileKeyring; child processes inherit this unless given another.
    (A hook, not import-time code: it runs in the pytest process only.)"""
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"


@pytest.fixture
def memory_keyring():
    """An empty in-memory keychain for this test; the developer's own keychain is never touched."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
