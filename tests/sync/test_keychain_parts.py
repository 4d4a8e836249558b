"""A Supabase session longer than one Windows credential is kept in parts and read back whole.

keyring's real WinVaultKeyring runs here, on Linux, against a stand-in for the Credential Manager
(`win32cred`) that keeps Windows' documented limit: a credential blob of at most 2,560 bytes, text
stored as UTF-16, error 1783 ("The stub received bad data") past it, 1168 for a missing entry."""

from __future__ import annotations

import json
import types

import keyring
import keyring.backends.Windows as windows_backend
import pytest

from sync.keychain import load_backend
from sync.keychain_parts import PART_CHARS, PartedKeyring
from sync.secrets import KEYCHAIN, SecretStore
from sync.session import KEYRING_SERVICE, AuthSession, SessionStore

BLOB_BYTES = 2560


class CredError(Exception):
    """pywintypes.error: (winerror, funcname, strerror)."""

    def __init__(self, winerror: int, funcname: str, strerror: str) -> None:
        super().__init__(winerror, funcname, strerror)
        self.winerror, self.funcname, self.strerror = winerror, funcname, strerror


class CredentialManager(types.SimpleNamespace):
    CRED_TYPE_GENERIC = 1
    CRED_PERSIST_ENTERPRISE = 3

    def __init__(self) -> None:
        super().__init__(entries={})

    def CredWrite(self, credential: dict, flags: int) -> None:  # noqa: N802 - win32cred's names
        blob = credential["CredentialBlob"].encode("utf-16-le")
        if len(blob) > BLOB_BYTES:
            raise CredError(1783, "CredWrite", "The stub received bad data.")
        self.entries[credential["TargetName"]] = {"UserName": credential["UserName"], "CredentialBlob": blob}

    def CredRead(self, Type: int, TargetName: str) -> dict:  # noqa: N802, N803
        if TargetName not in self.entries:
            raise CredError(1168, "CredRead", "Element not found.")
        return dict(self.entries[TargetName])

    def CredDelete(self, Type: int, TargetName: str) -> None:  # noqa: N802, N803
        if self.entries.pop(TargetName, None) is None:
            raise CredError(1168, "CredDelete", "Element not found.")


@pytest.fixture
def vault(monkeypatch):
    """The real Windows backend as the machine's keychain, over the stand-in Credential Manager."""
    manager = CredentialManager()
    monkeypatch.setattr(windows_backend, "win32cred", manager, raising=False)  # absent off Windows
    monkeypatch.setattr(windows_backend, "pywintypes", types.SimpleNamespace(error=CredError), raising=False)
    monkeypatch.setattr(windows_backend, "missing_deps", False)  # "pywin32 is installed"
    backend = windows_backend.WinVaultKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield manager, backend
    keyring.set_keyring(previous)


def session_of_length(chars: int) -> AuthSession:
    """A session whose JSON is about `chars` long: a real one is ~1,100 with a 38-character email,
    more with a longer email or richer user metadata (both are inside the access token)."""
    base = AuthSession(user_id="2f1d3c4b-0000-4000-8000-00000000abcd", email="someone@example.test",
                       access_token="", refresh_token="v1.refresh-123", expires_at=1_800_000_000.5, lifetime=3600.0)
    padding = chars - len(json.dumps(base.__dict__))
    base.access_token = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0." + "x" * (padding - 36)
    return base


def test_the_credential_manager_refuses_a_long_session_whole(vault, tmp_path):
    _manager, backend = vault
    with pytest.raises(CredError, match="stub received bad data"):
        backend.set_password(KEYRING_SERVICE, "who", json.dumps(session_of_length(1500).__dict__))


def test_a_long_session_is_kept_in_parts_and_read_back_whole(vault, tmp_path):
    manager, _backend = vault
    backend, problem = load_backend()
    assert problem is None and isinstance(backend, PartedKeyring)
    session = session_of_length(3000)
    store = SessionStore(tmp_path, SecretStore(tmp_path))
    store.save(session)
    assert store.load() == session
    assert len(manager.entries) == 1 + 3  # the header and three parts of at most 1,280 characters
    assert all(len(entry["CredentialBlob"]) <= BLOB_BYTES for entry in manager.entries.values())
    store.clear()
    assert store.load() is None and manager.entries == {}


def test_a_shorter_value_drops_the_parts_of_a_longer_one(vault, tmp_path):
    manager, _backend = vault
    store = SessionStore(tmp_path, SecretStore(tmp_path))
    store.save(session_of_length(4000))
    short = session_of_length(600)  # what a refresh may bring: a token without the long metadata
    store.save(short)
    assert store.load() == short
    assert not [e for e in manager.entries.values() if "#" in e["UserName"]]  # no part left behind


def test_a_missing_part_means_no_session_not_a_crash(vault, tmp_path):
    manager, _backend = vault
    store = SessionStore(tmp_path, SecretStore(tmp_path))
    store.save(session_of_length(2000))
    part = next(target for target in manager.entries if "#1" in target)
    del manager.entries[part]
    assert store.load() is None  # the user signs in again


def test_api_keys_go_to_the_credential_manager_by_its_name(vault, tmp_path):
    store = SecretStore(tmp_path)
    assert store.mode == KEYCHAIN and store.status().label == "OS keychain: Windows Credential Manager"
    long_key = "sk-" + "k" * (PART_CHARS + 100)  # no provider's key is this long; the path is the same
    store.set_key("connection-1", "sk-short")
    store.set_key("connection-2", long_key)
    assert (store.get_key("connection-1"), store.get_key("connection-2")) == ("sk-short", long_key)
    store.delete_key("connection-2")
    assert store.get_key("connection-2") == ""
