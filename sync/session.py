"""The signed-in user's Supabase session: kept in the data dir's secret store, refreshed single-flight.

Auth calls go through the official `supabase` client (imported lazily: it costs about half a second).
The access token is refreshed shortly before it expires and after a 401. Refresh is single-flight: a
thread that got a 401 passes the token it used; if another thread already replaced that token, it just
takes the new one. Two refreshes of one refresh token would revoke the session under rotation
(auth-js#213), so that must never happen.

Expiry is tracked against the local monotonic/wall clock *relative to when the token arrived*
(`expires_in`), never by comparing the server's `exp` with a possibly skewed device clock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from local_schema.atomic import atomic_write_json
from sync import deadline
from sync.config import SupabaseConfig
from sync.errors import (
    KEY_REFUSED_CODE,
    KEY_REFUSED_TEXT,
    KeychainUnavailable,
    Kind,
    RequestFailed,
    SignInNeeded,
    SyncError,
    is_key_refusal,
)
from sync.keychain import NO_KEYCHAIN, plaintext_allowed
from sync.secrets import PASSPHRASE_ENV

log = logging.getLogger(__name__)

KEYRING_SERVICE = "MIRARI Desktop"
PLAINTEXT_ENV = "MIRARI_ALLOW_PLAINTEXT_SESSION"
REFRESH_MARGIN = 60.0  # seconds before expiry at which a token is refreshed proactively
AUTH_TIMEOUT = 10.0  # per socket operation of an auth request
AUTH_DEADLINE = 30.0  # seconds for a whole auth request (sync.deadline)


@dataclass
class AuthSession:
    user_id: str
    email: str
    access_token: str
    refresh_token: str
    expires_at: float  # local wall-clock seconds = receipt time + the server's expires_in
    lifetime: float = 3600.0  # the server's expires_in

    def expires_soon(self) -> bool:
        # A quarter of the lifetime, at most a minute: short-lived tokens are not refreshed on every call.
        return time.time() >= self.expires_at - min(REFRESH_MARGIN, self.lifetime / 4)


class SessionLocked(KeychainUnavailable):
    """The session is in the encrypted key file, which is locked: sync waits for its passphrase."""


class SessionStore:
    """Where the session of one data dir is kept (devices in tests = data dirs, so the dir is the key):
    in the data dir's secret store (sync.secrets) — the OS keychain, else the encrypted key file, else
    memory by the user's choice — beside the API keys, for the window and the command line alike.

    Where the store has no place yet (no keychain, no choice made): nothing is kept, unless the user
    opted in to `session.json` (0600, plain text) with MIRARI_ALLOW_PLAINTEXT_SESSION=1 or
    MIRARI_ALLOW_PLAINTEXT_SECRETS=1. A store that fails to answer raises KeychainUnavailable (a
    SyncError: the cycle reports it, nothing else stops); a locked key file raises SessionLocked."""

    def __init__(self, data_dir: Path, secrets):
        self.data_dir = Path(data_dir)
        self.username = f"supabase-session:{self.data_dir.resolve()}"
        self.plaintext_path = self.data_dir / "session.json"
        self.secrets = secrets  # sync.secrets.SecretStore

    def _plaintext(self) -> bool:
        """True: the store has no place for secrets, and the user allowed session.json instead."""
        from sync.secrets import NONE

        return self.secrets.mode == NONE and plaintext_allowed()

    def _cannot_keep(self) -> KeychainUnavailable | None:
        """Why no session can be kept now (the store has no place yet), or None."""
        from sync.secrets import NONE

        if self.secrets.mode != NONE or plaintext_allowed():
            return None
        choose = (f"set {PASSPHRASE_ENV} to keep it in the encrypted key file" if self.secrets.headless
                  else "choose an encrypted key file or memory only (when signing in, or in Settings)")
        return KeychainUnavailable(f"{self.secrets.problem or NO_KEYCHAIN}, so your session cannot be kept: "
                                   f"{choose}, or set {PLAINTEXT_ENV}=1 to keep it in {self.plaintext_path} "
                                   "(mode 0600, plain text)")

    def _call(self, what: str, fn):
        from sync.secrets import SecretsLocked

        try:
            return fn()
        except SecretsLocked as exc:
            raise SessionLocked(f"your session could not be {what}: {_clause(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - the keychain did not answer, a damaged key file: said
            raise KeychainUnavailable(f"your session could not be {what}: {_clause(exc)}") from None

    def load(self) -> AuthSession | None:
        problem = self._cannot_keep()
        if problem is not None:
            if self.secrets.problem in (None, NO_KEYCHAIN):
                return None  # nothing was kept (memory only last time): the user signs in again
            raise problem  # a keychain that broke: say why, not just "sign in"
        if self._plaintext():
            raw = self.plaintext_path.read_text(encoding="utf-8") if self.plaintext_path.exists() else None
        else:
            raw = self._call("read", lambda: self.secrets.get_secret(KEYRING_SERVICE, self.username))
        if not raw:
            return None
        try:
            return AuthSession(**json.loads(raw))
        except (ValueError, TypeError):
            return None  # an unreadable entry is as good as none: the user signs in again

    def save(self, session: AuthSession) -> None:
        self.check()
        if self._plaintext():
            atomic_write_json(self.plaintext_path, asdict(session))
        else:
            raw = json.dumps(asdict(session))
            self._call("stored", lambda: self.secrets.set_secret(KEYRING_SERVICE, self.username, raw))

    def check(self) -> None:
        """Raise KeychainUnavailable (SessionLocked for a locked key file) now if a session could not be
        kept, before an account is created or a password sent."""
        problem = self._cannot_keep()
        if problem is not None:
            raise problem
        if self.secrets.status().locked:  # reading says it in the store's own words
            self._call("kept", lambda: self.secrets.get_secret(KEYRING_SERVICE, self.username))

    def clear(self) -> None:
        if self._plaintext():
            self.plaintext_path.unlink(missing_ok=True)
        else:  # (with no place at all this only forgets what memory held)
            self._call("removed", lambda: self.secrets.delete_secret(KEYRING_SERVICE, self.username))


def _clause(exc: BaseException) -> str:
    """The store's sentence as the second half of ours."""
    text = str(exc).rstrip(".")
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _session_from_response(response) -> AuthSession:
    session = response.session
    if session is None:
        raise SyncError("the server created the account but returned no session "
                        "(email confirmation is on for this project: confirm the email, then log in)")
    return AuthSession(
        user_id=str(session.user.id), email=session.user.email or "",
        access_token=session.access_token, refresh_token=session.refresh_token,
        expires_at=time.time() + float(session.expires_in or 3600), lifetime=float(session.expires_in or 3600))


