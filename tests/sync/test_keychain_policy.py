"""One keychain policy for the session tokens and the API keys (sync.keychain): the OS keychain, else the
user's explicit encrypted-file or memory-only choice, never plain text without an opt-in; a keychain that
fails to load or to answer makes the secrets unavailable, with a sentence, and stops nothing else."""

from __future__ import annotations

import base64
import json

import keyring
import keyring.backends.fail
import keyring.core
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

from local_schema.models import Task
from standin.keyrings import MemoryKeyring
from sync import config
from sync.engine import ERROR, IDLE, SyncEngine
from sync.errors import KeychainUnavailable
from sync.keychain import keychain_usable, load_backend
from sync.secrets import NONE, SecretStore, SecretsUnavailable


class PlaintextKeyring(KeyringBackend):
    """What keyrings.alt's PlaintextKeyring does (a file of base64 "encrypted" passwords), under its name:
    keyring picks it whenever no OS keychain answers (keyrings.alt is not installed in this venv)."""

    priority = 0.5  # type: ignore[assignment]

    def __init__(self, path) -> None:
        super().__init__()
        self.path = path

    def _all(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get_password(self, service, username):
        value = self._all().get(f"{service}/{username}")
        return base64.b64decode(value).decode() if value else None

    def set_password(self, service, username, password):
        data = self._all()
        data[f"{service}/{username}"] = base64.b64encode(password.encode()).decode()
        self.path.write_text(json.dumps(data))

    def delete_password(self, service, username):
        data = self._all()
        if data.pop(f"{service}/{username}", None) is None:
            raise keyring.errors.PasswordDeleteError("none")
        self.path.write_text(json.dumps(data))


PlaintextKeyring.__module__ = "keyrings.alt.file"


class LockedKeyring(MemoryKeyring):
    """A Secret Service that is there but does not answer (locked collection, D-Bus gone away)."""

    def get_password(self, service, username):
        raise keyring.errors.KeyringLocked("the collection is locked")

    def set_password(self, service, username, password):
        raise RuntimeError("org.freedesktop.DBus.Error.ServiceUnknown")


@pytest.fixture
def standin_dir(supabase_stack, tmp_path):
    def make(name: str):
        data_dir = tmp_path / name
        data_dir.mkdir()
        config.set_value(data_dir, "supabase.url", supabase_stack.url)
        config.set_value(data_dir, "supabase.anon_key", supabase_stack.anon_key)
        return data_dir
    return make


@pytest.fixture
def plaintext_keyring(tmp_path, monkeypatch):
    for name in ("MIRARI_ALLOW_PLAINTEXT_SESSION", "MIRARI_ALLOW_PLAINTEXT_SECRETS"):
        monkeypatch.delenv(name, raising=False)
    backend = PlaintextKeyring(tmp_path / "keyring_pass.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_a_plaintext_keyring_is_refused_for_the_session_and_the_keys_without_an_opt_in(
        standin_dir, user, plaintext_keyring, monkeypatch):
    email, password, _ = user
    data_dir = standin_dir("a")
    engine = SyncEngine(data_dir)
    with pytest.raises(KeychainUnavailable, match="plain text"):
        engine.sign_in(email, password)
    assert not plaintext_keyring.path.exists() and not (data_dir / "session.json").exists()
    store = SecretStore(data_dir)
    assert store.mode == NONE and "plain text" in store.status().problem
    with pytest.raises(SecretsUnavailable):
        store.set_key("conn", "sk-secret")
    assert not plaintext_keyring.path.exists()
    # The user may opt in, knowing what it means.
    monkeypatch.setenv("MIRARI_ALLOW_PLAINTEXT_SECRETS", "1")
    SyncEngine(data_dir).sign_in(email, password)
    assert "supabase-session" in plaintext_keyring.path.read_text()


def test_a_chain_with_a_real_keychain_never_falls_through_to_plain_text(plaintext_keyring, monkeypatch):
    real = MemoryKeyring()

    class Chainer(KeyringBackend):
        priority = 10  # type: ignore[assignment]
        backends = [real, plaintext_keyring]

        def get_password(self, *a):  # pragma: no cover - never used directly
            raise AssertionError

        set_password = delete_password = get_password

    Chainer.__module__ = "keyring.backends.chainer"
    keyring.set_keyring(Chainer())
    backend, problem = load_backend()
    assert backend is real and problem is None
    keyring.set_keyring(Chainer.__new__(type("C", (Chainer,), {"backends": [plaintext_keyring],
                                                             "__module__": "keyring.backends.chainer"})))
    assert not keychain_usable(keyring.get_keyring())


def test_a_keychain_that_fails_to_load_stops_nothing(standin_dir, user, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no_such_module.Keyring")
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    with pytest.raises(ModuleNotFoundError):
        keyring.get_keyring()  # what used to leave the window on "Could not open your data"
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    store = SecretStore(tmp_path / "keys")
    assert store.mode == NONE and "could not be loaded" in store.status().problem
    with pytest.raises(SecretsUnavailable, match="could not be loaded"):
        store.set_key("conn", "sk")
    assert store.get_key("conn") == ""  # nothing stored, nothing to read: no exception either
    # Sync says why and goes on being asked; the local data is untouched.
    data_dir = standin_dir("b")
    engine = SyncEngine(data_dir)
    with pytest.raises(KeychainUnavailable, match="could not be loaded"):
        engine.sign_in(*user[:2])
    engine.close()


def test_a_keychain_that_does_not_answer_makes_the_cycle_say_so(devices, memory_keyring, monkeypatch):
    a = devices("a")
    with a.db.write() as s:
        s.add(Task(title="waits for the keychain"))
    locked = LockedKeyring()
    keyring.set_keyring(locked)
    engine = SyncEngine(a.data_dir)  # a fresh start of the app: the session must be read again
    result = engine.run_cycle()
    assert result.state == ERROR and "did not answer" in result.error and "KeyringLocked" in result.error
    assert engine.status()["pending"] == 1  # the data is all there
    store = SecretStore(a.data_dir, backend=locked)
    with pytest.raises(SecretsUnavailable, match="did not answer"):
        store.get_key("conn")
    with pytest.raises(SecretsUnavailable, match="Nothing was stored"):
        store.set_key("conn", "sk")
    engine.sign_out()  # signing out works even so
    engine.close()


@pytest.mark.parametrize("choice", ["encrypted_file", "memory"])
def test_without_a_keychain_the_session_follows_the_users_choice(standin_dir, user, choice, monkeypatch):
    monkeypatch.delenv("MIRARI_ALLOW_PLAINTEXT_SESSION", raising=False)
    data_dir = standin_dir("c")
    store = SecretStore(data_dir, backend=keyring.backends.fail.Keyring())  # this machine has no keychain
    engine = SyncEngine(data_dir, secrets=store)
    with pytest.raises(KeychainUnavailable, match="choose an encrypted key file or memory only"):
        engine.sign_in(*user[:2])  # no choice yet: nothing is kept anywhere
    if choice == "encrypted_file":
        store.use_encrypted_file("correct horse")
    else:
        store.use_memory_only()
    session = engine.sign_in(*user[:2])
    assert engine.run_cycle().state == IDLE
    on_disk = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and "sqlite" not in p.name)
    assert session.access_token.encode() not in on_disk and session.refresh_token.encode() not in on_disk
    assert (data_dir / "api-keys.enc").exists() == (choice == "encrypted_file")
    engine.close()
    # The same store serves the next engine (the window restarting sync) without asking again.
    again = SyncEngine(data_dir, secrets=store)
    assert again.run_cycle().state == IDLE
    again.close()
