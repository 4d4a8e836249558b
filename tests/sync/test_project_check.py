"""The sign-in screen's project check and GoTrue's refusals as sentences (against the stand-in)."""

from __future__ import annotations

import pytest

from sync.auth_errors import plain_sentence
from sync.errors import ConfigError
from sync.project import check_project, normalise_url


def test_a_supabase_project_is_recognised_and_its_url_tidied(supabase_stack):
    info = check_project(supabase_stack.url + "/rest/v1/", supabase_stack.anon_key)
    assert info.url == supabase_stack.url and info.signup_allowed and not info.confirm_email
    assert normalise_url("abcd.supabase.co/auth/v1") == "https://abcd.supabase.co"


@pytest.mark.parametrize(("reply", "expected"), [
    ((401, {"message": "Invalid API key"}), "does not accept that key"),
    ((404, "<html><body>Not Found</body></html>"), "does not answer like a Supabase project (HTTP 404)"),
    ((403, "<html>Forbidden by proxy</html>"), "does not answer like a Supabase project (HTTP 403)"),
    ((301, ""), "does not answer like a Supabase project (a redirect)"),
    ((200, {"hello": "world"}), "does not answer like a Supabase project (HTTP 200)"),
    ((200, {"external": {"email": False}}), "does not allow signing in with email and password"),
])
def test_what_is_not_a_usable_project_is_said_plainly(supabase_stack, reply, expected):
    status, body = reply
    headers = {"Location": "https://elsewhere.example/"} if status == 301 else None
    supabase_stack.faults.fail_next("GET", "/auth/v1/settings", status, body, headers=headers)
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        check_project(supabase_stack.url, supabase_stack.anon_key)


def test_unreachable_and_empty_key():
    with pytest.raises(ConfigError, match="Cannot reach 127.0.0.1:9"):
        check_project("http://127.0.0.1:9", "key")
    with pytest.raises(ConfigError, match="anon"):
        check_project("https://abcd.supabase.co", "  ")


@pytest.mark.parametrize(("code", "status", "message", "sentence"), [
    ("invalid_credentials", 400, "Invalid login credentials", "Wrong email or password."),
    ("email_not_confirmed", 400, "Email not confirmed", "This email address is not confirmed yet"),
    ("over_request_rate_limit", 429, "Request rate limit reached", "Too many attempts"),
    (None, 429, "slow down", "Too many attempts"),
    ("weak_password", 422, "Password should be at least 6 characters.",
     "This password is too weak: password should be at least 6 characters."),
    ("user_already_exists", 422, "User already registered", "An account with this email already exists"),
    ("validation_failed", 400, "Unable to validate email address: invalid format", "That email address is not"),
    ("something_new", 400, "A new refusal", "The sign-in was refused: A new refusal (something_new)"),
])
def test_gotrue_refusals_become_sentences(code, status, message, sentence):
    assert plain_sentence(code, status, message).startswith(sentence)
