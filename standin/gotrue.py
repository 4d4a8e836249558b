"""The Supabase Auth (GoTrue) subset a sync client uses (docs/standin.md, "GoTrue").

Users live in auth.users with bcrypt hashes from pgcrypto; sessions and rotating refresh tokens in the
stand-in's auth.sessions / auth.refresh_tokens. Access tokens are HS256 JWTs with GoTrue's claims.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from datetime import UTC, datetime

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from standin import gotrue_params, tokens

# badoux/checkmail ValidateFormat, which GoTrue's validateEmail uses (so no NUL, no spaces).
_EMAIL = re.compile(r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
                    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")
# Refresh tokens this stand-in issues (secrets.token_urlsafe); GoTrue's Validate() refuses anything that
# cannot be one of its tokens before looking it up.
_REFRESH_TOKEN = re.compile(r"[A-Za-z0-9_-]{12,}")
MAX_PASSWORD_BYTES = 72  # bcrypt's limit, GoTrue's MaxPasswordLength
_USER_COLUMNS = ("id, aud, role, email, phone, email_confirmed_at, confirmed_at, last_sign_in_at, "
                 "raw_app_meta_data, raw_user_meta_data, is_anonymous, created_at, updated_at, banned_until, "
                 "coalesce(banned_until > now(), false) as banned")
_APP_METADATA = {"provider": "email", "providers": ["email"]}


class AuthError(Exception):
    def __init__(self, status: int, code: str, message: str, extra: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra or {}

    def response(self, request: Request) -> Response:
        version = request.headers.get("x-supabase-api-version")
        if version:  # 2024-01-01 format, echoing the version header (only on errors)
            body = {"code": self.code, "message": self.message, **self.extra}
            headers = {"X-Supabase-Api-Version": version, "x-sb-error-code": self.code}
        else:
            body = {"code": self.status, "error_code": self.code, "msg": self.message, **self.extra}
            headers = {"x-sb-error-code": self.code}
        return JSONResponse(body, self.status, headers=headers)


def crypt_input(password: str) -> str:
    """The text handed to pgcrypto's crypt(): Postgres text cannot hold NUL, Go's bcrypt takes any byte.
    Backslash-escaping is the identity for every password without a backslash or NUL, so hashes made
    with plain crypt(password) elsewhere still verify."""
    return password.replace("\\", "\\\\").replace("\x00", "\\0")


def _ts(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def user_object(row: dict) -> dict:
    """GoTrue's models.User JSON: optional timestamps only when set, one email identity."""
    uid = str(row["id"])
    meta = row["raw_user_meta_data"] or {}
    user = {"id": uid, "aud": row["aud"], "role": row["role"], "email": row["email"], "phone": row["phone"] or "",
            "app_metadata": row["raw_app_meta_data"] or _APP_METADATA, "user_metadata": meta,
            "identities": [{
                "identity_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "identity:" + uid)), "id": uid, "user_id": uid,
                "identity_data": {"email": row["email"], "email_verified": True, "phone_verified": False, "sub": uid},
                "provider": "email", "last_sign_in_at": _ts(row["last_sign_in_at"]),
                "created_at": _ts(row["created_at"]), "updated_at": _ts(row["updated_at"]), "email": row["email"]}],
            "created_at": _ts(row["created_at"]), "updated_at": _ts(row["updated_at"]),
            "is_anonymous": bool(row["is_anonymous"])}
    for key in ("email_confirmed_at", "confirmed_at", "last_sign_in_at", "banned_until"):
        if row.get(key):
            user[key] = _ts(row[key])
    return user


