"""Key storage: the OS keychain when there is one, an explicit fallback when there is none."""

import json

import keyring
import keyring.backends.fail
import keyring.backends.null
import keyring.errors
import pytest

from standin.keyrings import MemoryKeyring
from sync.keyfile import FILE_NAME, KeyFileDamaged, WrongPassphrase
from sync.secrets import (
    ENCRYPTED_FILE,
    KEYCHAIN,
    MEMORY,
    NONE,
    SERVICE,
    SecretsLocked,
    SecretStore,
    SecretsUnavailable,
    backend_name,
    keychain_usable,
)
from tests.portable import mode_of, shown_mode

KEY = "sk-live-abcdef0123456789"


class DeadKeyring(MemoryKeyring):
    """Looks viable, but there is no keychain behind it (e.g. SecretService without a D-Bus session)."""

    def get_password(self, service, username):
        raise keyring.errors.NoKeyringError("no keychain")

    def set_password(self, service, username, password):
        raise keyring.errors.NoKeyringError("no keychain")


def test_keychain_is_used_when_present(tmp_path, memory_keyring):
    store = SecretStore(tmp_path)  # picks keyring's current backend
    status = store.status()
    assert (status.mode, status.label, status.persistent, status.needs_choice) == (
        KEYCHAIN, "OS keychain: Test memory keyring", True, False)
    store.set_key("conn-1", f"  {KEY} ")
    assert memory_keyring.secrets == {(SERVICE, "conn-1"): KEY}
    assert store.get_key("conn-1") == KEY and store.has_key("conn-1")
    store.set_key("conn-1", "   ")  # blank removes: local runners need no key
    assert memory_keyring.secrets == {} and store.get_key("conn-1") == ""
    store.delete_key("never-stored")  # no error
    assert list(tmp_path.iterdir()) == []  # nothing written to disk by us


@pytest.mark.parametrize("backend", [keyring.backends.fail.Keyring(), keyring.backends.null.Keyring()])
def test_no_keychain_asks_for_a_choice_and_stores_nothing_silently(tmp_path, backend):
    store = SecretStore(tmp_path, backend)
    status = store.status()
    assert (status.mode, status.needs_choice, status.persistent) == (NONE, True, False)
    assert status.label == "No OS keychain — choose an encrypted file or memory only"
    with pytest.raises(SecretsUnavailable, match="choose an encrypted key file or memory-only"):
        store.set_key("c", KEY)
    assert store.get_key("c") == "" and list(tmp_path.iterdir()) == []


def test_memory_only_fallback(tmp_path):
    store = SecretStore(tmp_path, keyring.backends.fail.Keyring())
    store.use_memory_only()
    assert store.status().label == "Memory only — keys are forgotten on exit"
    store.set_key("c", KEY)
    assert store.get_key("c") == KEY
    assert list(tmp_path.iterdir()) == []
    assert SecretStore(tmp_path, keyring.backends.fail.Keyring()).get_key("c") == ""  # forgotten on "restart"


def test_encrypted_file_fallback(tmp_path):
    store = SecretStore(tmp_path, keyring.backends.fail.Keyring())
    store.use_memory_only()
    store.set_key("early", "sk-early-0000000")
    store.use_encrypted_file("correct horse")  # creates the file; the memory key moves in
    store.set_key("c", KEY)
    assert store.status().label == "Encrypted file (unlocked)"
    path = tmp_path / FILE_NAME
    raw = path.read_text()
    assert KEY not in raw and "early" not in raw and "sk-" not in raw  # never plaintext
    assert json.loads(raw)["cipher"] == "AES-256-GCM"
    assert mode_of(path) == shown_mode(0o600)

    again = SecretStore(tmp_path, keyring.backends.fail.Keyring())  # next start
    status = again.status()
    assert (status.mode, status.locked, status.label) == (ENCRYPTED_FILE, True, "Encrypted file (locked)")
    with pytest.raises(SecretsLocked, match="enter its passphrase"):
        again.get_key("c")
    assert again.has_key("c") is False
    with pytest.raises(WrongPassphrase, match="does not unlock"):
        again.use_encrypted_file("wrong horse")
    assert again.status().locked
    again.use_encrypted_file("correct horse")
    assert again.get_key("c") == KEY and again.get_key("early") == "sk-early-0000000"
    again.delete_key("c")
    again.lock()
    with pytest.raises(SecretsLocked):
        again.set_key("c", KEY)
    third = SecretStore(tmp_path, keyring.backends.fail.Keyring())
    third.use_encrypted_file("correct horse")
    assert third.get_key("c") == "" and third.get_key("early") == "sk-early-0000000"


