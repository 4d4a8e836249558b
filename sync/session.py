"""The signed-in user's Supabase session: kept in the OS keychain, refreshed single-flight.

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

from sync.config import SupabaseConfig, atomic_write_json
from sync.errors import KeychainUnavailable, Kind, RequestFailed, SignInNeeded, SyncError
from sync.keychain import load_backend, plaintext_allowed, unanswered

log = logging.getLogger(__name__)

KEYRING_SERVICE = "MIRARI Desktop"
PLAINTEXT_ENV = "MIRARI_ALLOW_PLAINTEXT_SESSION"
REFRESH_MARGIN = 60.0  # seconds before expiry at which a token is refreshed proactively


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


class SessionStore:
    """Where the session of one data dir is kept (devices in tests = data dirs, so the dir is the key),
    by the one keychain policy (sync.keychain):

    - `secrets` given (the window's agent.secrets.SecretStore): wherever it keeps the API keys — the OS
      keychain, or the user's explicit choice of the encrypted key file or memory only;
    - otherwise (the command line): the OS keychain;
    - with neither: `session.json` (0600, plain text) only if the user opted in
      (MIRARI_ALLOW_PLAINTEXT_SESSION=1 or MIRARI_ALLOW_PLAINTEXT_SECRETS=1), else KeychainUnavailable
      with a sentence. A plaintext keyring backend (keyrings.alt) counts as no keychain without the opt-in.
    A keychain that fails to load or answer raises KeychainUnavailable (a SyncError: the cycle reports
    it, nothing else stops)."""

    def __init__(self, data_dir: Path, secrets=None):
        self.data_dir = Path(data_dir)
        self.username = f"supabase-session:{self.data_dir.resolve()}"
        self.plaintext_path = self.data_dir / "session.json"
        self.secrets = secrets

    def _where(self):
        """("vault", store) | ("keyring", backend) | ("file", None). Raises KeychainUnavailable."""
        if self.secrets is not None and getattr(self.secrets, "mode", None) != "none":
            return "vault", self.secrets
        backend, problem = (None, "no OS keychain is available") if self.secrets is not None else load_backend()
        if problem is None:
            return "keyring", backend
        if plaintext_allowed():
            return "file", None
        raise KeychainUnavailable(
            f"{problem}, so your session cannot be kept: "
            + ("choose an encrypted key file or memory-only keys in Settings, " if self.secrets is not None
               else "install one (e.g. gnome-keyring), ")
            + f"or set {PLAINTEXT_ENV}=1 to keep it in {self.plaintext_path} (mode 0600, plain text)")

    def _call(self, what: str, fn):
        try:
            return fn()
        except KeychainUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - locked, D-Bus gone, the key file locked: unavailable, said
            if type(exc).__name__ == "PasswordDeleteError":
                return None
            message = str(exc) if self.secrets is not None else unanswered(exc)
            raise KeychainUnavailable(f"your session could not be {what}: {message}") from None

    def load(self) -> AuthSession | None:
        where, store = self._where()
        if where == "file":
            raw = self.plaintext_path.read_text(encoding="utf-8") if self.plaintext_path.exists() else None
        elif where == "vault":
            raw = self._call("read", lambda: store.get_secret(KEYRING_SERVICE, self.username))
        else:
            raw = self._call("read", lambda: store.get_password(KEYRING_SERVICE, self.username))
        if not raw:
            return None
        try:
            return AuthSession(**json.loads(raw))
        except (ValueError, TypeError):
            return None  # an unreadable entry is as good as none: the user signs in again

    def save(self, session: AuthSession) -> None:
        raw = json.dumps(asdict(session))
        where, store = self._where()
        if where == "file":
            atomic_write_json(self.plaintext_path, asdict(session))
        elif where == "vault":
            self._call("stored", lambda: store.set_secret(KEYRING_SERVICE, self.username, raw))
        else:
            self._call("stored", lambda: store.set_password(KEYRING_SERVICE, self.username, raw))

    def check(self) -> None:
        """Raise KeychainUnavailable now if a session could not be kept (before creating an account)."""
        where, store = self._where()
        if where == "vault" and getattr(store.status(), "locked", False):
            raise KeychainUnavailable("the encrypted key file is locked: enter its passphrase in Settings, "
                                      "then sign in (your session is kept there)")

    def clear(self) -> None:
        where, store = self._where()
        if where == "file":
            self.plaintext_path.unlink(missing_ok=True)
        elif where == "vault":
            self._call("removed", lambda: store.delete_secret(KEYRING_SERVICE, self.username))
        else:
            self._call("removed", lambda: store.delete_password(KEYRING_SERVICE, self.username))


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
            # timer and storage are off.
            self._client = create_client(self.config.url, self.config.anon_key, options=SyncClientOptions(
                auto_refresh_token=False, persist_session=False))
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
            response = self._auth().sign_up({"email": email, "password": password})
        except Exception as exc:
            raise _auth_failure(exc) from exc
        with self._lock:
            return self._adopt(_session_from_response(response))

    def sign_in(self, email: str, password: str) -> AuthSession:
        self.store.check()
        try:
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
            with contextlib.suppress(Exception):
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
                response = self._auth().refresh_session(session.refresh_token)
            except AuthApiError as exc:
                # invalid/revoked/reused refresh token, session gone: only a new sign-in helps.
                raise SignInNeeded(f"sign-in needed: {exc.message}") from exc
            except Exception as exc:
                raise _auth_failure(exc) from exc
            self.refresh_count += 1
            # Remember what was replaced (the new token can even be byte-identical within one second).
            self._superseded = {*list(self._superseded)[-15:], session.access_token}
            fresh = _session_from_response(response)
            return self._adopt(fresh).access_token
