"""Supabase Auth through the official client: sign up, sign in, refresh (rotation + reuse), sign out."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError


def test_sign_up_returns_a_session_whose_jwt_has_gotrues_claims(supabase_stack):
    client = supabase_stack.client()
    response = client.auth.sign_up({"email": "New.Person@Example.test", "password": "secret-pw-1"})
    session, user = response.session, response.user
    assert session is not None and user is not None
    assert user.email == "new.person@example.test"  # stored lower-cased
    assert user.email_confirmed_at is not None  # auto-confirm
    claims = jwt.decode(session.access_token, supabase_stack.jwt_secret, algorithms=["HS256"],
                        audience="authenticated")
    assert claims["sub"] == user.id and claims["role"] == "authenticated" and claims["aal"] == "aal1"
    assert claims["exp"] - claims["iat"] == 3600 == session.expires_in
    assert claims["session_id"] and claims["amr"][0]["method"] == "password"
    assert claims["iss"] == supabase_stack.url + "/auth/v1" and claims["is_anonymous"] is False
    assert client.auth.get_user().user.id == user.id


def test_password_sign_in_and_wrong_password(supabase_stack):
    email, password, user_id = supabase_stack.new_user()
    client = supabase_stack.client()
    session = client.auth.sign_in_with_password({"email": email.upper(), "password": password}).session
    assert session.user.id == user_id and session.refresh_token
    with pytest.raises(AuthApiError) as err:
        client.auth.sign_in_with_password({"email": email, "password": "not-the-password"})
    assert (err.value.status, err.value.code, err.value.message) == (400, "invalid_credentials",
                                                                    "Invalid login credentials")
    with pytest.raises(AuthApiError) as err:
        client.auth.sign_in_with_password({"email": "nobody@example.test", "password": password})
    assert err.value.code == "invalid_credentials"


def test_signup_errors_surface_with_gotrue_codes(supabase_stack):
    email, _, _ = supabase_stack.new_user()
    client = supabase_stack.client()
    with pytest.raises(AuthApiError) as err:
        client.auth.sign_up({"email": email, "password": "another-pw"})
    assert (err.value.status, err.value.code) == (422, "user_already_exists")
    with pytest.raises(AuthWeakPasswordError) as weak:
        client.auth.sign_up({"email": "short@example.test", "password": "12345"})
    assert (weak.value.status, weak.value.code, weak.value.reasons) == (422, "weak_password", ["length"])
    with pytest.raises(AuthApiError) as err:
        client.auth.sign_up({"email": "not-an-email", "password": "long-enough"})
    assert (err.value.status, err.value.code) == (400, "validation_failed")


def test_refresh_rotates_and_the_old_token_then_fails_outside_the_reuse_interval(supabase_stack):
    email, password, _ = supabase_stack.new_user()
    client = supabase_stack.client()
    first = client.auth.sign_in_with_password({"email": email, "password": password}).session
    second = client.auth.refresh_session().session
    assert second.refresh_token != first.refresh_token
    assert jwt.decode(second.access_token, options={"verify_signature": False})["session_id"] == \
        jwt.decode(first.access_token, options={"verify_signature": False})["session_id"]
    third = client.auth.refresh_session().session
    # The immediate parent of the active token (a lost response) gets the active token back.
    supabase_stack.set_refresh_token_reuse_interval(0)
    again = client.auth.refresh_session(second.refresh_token).session
    assert again.refresh_token == third.refresh_token
    # An older revoked token outside the reuse interval: "already used", and the family is revoked.
    time.sleep(0.05)
    with pytest.raises(AuthApiError) as err:
        client.auth.refresh_session(first.refresh_token)
    assert (err.value.status, err.value.code) == (400, "refresh_token_already_used")
    with pytest.raises(AuthApiError) as err:
        client.auth.refresh_session(third.refresh_token)
    assert err.value.code == "refresh_token_already_used"


def test_reuse_within_the_interval_is_tolerated(supabase_stack):
    email, password, _ = supabase_stack.new_user()
    client = supabase_stack.client()
    first = client.auth.sign_in_with_password({"email": email, "password": password}).session
    client.auth.refresh_session()
    client.auth.refresh_session()
    tolerated = client.auth.refresh_session(first.refresh_token).session  # within the default 10 s
    assert tolerated.refresh_token not in (first.refresh_token,)


def test_sign_out_ends_the_session_for_auth_but_the_jwt_stays_valid_for_rest(supabase_stack):
    email, password, _ = supabase_stack.new_user()
    client = supabase_stack.client()
    session = client.auth.sign_in_with_password({"email": email, "password": password}).session
    client.auth.sign_out()
    assert client.auth.get_session() is None
    headers = {"apikey": supabase_stack.anon_key, "Authorization": f"Bearer {session.access_token}",
               "X-Supabase-Api-Version": "2024-01-01"}
    gone = httpx.get(f"{supabase_stack.url}/auth/v1/user", headers=headers)
    assert gone.status_code == 403 and gone.json()["code"] == "session_not_found"
    assert gone.headers["x-supabase-api-version"] == "2024-01-01"
    refresh = httpx.post(f"{supabase_stack.url}/auth/v1/token?grant_type=refresh_token",
                         json={"refresh_token": session.refresh_token}, headers=headers)
    assert refresh.status_code == 400 and refresh.json()["code"] == "refresh_token_not_found"
    # PostgREST never checks sessions: the access token works until it expires.
    rows = httpx.get(f"{supabase_stack.url}/rest/v1/tasks?select=id", headers=headers)
    assert rows.status_code == 200 and rows.json() == []


def test_short_lived_tokens_and_admin_revocation(supabase_stack):
    supabase_stack.set_access_token_ttl(2)
    email, password, user_id = supabase_stack.new_user()
    client = supabase_stack.client()
    session = client.auth.sign_in_with_password({"email": email, "password": password}).session
    assert session.expires_in == 2
    supabase_stack.set_jwt_clock_skew(0)
    time.sleep(2.1)
    expired = httpx.get(f"{supabase_stack.url}/rest/v1/tasks",
                        headers={"apikey": supabase_stack.anon_key, "Authorization": f"Bearer {session.access_token}"})
    assert expired.status_code == 401 and expired.json()["code"] == "PGRST303"
    supabase_stack.revoke_refresh_tokens(user_id)
    with pytest.raises(AuthApiError) as err:
        client.auth.refresh_session()
    assert err.value.code == "refresh_token_not_found"


def test_auth_error_formats(supabase_stack):
    url, key = supabase_stack.url, supabase_stack.anon_key
    legacy = httpx.post(f"{url}/auth/v1/token?grant_type=password", json={"email": "x@y.z", "password": "nopenope"},
                        headers={"apikey": key})
    assert legacy.json() == {"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"}
    assert "x-supabase-api-version" not in legacy.headers
    bad_json = httpx.post(f"{url}/auth/v1/signup", content=b"{nope", headers={
        "apikey": key, "X-Supabase-Api-Version": "2024-01-01", "Content-Type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["code"] == "bad_json"
    no_bearer_sub = httpx.get(f"{url}/auth/v1/user", headers={"apikey": key, "X-Supabase-Api-Version": "2024-01-01"})
    assert no_bearer_sub.status_code == 403 and no_bearer_sub.json() == {
        "code": "bad_jwt", "message": "invalid claim: missing sub claim"}
    empty = httpx.post(f"{url}/auth/v1/token?grant_type=refresh_token", json={"refresh_token": ""},
                       headers={"apikey": key})
    # GoTrue >= 2.180 (RefreshTokenGrantParams.Validate) refuses it before its older "refresh_token required"
    assert empty.status_code == 400 and empty.json() == {"code": 400, "error_code": "validation_failed",
                                                         "msg": "Refresh token is not valid"}


def test_logout_scopes(supabase_stack):
    email, password, _ = supabase_stack.new_user()
    clients = [supabase_stack.client() for _ in range(3)]
    sessions = [c.auth.sign_in_with_password({"email": email, "password": password}).session for c in clients]
    clients[0].auth.sign_out({"scope": "others"})
    assert clients[0].auth.get_user().user.email == email  # its own session survives

    def refresh(i):
        return httpx.post(f"{supabase_stack.url}/auth/v1/token?grant_type=refresh_token",
                          json={"refresh_token": sessions[i].refresh_token},
                          headers={"apikey": supabase_stack.anon_key}).status_code

    assert [refresh(1), refresh(2)] == [400, 400]
    third = supabase_stack.client()
    third.auth.sign_in_with_password({"email": email, "password": password})
    third.auth.sign_out({"scope": "local"})
    assert clients[0].auth.get_user().user.email == email  # local ended only the third session