def test_tampered_or_damaged_file_is_refused(tmp_path):
    store = SecretStore(tmp_path, keyring.backends.fail.Keyring())
    store.use_encrypted_file("pw")
    store.set_key("c", KEY)
    path = tmp_path / FILE_NAME
    doc = json.loads(path.read_text())
    doc["ciphertext"] = doc["ciphertext"][:-4] + ("AAAA" if not doc["ciphertext"].endswith("AAAA") else "BBBB")
    path.write_text(json.dumps(doc))
    with pytest.raises(WrongPassphrase):
        SecretStore(tmp_path, keyring.backends.fail.Keyring()).use_encrypted_file("pw")
    path.write_text("not json")
    with pytest.raises(KeyFileDamaged, match="damaged"):
        SecretStore(tmp_path, keyring.backends.fail.Keyring()).use_encrypted_file("pw")


def test_keychain_that_vanishes_falls_back_explicitly(tmp_path):
    store = SecretStore(tmp_path, DeadKeyring())
    assert store.mode == KEYCHAIN
    with pytest.raises(SecretsUnavailable):
        store.set_key("c", KEY)
    assert store.status().needs_choice
    store.use_memory_only()
    store.set_key("c", KEY)
    assert store.mode == MEMORY and store.get_key("c") == KEY


def test_keys_never_in_repr_or_logs(tmp_path, caplog, memory_keyring):
    caplog.set_level("DEBUG")
    store = SecretStore(tmp_path)
    store.set_key("c", KEY)
    store.get_key("c")
    fallback = SecretStore(tmp_path / "other", keyring.backends.fail.Keyring())
    fallback.use_encrypted_file("pw")
    fallback.set_key("c", KEY)
    assert KEY not in caplog.text and KEY not in repr(store) and KEY not in repr(fallback)


def test_backend_names_and_usability():
    from keyring.backends import SecretService, Windows, chainer, macOS

    assert backend_name(SecretService.Keyring) == "SecretService"
    assert backend_name(macOS.Keyring) == "macOS Keychain"
    assert backend_name(Windows.WinVaultKeyring) == "Windows Credential Manager"
    assert not keychain_usable(keyring.backends.fail.Keyring())
    assert not keychain_usable(keyring.backends.null.Keyring())
    assert keychain_usable(MemoryKeyring())

    class PlaintextKeyring(MemoryKeyring):
        pass

    assert not keychain_usable(PlaintextKeyring())  # keyrings.alt-style plaintext is never silently used
    empty_chain = chainer.ChainerBackend()
    assert keychain_usable(empty_chain) == bool(empty_chain.backends)


def test_status_answers_while_a_keychain_call_hangs(tmp_path):
    # An OS keychain can block for a long time (an unlock prompt, a wedged D-Bus service). The GUI asks
    # for status() on its UI thread (Bind's key note, Settings): it must not wait behind that call.
    import threading

    entered, release = threading.Event(), threading.Event()

    class HangingKeyring(MemoryKeyring):
        def get_password(self, service, username):
            entered.set()
            release.wait(10)
            return None

    store = SecretStore(tmp_path, backend=HangingKeyring())
    worker = threading.Thread(target=store.get_key, args=("c1",))
    worker.start()
    try:
        assert entered.wait(5)
        answers = []
        asker = threading.Thread(target=lambda: answers.append(store.status()))
        asker.start()
        asker.join(2)
        assert answers and answers[0].mode == KEYCHAIN, "status() waited for the hanging keychain call"
    finally:
        release.set()
        worker.join(5)
        asker.join(5)


def test_the_command_line_opens_the_same_file_with_its_passphrase(tmp_path, monkeypatch):
    """open_store: the headless store of `mirari …` reads MIRARI_KEY_PASSPHRASE (or asks in a terminal),
    creates the file only from the variable (a one-off prompt could lock keys away with a typo), and says
    which variable to set."""
    from sync.secrets import PASSPHRASE_ENV, open_store

    fail = keyring.backends.fail.Keyring()
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    undecided = open_store(tmp_path, create=True, prompt=lambda: "typed once", backend=fail)
    assert undecided.mode == NONE and not (tmp_path / FILE_NAME).exists()  # the prompt never creates it
    with pytest.raises(SecretsUnavailable, match=f"set {PASSPHRASE_ENV} to keep them in the encrypted key file"):
        undecided.set_key("c", KEY)
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse")
    made = open_store(tmp_path, create=True, backend=fail)
    made.set_secret("MIRARI Desktop", "supabase-session:x", '{"token": "t"}')
    made.set_key("c", KEY)
    # The window's store opens the same file with the same passphrase and finds both.
    window = SecretStore(tmp_path, fail)
    window.use_encrypted_file("correct horse")
    assert window.get_key("c") == KEY and window.get_secret("MIRARI Desktop", "supabase-session:x")
    monkeypatch.delenv(PASSPHRASE_ENV)
    locked = open_store(tmp_path, backend=fail)
    with pytest.raises(SecretsLocked, match=f"set {PASSPHRASE_ENV} or run the command in a terminal"):
        locked.get_key("c")
    assert open_store(tmp_path, prompt=lambda: "correct horse", backend=fail).get_key("c") == KEY
    monkeypatch.setenv(PASSPHRASE_ENV, "wrong horse")
    with pytest.raises(WrongPassphrase):
        open_store(tmp_path, backend=fail)
