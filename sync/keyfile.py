"""The passphrase-encrypted key file: the fallback when the machine has no OS keychain (sync.secrets).

Format (JSON, mode 0600, written atomically): scrypt parameters and salt, a 12-byte nonce and the
AES-256-GCM ciphertext of `{"<connection id>": "<API key>", "MIRARI Desktop\n<session>": "<tokens>"}`.
Every save draws a fresh nonce.
A wrong passphrase (or a tampered file) fails authentication: nothing is ever decrypted to garbage.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from local_schema.atomic import atomic_write_json

FILE_NAME = "api-keys.enc"
_SCRYPT_N = 2**15  # ~32 MB, ~0.1 s: slows guessing without annoying the user
_AAD = b"MIRARI key file v1"


class WrongPassphrase(Exception):
    def __init__(self) -> None:
        super().__init__("That passphrase does not unlock the key file.")


class KeyFileDamaged(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(passphrase: str, salt: bytes, n: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(passphrase.encode("utf-8"))


class EncryptedKeyFile:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._key: bytes | None = None  # derived key while unlocked; the passphrase itself is not kept
        self._salt: bytes | None = None
        self._n = _SCRYPT_N
        self.keys: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"EncryptedKeyFile({str(self.path)!r}, {'unlocked' if self.unlocked else 'locked'})"

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @property
    def unlocked(self) -> bool:
        return self._key is not None

    def unlock(self, passphrase: str) -> None:
        """Open the file with `passphrase`, or create it (empty) if there is none yet."""
        if not passphrase:
            raise ValueError("Enter a passphrase.")
        if not self.exists:
            self._salt, self._n = os.urandom(16), _SCRYPT_N
            self._key, self.keys = _derive(passphrase, self._salt, self._n), {}
            self.save()
            return
        try:
            doc = json.loads(self.path.read_text("utf-8"))
            salt, n = base64.b64decode(doc["salt"]), int(doc["n"])
            nonce, ciphertext = base64.b64decode(doc["nonce"]), base64.b64decode(doc["ciphertext"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyFileDamaged(f"The key file {self.path} is damaged and cannot be read.") from exc
        key = _derive(passphrase, salt, n)
        try:
            plain = AESGCM(key).decrypt(nonce, ciphertext, _AAD)
        except InvalidTag:
            raise WrongPassphrase() from None
        self._salt, self._n, self._key, self.keys = salt, n, key, json.loads(plain)

    def lock(self) -> None:
        self._key, self.keys = None, {}

    def save(self) -> None:
        if self._key is None or self._salt is None:
            raise RuntimeError("the key file is locked")
        nonce = os.urandom(12)
        ciphertext = AESGCM(self._key).encrypt(nonce, json.dumps(self.keys).encode("utf-8"), _AAD)
        doc = {"format": "mirari-keys", "version": 1, "kdf": "scrypt", "n": self._n, "r": 8, "p": 1,
               "salt": _b64(self._salt), "cipher": "AES-256-GCM", "nonce": _b64(nonce),
               "ciphertext": _b64(ciphertext)}
        atomic_write_json(self.path, doc, mode=0o600)