class AuthApi:
    def __init__(self, pool: AsyncConnectionPool, jwt_secret: str, base_url: str):
        self.pool = pool
        self.jwt_secret = jwt_secret
        self.issuer = base_url.rstrip("/") + "/auth/v1"
        self.access_token_ttl = 3600  # seconds; tests shorten it (jwt_expiry)
        self.reuse_interval = 10.0  # seconds (refresh_token_reuse_interval)

    async def handle(self, request: Request, path: str) -> Response:
        try:
            route = (request.method, path.rstrip("/"))
            if route == ("POST", "/signup"):
                return await self.signup(request)
            if route == ("POST", "/token"):
                grant = request.query_params.get("grant_type")
                if grant == "password":
                    return await self.password_grant(request)
                if grant == "refresh_token":
                    return await self.refresh_grant(request)
                raise AuthError(400, "invalid_credentials", "unsupported_grant_type")
            if route == ("GET", "/user"):
                user, claims = await self.bearer_user(request)
                aud = claims.get("aud")
                aud = aud[0] if isinstance(aud, list) and aud else aud
                if aud != "authenticated":  # UserGet: the token's audience must be the request's (config) aud
                    raise AuthError(400, "validation_failed", "Token audience doesn't match request audience")
                return JSONResponse(user)
            if route == ("POST", "/logout"):
                return await self.logout(request)
            if route == ("GET", "/settings"):  # public: what a sign-in screen checks first
                return JSONResponse({"external": {"email": True, "phone": False, "anonymous_users": False},
                                     "disable_signup": False, "mailer_autoconfirm": True,
                                     "phone_autoconfirm": False, "sms_provider": "", "saml_enabled": False})
            raise AuthError(404, "not_found", "Not found")
        except AuthError as err:
            return err.response(request)
        except gotrue_params.BadJson as err:
            return AuthError(400, "bad_json", f"Could not parse request body as JSON: {err}").response(request)

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    async def _json(request: Request, struct: tuple) -> dict:
        return gotrue_params.decode(await request.body(), struct)

    async def _issue(self, conn, user: dict, session_id, amr: list, refresh_token: str) -> JSONResponse:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": str(user["id"]), "aud": "authenticated", "exp": now + self.access_token_ttl,
                  "iat": now, "email": user["email"], "phone": user["phone"] or "",
                  "app_metadata": user["raw_app_meta_data"] or _APP_METADATA,
                  "user_metadata": user["raw_user_meta_data"] or {}, "role": "authenticated", "aal": "aal1",
                  "amr": amr, "session_id": str(session_id), "is_anonymous": bool(user["is_anonymous"])}
        return JSONResponse({"access_token": tokens.access_token(self.jwt_secret, claims), "token_type": "bearer",
                             "expires_in": self.access_token_ttl, "expires_at": claims["exp"],
                             "refresh_token": refresh_token, "user": user_object(user)})

    async def _new_session(self, conn, user: dict) -> JSONResponse:
        amr = [{"method": "password", "timestamp": int(time.time())}]
        session_id = uuid.uuid4()
        token = secrets.token_urlsafe(24)
        await conn.execute("insert into auth.sessions (id, user_id, amr) values (%s, %s, %s)",
                           [session_id, user["id"], json.dumps(amr)])
        await conn.execute("insert into auth.refresh_tokens (token, user_id, session_id) values (%s, %s, %s)",
                           [token, user["id"], session_id])
        return await self._issue(conn, user, session_id, amr, token)

    # -- endpoints -------------------------------------------------------------------------
    async def signup(self, request: Request) -> Response:
        data = await self._json(request, gotrue_params.SIGNUP)
        email, password = data.get("email", ""), data.get("password", "")
        # GoTrue's order (signup.go): password, its strength, then the email.
        if not password:
            raise AuthError(400, "validation_failed", "Signup requires a valid password")
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            raise AuthError(400, "validation_failed", f"Password cannot be longer than {MAX_PASSWORD_BYTES} characters")
        if len(password.encode()) < 6:
            raise AuthError(422, "weak_password", "Password should be at least 6 characters.",
                            {"weak_password": {"reasons": ["length"]}})
        if not email:
            raise AuthError(400, "validation_failed", "Sign up only available with email provider")
        if len(email) > 255:
            raise AuthError(400, "validation_failed", "An email address is too long")
        if not _EMAIL.match(email):
            raise AuthError(400, "validation_failed", "Unable to validate email address: invalid format")
        email = email.lower()
        async with self.pool.connection() as conn, conn.transaction():
            conn.row_factory = dict_row
            await conn.execute("select pg_advisory_xact_lock(hashtext(%s))", [email])
            if await (await conn.execute("select 1 from auth.users where email = %s", [email])).fetchone():
                raise AuthError(422, "user_already_exists", "User already registered")
            uid = uuid.uuid4()
            meta = {**(data.get("data") or {}), "email": email, "email_verified": True, "phone_verified": False,
                    "sub": str(uid)}
            user = await (await conn.execute(
                "insert into auth.users (id, aud, role, email, encrypted_password, email_confirmed_at, "
                "raw_app_meta_data, raw_user_meta_data, is_anonymous, created_at, updated_at, last_sign_in_at) "
                "values (%s, 'authenticated', 'authenticated', %s, crypt(%s, gen_salt('bf')), now(), %s, %s, false, "
                f"now(), now(), now()) returning {_USER_COLUMNS}",
                [uid, email, crypt_input(password), json.dumps(_APP_METADATA), json.dumps(meta)])).fetchone()
            return await self._new_session(conn, user)

    async def password_grant(self, request: Request) -> Response:
        data = await self._json(request, gotrue_params.PASSWORD_GRANT)
        email, password = data.get("email", "").lower(), data.get("password", "")
        if email and data.get("phone"):
            raise AuthError(400, "validation_failed", "Only an email address or phone number should be provided on login.")
        if not email:
            raise AuthError(400, "validation_failed", "missing email or phone")
        invalid = AuthError(400, "invalid_credentials", "Invalid login credentials")
        if "\x00" in email:  # no stored address holds one (signup validates the format)
            raise invalid
        async with self.pool.connection() as conn, conn.transaction():
            conn.row_factory = dict_row
            user = await (await conn.execute(
                f"select {_USER_COLUMNS}, encrypted_password is not null and encrypted_password <> '' as has_password, "
                "coalesce(encrypted_password = crypt(%s, encrypted_password), false) as password_ok "
                "from auth.users where email = %s and deleted_at is null", [crypt_input(password), email])).fetchone()
            # GoTrue's order (token.go): unknown user, no password, banned, then the password itself.
            if user is None or not user["has_password"]:
                raise invalid
            if user["banned"]:
                raise AuthError(400, "user_banned", "User is banned")
            if not user["password_ok"]:
                raise invalid
            await conn.execute("update auth.users set last_sign_in_at = now() where id = %s", [user["id"]])
            return await self._new_session(conn, user)

    async def refresh_grant(self, request: Request) -> Response:
        """Rotation with GoTrue's reuse rules: the parent of the active token gets the active token
        back; an older revoked token within reuse_interval gets a new child; later reuse revokes the family."""
        data = await self._json(request, gotrue_params.REFRESH_GRANT)
        presented = data.get("refresh_token", "")
        if not _REFRESH_TOKEN.fullmatch(presented):  # RefreshTokenGrantParams.Validate (also "", and NUL)
            raise AuthError(400, "validation_failed", "Refresh token is not valid")
        not_found = AuthError(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
        failure = None
        async with self.pool.connection() as conn:
            conn.row_factory = dict_row
            async with conn.transaction():
                found = await (await conn.execute("select session_id from auth.refresh_tokens where token = %s",
                                                  [presented])).fetchone()
                # One refresh at a time per session: lock it, then read the token again.
                session = found and await (await conn.execute(
                    "select * from auth.sessions where id = %s for update", [found["session_id"]])).fetchone()
                if not session:
                    raise not_found
                token = await (await conn.execute(
                    "select *, extract(epoch from now() - updated_at)::float8 as age from auth.refresh_tokens "
                    "where token = %s", [presented])).fetchone()
                user = await (await conn.execute(f"select {_USER_COLUMNS} from auth.users where id = %s",
                                                 [session["user_id"]])).fetchone()
                if token is None or user is None:
                    raise not_found
                if user["banned"]:
                    raise AuthError(400, "user_banned", "Invalid Refresh Token: User Banned")
                issued = None
                if token["revoked"]:
                    active = await (await conn.execute(
                        "select token, parent from auth.refresh_tokens where session_id = %s and not revoked "
                        "order by id desc limit 1", [session["id"]])).fetchone()
                    if active is not None and active["parent"] == presented:
                        issued = active["token"]  # the client lost our last answer: hand it out again
                    elif token["age"] > self.reuse_interval:
                        await conn.execute("update auth.refresh_tokens set revoked = true, updated_at = now() "
                                           "where session_id = %s and not revoked", [session["id"]])
                        failure = AuthError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
                if failure is None:
                    if issued is None:
                        issued = secrets.token_urlsafe(24)
                        await conn.execute("update auth.refresh_tokens set revoked = true, updated_at = now() "
                                           "where id = %s and not revoked", [token["id"]])
                        await conn.execute("insert into auth.refresh_tokens (token, user_id, session_id, parent) "
                                           "values (%s, %s, %s, %s)", [issued, user["id"], session["id"], presented])
                    await conn.execute("update auth.sessions set refreshed_at = now(), updated_at = now() "
                                       "where id = %s", [session["id"]])
                    response = await self._issue(conn, user, session["id"], session["amr"], issued)
        if failure is not None:
            raise failure  # raised after the family revocation committed, as GoTrue does
        return response

    async def bearer_user(self, request: Request) -> tuple[dict, dict]:
        """(user object, claims) for the Bearer token, with GoTrue's 401/403 answers."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token")
        try:
            claims = tokens.verify(token.strip(), self.jwt_secret, skew=0)
        except tokens.JwtError as err:
            reason = "token is expired" if err.code == "PGRST303" else "signature is invalid"
            raise AuthError(403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {reason}") from None
        sub, session_id, aud = claims.get("sub"), claims.get("session_id"), claims.get("aud")
        if any(v is not None and not isinstance(v, str) for v in (sub, session_id)) or not (
                aud is None or isinstance(aud, str) or (isinstance(aud, list) and all(isinstance(a, str) for a in aud))):
            # GoTrue decodes the claims into a Go struct of strings first
            raise AuthError(403, "bad_jwt", "invalid JWT: unable to parse or verify signature, token is malformed: "
                            "could not JSON decode claim")
        if not sub:
            raise AuthError(403, "bad_jwt", "invalid claim: missing sub claim")
        try:
            uid = uuid.UUID(sub)
        except ValueError:
            raise AuthError(400, "bad_jwt", "invalid claim: sub claim must be a UUID") from None
        sid = None
        if session_id and session_id != "00000000-0000-0000-0000-000000000000":
            try:
                sid = uuid.UUID(session_id)
            except ValueError:
                raise AuthError(403, "bad_jwt", "invalid claim: session_id claim must be a UUID") from None
        async with self.pool.connection() as conn:
            conn.row_factory = dict_row
            user = await (await conn.execute(f"select {_USER_COLUMNS} from auth.users where id = %s", [uid])).fetchone()
            if user is None:
                raise AuthError(403, "user_not_found", "User from sub claim in JWT does not exist")
            if sid and not await (await conn.execute("select 1 from auth.sessions where id = %s", [sid])).fetchone():
                raise AuthError(403, "session_not_found", "Session from session_id claim in JWT does not exist")
            await conn.commit()
        if user["banned"]:  # requireAuthentication: an access token issued before the ban stops working
            raise AuthError(403, "user_banned", "User is banned")
        return user_object(user), claims

    async def logout(self, request: Request) -> Response:
        user, claims = await self.bearer_user(request)
        scope = request.query_params.get("scope", "global")
        if scope not in ("global", "local", "others"):
            raise AuthError(400, "validation_failed", "Unsupported logout scope")
        session_id = claims.get("session_id")
        if not session_id or session_id == "00000000-0000-0000-0000-000000000000":
            scope = "global"  # logout.go: without a session in the token every session ends
        condition = {"global": "", "local": " and id = %s", "others": " and id <> %s"}[scope]
        params = [user["id"]] + ([uuid.UUID(session_id)] if scope != "global" else [])
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("delete from auth.sessions where user_id = %s" + condition, params)
        return Response(status_code=204)

    async def revoke_sessions(self, user_id: str) -> None:
        """Admin sign-out (tests): every session and refresh token of the user is gone."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("delete from auth.sessions where user_id = %s", [user_id])
