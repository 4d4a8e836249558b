"""Supabase Auth (GoTrue) refusals as plain sentences, for the sign-in dialog and `mirari account`.

GoTrue answers with an error code (`invalid_credentials`, `email_not_confirmed`, …) and a message
written for developers. A person signing in needs to know what to do next, so each code we know gets
a sentence; an unknown one keeps GoTrue's own message, which is still better than a traceback.
"""

from __future__ import annotations

from sync.errors import SyncError

_SENTENCES = {
    "invalid_credentials": "Wrong email or password.",
    "email_not_confirmed": ("This email address is not confirmed yet: open the link in the confirmation "
                            "email, then sign in."),
    "over_request_rate_limit": "Too many attempts: wait a minute, then try again.",
    "over_email_send_rate_limit": "Too many emails were sent to this address: wait a few minutes, then try again.",
    "user_already_exists": "An account with this email already exists: sign in instead.",
    "email_exists": "An account with this email already exists: sign in instead.",
    "signup_disabled": "This project does not accept new accounts: ask its owner, or sign in to an existing one.",
    "email_provider_disabled": "This project does not allow signing in with email and password.",
    "user_banned": "This account is blocked on this project.",
    "email_address_invalid": "That email address is not accepted: check it for typos.",
    "user_not_found": "There is no account with this email on this project.",
}


class AuthRefused(SyncError):
    """The auth server refused a sign-in or sign-up; `str()` is a sentence for the person."""

    def __init__(self, sentence: str, code: str | None = None, status: int | None = None):
        super().__init__(sentence)
        self.code, self.status = code, status


def plain_sentence(code: str | None, status: int | None, message: str | None, reasons=None) -> str:
    """What a GoTrue refusal means for the person who typed the email and password."""
    message = (message or "").strip()
    if code == "weak_password" or reasons:
        detail = message.rstrip(".") if message else "choose a longer one"
        return f"This password is too weak: {detail[0].lower() + detail[1:] if detail else detail}."
    if code in _SENTENCES:
        return _SENTENCES[code]
    if status == 429:
        return _SENTENCES["over_request_rate_limit"]
    if code == "validation_failed" and "email" in message.lower():
        return _SENTENCES["email_address_invalid"]
    if code == "validation_failed" and "password" in message.lower():
        return "Type a password."
    return f"The sign-in was refused: {message or 'no reason given'}" + (f" ({code})" if code else "")


def refused(exc: Exception) -> AuthRefused:
    """An AuthRefused for a supabase-auth API error (AuthApiError, AuthWeakPasswordError, …)."""
    code = getattr(exc, "code", None)
    status = getattr(exc, "status", None)
    return AuthRefused(plain_sentence(code, status, getattr(exc, "message", str(exc)),
                                      getattr(exc, "reasons", None)), code, status)
