"""Sync tests: an in-memory keychain for every test (no OS keychain exists on this machine)."""

from __future__ import annotations

import keyring
import pytest

from tests.sync.keyrings import MemoryKeyring


@pytest.fixture(autouse=True)
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