def _auth_failure(exc: Exception) -> Exception:
    """Map supabase-auth exceptions to ours: network trouble is transient, an API refusal is final and
    said as a plain sentence (sync.auth_errors)."""
    from supabase_auth.errors import AuthApiError, AuthRetryableError, AuthUnknownError, AuthWeakPasswordError

    from sync.auth_errors import refused

    if isinstance(exc, AuthRetryableError):
        status = getattr(exc, "status", None)
        if not status:  # supabase-auth reports "no connection" as a retryable error with status 0
            return RequestFailed(Kind.TRANSIENT, None, None, f"cannot reach the auth server: {exc}")
        return RequestFailed(Kind.TRANSIENT, status, None, f"the auth server is unavailable (HTTP {status})")
    if isinstance(exc, AuthApiError | AuthWeakPasswordError):
        return refused(exc)
    if isinstance(exc, AuthUnknownError):
        return SyncError(NOT_SUPABASE_AUTH)
    import httpx

    if isinstance(exc, httpx.HTTPError):
        return RequestFailed(Kind.TRANSIENT, None, None, f"cannot reach the auth server: {exc}")
    if isinstance(exc, ValueError):
        # supabase-auth parses a 2xx body straight into its models: HTML from a proxy, a JSON reply cut
        # short or another service's JSON surface as a pydantic ValidationError (a ValueError, printed
        # as a page of traceback). It says
        # nothing about the session; the cycle ends and is tried again later.
        return RequestFailed(Kind.MISCONFIGURED, None, None, NOT_SUPABASE_AUTH)
    return exc


NOT_SUPABASE_AUTH = ("server unreachable or misconfigured: the auth server's answer is not Supabase Auth's "
                     "(a web page or a reply cut short); check the project URL (Settings → API → Project URL, "
                     "e.g. https://xyz.supabase.co)")


