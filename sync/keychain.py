"""One keychain policy for every secret MIRARI keeps: the Supabase session tokens and the API keys.

1. The OS keychain (python `keyring`: Secret Service / KWallet, macOS Keychain, Windows Credential
   Manager), when one is really there.
2. Otherwise the user's explicit choice (sync.secrets.SecretStore): an encrypted key file unlocked by a
   passphrase, or memory only (forgotten on exit). Until they choose, nothing is stored.
3. Never plain text silently. keyrings.alt's file backends (`PlaintextKeyring` stores base64, which is
   plain text) and any other plaintext backend count as no keychain, unless the user opts in with
   MIRARI_ALLOW_PLAINTEXT_SECRETS=1 (MIRARI_ALLOW_PLAINTEXT_SESSION=1, the older name, too).
4. Windows Credential Manager keeps at most 1,280 characters per entry: longer secrets (a session can
   be longer) are stored there in parts (sync.keychain_parts).
5. A keychain that fails to load (a broken PYTHON_KEYRING_BACKEND, a backend that raises while being
   probed) or to answer (a locked or absent Secret Service) never stops anything else: the secrets are
   unavailable, with a sentence that says why, and the data opens and works.

No Qt; used by sync.secrets.
"""

from __future__ import annotations

import logging
import os

from sync.keychain_parts import fit

log = logging.getLogger(__name__)

NO_KEYCHAIN = "no OS keychain is available"  # load_backend's problem on a machine that simply has none

OPT_IN_ENVS = ("MIRARI_ALLOW_PLAINTEXT_SECRETS", "MIRARI_ALLOW_PLAINTEXT_SESSION")
# Backends that keep secrets in a file anyone with the file can read (keyrings.alt's PlaintextKeyring is
# base64; its EncryptedKeyring prompts for a password on a terminal, useless to a desktop app).
_PLAINTEXT_MODULES = ("keyrings.alt.file", "keyrings.alt.pyfs", "keyrings.alt.multi")


def plaintext_allowed() -> bool:
    """The user opted in to plain-text storage of secrets (never the default)."""
    return any(os.environ.get(name) == "1" for name in OPT_IN_ENVS)


def is_plaintext(backend) -> bool:
    module = type(backend).__module__ or ""
    name = type(backend).__name__.lower()
    return module.startswith(_PLAINTEXT_MODULES) or "plaintext" in name or "base64" in name


def _chained(backend) -> list | None:
    return getattr(backend, "backends", None) if type(backend).__module__ == "keyring.backends.chainer" else None


def keychain_usable(backend, allow_plaintext: bool | None = None) -> bool:
    """False for keyring's fail/null backends, an empty chainer, a backend whose viability check fails,
    and (without the opt-in) plaintext backends, including a chainer that could fall back to one."""
    if backend is None:
        return False
    allow = plaintext_allowed() if allow_plaintext is None else allow_plaintext
    module = type(backend).__module__
    if module in ("keyring.backends.fail", "keyring.backends.null"):
        return False
    chained = _chained(backend)
    if chained is not None:
        return any(keychain_usable(b, allow) for b in chained)
    if is_plaintext(backend) and not allow:
        return False
    try:
        return backend.priority > 0
    except Exception:  # noqa: BLE001 - a backend whose viability check itself fails is not usable
        return False


def backend_name(backend) -> str:
    """A human name for a keyring backend: 'SecretService', 'macOS Keychain', 'Windows Credential Manager'."""
    chained = _chained(backend)
    if chained:  # ChainerBackend: the first backend is the one that answers
        return backend_name(chained[0])
    name = str(getattr(backend, "name", type(backend).__name__)).removesuffix(" Keyring")
    if name.startswith("macOS"):
        return "macOS Keychain"
    if name.startswith("Windows"):
        return "Windows Credential Manager"
    if name.startswith("kwallet"):
        return "KWallet"
    return name


def load_backend():
    """(the keyring backend, None) or (None, why there is none). Never raises: keyring imports the
    backend named in PYTHON_KEYRING_BACKEND or its config file, and probes D-Bus, when first asked."""
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - ImportError of a configured backend, a probe that raised...
        log.warning("the OS keychain could not be loaded", exc_info=True)
        return None, f"the OS keychain could not be loaded ({type(exc).__name__}: {exc})"
    chained = _chained(backend)
    if chained is not None and not plaintext_allowed():
        # keyring's chainer (several backends installed, e.g. Secret Service and keyrings.alt) writes
        # to the first one that accepts: a locked Secret Service would make it fall through to a
        # plaintext file without a word. Use the first real keychain on its own instead.
        real = [b for b in chained if keychain_usable(b, False)]
        if real:
            return fit(real[0]), None
        backend = next(iter(chained), backend)
    if keychain_usable(backend):
        return fit(backend), None  # Windows: longer secrets in parts (sync.keychain_parts)
    if is_plaintext(backend):
        return backend, (f"the only keychain here ({backend_name(backend)}) keeps secrets in plain text; "
                         f"set {OPT_IN_ENVS[0]}=1 to allow it")
    return backend, NO_KEYCHAIN


def unanswered(exc: BaseException) -> str:
    """The sentence for a keychain that was there but did not answer (locked, D-Bus gone, ...)."""
    return f"the OS keychain did not answer ({type(exc).__name__}{f': {exc}' if str(exc) else ''})"
