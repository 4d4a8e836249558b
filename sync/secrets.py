"""The one secret store of a data dir: API keys (keyed by connection id, service "MIRARI") and the
signed-in user's Supabase session (sync.session, service "MIRARI Desktop"). Every caller uses it: the
window (one store per window, `ctx.secrets`), the sync engine, `mirari account …`, `mirari sync`, the
Templates catalogue and the `mirari connections` commands.

Where secrets are kept, by the policy of sync.keychain:
1. the OS keychain (python `keyring`), when one is really there;
2. else the encrypted key file (sync.keyfile, `api-keys.enc` in the data dir), unlocked by its
   passphrase: the window asks for it (at start-up when the file is locked, in Settings, in the
   sign-in dialog), the command line reads MIRARI_KEY_PASSPHRASE (or asks in a terminal);
3. else memory only, by the user's explicit choice: forgotten when the process exits.
Until a choice is made where there is no keychain (keyring's fail/null backend, `NoKeyringError`, only
a plaintext backend such as keyrings.alt's, or a backend that fails to load), nothing is stored.
`SecretStore.status()` says which one is active, for Settings, Bind and the sign-in dialog. Secrets are
never written in plaintext, never logged, never put in the database.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keyring.errors
from keyring.backend import KeyringBackend

from sync.keychain import NO_KEYCHAIN, backend_name, keychain_usable, load_backend, unanswered
from sync.keyfile import FILE_NAME, EncryptedKeyFile, KeyFileDamaged, WrongPassphrase

__all__ = ["ENCRYPTED_FILE", "KEYCHAIN", "MEMORY", "NONE", "PASSPHRASE_ENV", "SERVICE", "KeyFileDamaged",
           "SecretStore", "SecretsLocked", "SecretsStatus", "SecretsUnavailable", "WrongPassphrase",
           "backend_name", "keychain_usable", "open_store"]

log = logging.getLogger(__name__)

SERVICE = "MIRARI"
PASSPHRASE_ENV = "MIRARI_KEY_PASSPHRASE"  # unlocks (or, where asked to, creates) the key file headlessly
# What the user does about a locked file / a missing choice, in the window and on the command line.
_UNLOCK = {False: "enter its passphrase (the window asks at start-up; Settings → Unlock)",
           True: f"set {PASSPHRASE_ENV} or run the command in a terminal"}
_CHOOSE = {False: "choose an encrypted key file or memory-only keys in Settings (or when signing in)",
           True: f"set {PASSPHRASE_ENV} to keep them in the encrypted key file (created with that passphrase)"}
KEYCHAIN, ENCRYPTED_FILE, MEMORY, NONE = "keychain", "encrypted_file", "memory", "none"


class SecretsUnavailable(Exception):
    """No place to keep a key right now; str() tells the user what to do."""


class SecretsLocked(SecretsUnavailable):
    def __init__(self, hint: str = _UNLOCK[False]) -> None:
        super().__init__(f"The encrypted key file is locked: {hint}.")


@dataclass(frozen=True)
class SecretsStatus:
    mode: str  # keychain | encrypted_file | memory | none
    label: str  # e.g. "OS keychain: SecretService", "Encrypted file (locked)"
    backend: str = ""  # keychain backend name, when mode == keychain
    locked: bool = False  # encrypted file not unlocked yet
    persistent: bool = False  # keys survive a restart
    needs_choice: bool = False  # no keychain and no fallback chosen: ask the user
    key_file_exists: bool = False
    problem: str | None = None  # why the OS keychain is not used (failed to load, plaintext only, ...)


def _locked(method):
    # GUI workers may read a key while the Settings page switches modes: one operation at a time.
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return wrapper


class SecretStore:
    """Thread-safe. Keychain calls may block (an OS unlock prompt): call from a worker, not the UI thread."""

    def __init__(self, data_dir: str | Path, backend: KeyringBackend | None = None, *,
                 headless: bool = False) -> None:
        """`headless`: a command-line store; its sentences say which variable to set, not what to click."""
        self._lock = threading.RLock()
        self.headless = headless
        # Never raises: a keychain that fails to load leaves the keys unavailable (with `problem` saying
        # why, for a notice), never the data unopened.
        if backend is None:
            backend, self.problem = load_backend()
        else:
            self.problem = None if keychain_usable(backend) else NO_KEYCHAIN
        self._backend = backend
        self._file = EncryptedKeyFile(Path(data_dir) / FILE_NAME)
        self._memory: dict[str, str] = {}
        if keychain_usable(self._backend):
            self._mode = KEYCHAIN
        else:
            self._mode = ENCRYPTED_FILE if self._file.exists else NONE

    def __repr__(self) -> str:
        return f"SecretStore(mode={self._mode!r})"

    # -- status and choices ----------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self._mode

    def status(self) -> SecretsStatus:
        """A snapshot for display. Deliberately not behind the lock: the GUI calls it on its UI thread,
        and a keychain call holding the lock can block for as long as an OS unlock prompt stays open."""
        mode, exists, problem = self._mode, self._file.exists, self.problem  # one consistent reading
        if mode == KEYCHAIN:
            name = backend_name(self._backend)
            return SecretsStatus(KEYCHAIN, f"OS keychain: {name}", name, persistent=True, key_file_exists=exists)
        if mode == ENCRYPTED_FILE:
            locked = not self._file.unlocked
            return SecretsStatus(ENCRYPTED_FILE, f"Encrypted file ({'locked' if locked else 'unlocked'})",
                                 locked=locked, persistent=True, key_file_exists=exists, problem=problem)
        if mode == MEMORY:
            return SecretsStatus(MEMORY, "Memory only — keys are forgotten on exit", key_file_exists=exists,
                                 problem=problem)
        return SecretsStatus(NONE, "No OS keychain — choose an encrypted file or memory only",
                             needs_choice=True, key_file_exists=exists, problem=problem)

    @_locked
    def use_encrypted_file(self, passphrase: str) -> None:
        """Unlock the key file (creating it on first use); keys held in memory move into it.

        Raises WrongPassphrase / KeyFileDamaged (sync.keyfile); the mode is unchanged then.
        """
        self._file.unlock(passphrase)
        if self._memory:
            self._file.keys.update(self._memory)
            self._file.save()
            self._memory.clear()
        self._mode = ENCRYPTED_FILE
        log.info("API keys: using the encrypted key file")

    @_locked
    def use_memory_only(self) -> None:
        if self._mode == ENCRYPTED_FILE and self._file.unlocked:
            self._memory.update(self._file.keys)  # keep what this session can already use
        self._file.lock()
        self._mode = MEMORY
        log.info("API keys: memory only")

    @_locked
    def lock(self) -> None:
        """Forget the encrypted file's derived key; keys need the passphrase again."""
        self._file.lock()

    # -- keys ------------------------------------------------------------------------------------
    @_locked
    def get_key(self, connection_id: str) -> str:
        """The key of a connection, "" if none. Raises SecretsLocked / SecretsUnavailable."""
        return self.get_secret(SERVICE, connection_id)

    @_locked
    def has_key(self, connection_id: str) -> bool:
        try:
            return bool(self.get_key(connection_id))
        except SecretsUnavailable:
            return False

    @_locked
    def set_key(self, connection_id: str, key: str | None) -> None:
        """Store the key; a blank key removes it (local runners need none)."""
        key = (key or "").strip()
        if not key:
            self.delete_key(connection_id)
            return
        self.set_secret(SERVICE, connection_id, key)

    @_locked
    def delete_key(self, connection_id: str) -> None:
        self.delete_secret(SERVICE, connection_id)

    # -- any secret (the Supabase session uses these with its own service name) --------------------
    @staticmethod
    def _name(service: str, name: str) -> str:
        # In the key file and in memory, API keys keep their bare connection id (the file's format).
        return name if service == SERVICE else f"{service}\n{name}"

    @_locked
    def get_secret(self, service: str, name: str) -> str:
        """The secret, "" if none. Raises SecretsLocked / SecretsUnavailable (with a sentence)."""
        if self._mode == KEYCHAIN:
            try:
                return self._backend.get_password(service, name) or ""
            except keyring.errors.NoKeyringError:
                self._keychain_lost()
            except Exception as exc:  # noqa: BLE001 - locked, D-Bus gone, a backend bug: unavailable, said
                raise SecretsUnavailable(_sentence(unanswered(exc))) from None
        if self._mode == ENCRYPTED_FILE:
            if not self._file.unlocked:
                raise SecretsLocked(_UNLOCK[self.headless])
            return self._file.keys.get(self._name(service, name), "")
        return self._memory.get(self._name(service, name), "")

    @_locked
    def set_secret(self, service: str, name: str, value: str) -> None:
        if self._mode == KEYCHAIN:
            try:
                self._backend.set_password(service, name, value)
                return
            except keyring.errors.NoKeyringError:
                self._keychain_lost()
            except Exception as exc:  # noqa: BLE001
                raise SecretsUnavailable(_sentence(unanswered(exc)) + " Nothing was stored.") from None
        if self._mode == ENCRYPTED_FILE:
            if not self._file.unlocked:
                raise SecretsLocked(_UNLOCK[self.headless])
            self._file.keys[self._name(service, name)] = value
            self._file.save()
        elif self._mode == MEMORY:
            self._memory[self._name(service, name)] = value
        else:
            raise SecretsUnavailable(
                ("No OS keychain is available" if not self.problem else _sentence(self.problem)).rstrip(".")
                + f": {_CHOOSE[self.headless]}, then try again.")

    @_locked
    def delete_secret(self, service: str, name: str) -> None:
        self._memory.pop(self._name(service, name), None)
        if self._mode == KEYCHAIN:
            try:
                self._backend.delete_password(service, name)
            except keyring.errors.PasswordDeleteError:
                pass  # there was none
            except keyring.errors.NoKeyringError:
                self._keychain_lost()
            except Exception as exc:  # noqa: BLE001
                raise SecretsUnavailable(_sentence(unanswered(exc))) from None
        elif self._mode == ENCRYPTED_FILE:
            if not self._file.unlocked:
                raise SecretsLocked(_UNLOCK[self.headless])
            if self._file.keys.pop(self._name(service, name), None) is not None:
                self._file.save()

    def _keychain_lost(self) -> None:
        # The backend looked usable but has no keychain behind it (e.g. no D-Bus session).
        self._mode = ENCRYPTED_FILE if self._file.exists else NONE
        self.problem = "the OS keychain is not available"
        log.warning("the OS keychain is not available; API keys need an explicit fallback")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def terminal_passphrase() -> str | None:
    """Ask for the key file's passphrase on a terminal (None when there is none: a script, a service)."""
    if not sys.stdin.isatty():
        return None
    import getpass

    return getpass.getpass("Passphrase of the MIRARI key file: ") or None


def open_store(data_dir: str | Path, *, create: bool = False, prompt: Callable[[], str | None] | None = None,
               backend: KeyringBackend | None = None) -> SecretStore:
    """The store of a headless caller (the command line, a sync engine made without the window's store),
    unlocked if it is the encrypted file: by MIRARI_KEY_PASSPHRASE, else by `prompt()` (e.g.
    `terminal_passphrase`). `create`: where there is no keychain and no key file yet, MIRARI_KEY_PASSPHRASE
    creates the file (a sign-in or a key being stored must be kept somewhere). Without a passphrase the
    store stays locked (or undecided), and using it raises a sentence saying what to set.

    Raises WrongPassphrase / KeyFileDamaged when the passphrase given does not open the file."""
    store = SecretStore(data_dir, backend, headless=True)
    status = store.status()
    if status.mode == ENCRYPTED_FILE and status.locked:
        passphrase = os.environ.get(PASSPHRASE_ENV) or (prompt() if prompt is not None else None)
    elif status.mode == NONE and create:
        passphrase = os.environ.get(PASSPHRASE_ENV)  # never a one-off prompt: a typo would lock it away
    else:
        return store
    if passphrase:
        store.use_encrypted_file(passphrase)
    return store
