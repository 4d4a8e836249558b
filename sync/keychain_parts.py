"""Secrets longer than one Windows credential, kept in parts.

Windows Credential Manager holds at most 2,560 bytes per credential: 1,280 characters, since keyring
stores text as UTF-16. A Supabase session (an access token that carries the user's email twice, a
refresh token, the email again, in JSON) comes close and passes it with a longer email or richer user
metadata, and keyring's WinVaultKeyring then fails with "The stub received bad data" (error 1783), so
the user could not stay signed in. keyring does not split (jaraco/keyring#540); this module does, for
the Windows backend only: a longer secret's entry holds a short header naming its number of parts, and
part i is the entry `<name>#<i>` of the same service. Shorter secrets are stored exactly as before.

Lower layer than agent/ (sync.keychain wraps the backend it loads); no Qt.
"""

from __future__ import annotations

import contextlib

PART_CHARS = 1280  # 2,560 bytes of UTF-16
HEADER = "mirari-parts:"  # no secret of ours starts so (API keys, the session's JSON)


def needs_parts(backend) -> bool:
    """The backends with the Credential Manager's size limit."""
    return type(backend).__module__ == "keyring.backends.Windows"


class PartedKeyring:
    """A keyring backend's get/set/delete_password, with values longer than `limit` kept in parts.
    Everything else (name, priority, ...) is the wrapped backend's. Deliberately not a KeyringBackend
    subclass: those register themselves with keyring's own backend discovery."""

    def __init__(self, backend, limit: int = PART_CHARS) -> None:
        self.backend = backend
        self.limit = limit

    def __getattr__(self, attr: str):
        return getattr(self.backend, attr)

    def __repr__(self) -> str:
        return f"PartedKeyring({self.backend!r})"

    @staticmethod
    def _part(username: str, index: int) -> str:
        return f"{username}#{index}"

    def _count(self, head: str | None) -> int:
        if head is None or not head.startswith(HEADER):
            return 0
        try:
            return max(0, int(head[len(HEADER):]))
        except ValueError:
            return 0

    def get_password(self, service: str, username: str) -> str | None:
        head = self.backend.get_password(service, username)
        if head is None or not head.startswith(HEADER):
            return head
        parts = [self.backend.get_password(service, self._part(username, i)) for i in range(self._count(head))]
        if not parts or None in parts:
            return None  # a part went missing: as good as no secret (the user signs in again)
        return "".join(parts)

    def set_password(self, service: str, username: str, password: str) -> None:
        before = self._count(self.backend.get_password(service, username))
        if len(password) <= self.limit and not password.startswith(HEADER):
            self.backend.set_password(service, username, password)
            self._drop_parts(service, username, 0, before)
            return
        parts = [password[i:i + self.limit] for i in range(0, len(password), self.limit)]
        for index, part in enumerate(parts):  # the parts first: the header never names a missing one
            self.backend.set_password(service, self._part(username, index), part)
        self.backend.set_password(service, username, f"{HEADER}{len(parts)}")
        self._drop_parts(service, username, len(parts), before)

    def delete_password(self, service: str, username: str) -> None:
        before = self._count(self.backend.get_password(service, username))
        self.backend.delete_password(service, username)  # PasswordDeleteError if there is none
        self._drop_parts(service, username, 0, before)

    def _drop_parts(self, service: str, username: str, start: int, stop: int) -> None:
        """Delete parts start..stop-1, left over from an earlier, longer value."""
        from keyring.errors import PasswordDeleteError

        for index in range(start, stop):
            with contextlib.suppress(PasswordDeleteError):
                self.backend.delete_password(service, self._part(username, index))


def fit(backend):
    """`backend`, wrapped in PartedKeyring when it has the Credential Manager's size limit."""
    return PartedKeyring(backend) if needs_parts(backend) else backend