class SessionManager:
    def __init__(self, config: SupabaseConfig, store: SessionStore):
        self.config, self.store = config, store
        self._lock = threading.Lock()
        self._client = None
        self._session: AuthSession | None = None
        self._loaded = False
        self._superseded: set[str] = set()
        self.refresh_count = 0  # observable for tests: single-flight means one refresh per expiry

    # -- the official client, created on first use ---------------------------------------------------
    def _auth(self):
        if self._client is None:
            from supabase.lib.client_options import SyncClientOptions

            from supabase import create_client

            # We persist and refresh the session ourselves (keychain, single-flight), so the client's own
            # timer and storage are off. Its HTTP client honours our deadlines (`_within`).
            http = httpx.Client(transport=deadline.transport(verify=not self.config.url.startswith("http://")),
                                timeout=AUTH_TIMEOUT, follow_redirects=True)
            self._client = create_client(self.config.url, self.config.anon_key, options=SyncClientOptions(
                auto_refresh_token=False, persist_session=False, httpx_client=http))
        return self._client.auth

    def current(self) -> AuthSession | None:
        with self._lock:
            if not self._loaded:
                self._session, self._loaded = self.store.load(), True
            return self._session

    def _adopt(self, session: AuthSession) -> AuthSession:
        self.store.save(session)
        self._session, self._loaded = session, True
        return session

    def sign_up(self, email: str, password: str) -> AuthSession:
        self.store.check()  # fail before creating anything if the session could not be kept
        try:
            with deadline.deadline(AUTH_DEADLINE):
                response = self._auth().sign_up({"email": email, "password": password})
        except Exception as exc:
            raise _auth_failure(exc) from exc
        with self._lock:
            return self._adopt(_session_from_response(response))

    def sign_in(self, email: str, password: str) -> AuthSession:
        self.store.check()
        try:
            with deadline.deadline(AUTH_DEADLINE):
                response = self._auth().sign_in_with_password({"email": email, "password": password})
        except Exception as exc:
            raise _auth_failure(exc) from exc
        with self._lock:
            return self._adopt(_session_from_response(response))

    def sign_out(self) -> None:
        """Revoke the session on the server if we can; forget it locally in any case."""
        with self._lock:
            session = self._session if self._loaded else None
            try:
                session = session or self.store.load()
                self.store.clear()
            except KeychainUnavailable as exc:  # signing out must work without a keychain answering
                log.warning("signed out, but the stored session could not be removed: %s", exc)
            self._session, self._loaded = None, True
        if session is not None:
            # Offline or already revoked: the local sign-out is what matters.
            with contextlib.suppress(Exception), deadline.deadline(AUTH_DEADLINE):
                self._auth().admin.sign_out(session.access_token, "local")

    def access_token(self) -> str:
        """A token valid for at least REFRESH_MARGIN seconds (refreshing first if needed)."""
        session = self.current()
        if session is None:
            raise SignInNeeded("not signed in: run `mirari account login`")
        if session.expires_soon():
            return self.refresh(session.access_token)
        return session.access_token

    def refresh(self, stale_token: str) -> str:
        """Single-flight refresh: only the first caller holding `stale_token` talks to the server."""
        with self._lock:
            if not self._loaded:
                self._session, self._loaded = self.store.load(), True
            session = self._session
            if session is None:
                raise SignInNeeded("not signed in: run `mirari account login`")
            replaced = stale_token in self._superseded or session.access_token != stale_token
            if replaced and not session.expires_soon():
                return session.access_token  # someone else refreshed while we waited for the lock
            from supabase_auth.errors import AuthApiError

            try:
                with deadline.deadline(AUTH_DEADLINE):
                    response = self._auth().refresh_session(session.refresh_token)
            except AuthApiError as exc:
                if is_key_refusal(exc.status, exc.message):  # the gateway refused the anon key, not the token
                    raise RequestFailed(Kind.MISCONFIGURED, exc.status, KEY_REFUSED_CODE, KEY_REFUSED_TEXT) from exc
                # invalid/revoked/reused refresh token, session gone: only a new sign-in helps.
                raise SignInNeeded(f"sign-in needed: {exc.message}") from exc
            except Exception as exc:
                raise _auth_failure(exc) from exc
            self.refresh_count += 1
            # Remember what was replaced (the new token can even be byte-identical within one second).
            self._superseded = {*list(self._superseded)[-15:], session.access_token}
            fresh = _session_from_response(response)
            return self._adopt(fresh).access_token
