"""HS256 JWTs as Supabase uses them: the anon/service_role API keys and user access tokens.

Verification mirrors PostgREST v14: 30 s clock skew, `exp` optional,
PGRST301 for decode/signature problems and PGRST303 for claim problems, each with PostgREST's message.
"""

from __future__ import annotations

import secrets
import time

import jwt

CLOCK_SKEW = 30  # seconds, as PostgREST


class JwtError(Exception):
    """A token PostgREST/GoTrue would refuse; `code` is PGRST301 or PGRST303."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def new_secret() -> str:
    return secrets.token_urlsafe(40)  # PostgREST >= 13 refuses secrets shorter than 32 characters


def api_key(secret: str, role: str) -> str:
    """A long-lived API key in the Supabase CLI's shape: no sub, no aud."""
    return jwt.encode({"iss": "supabase-demo", "role": role, "exp": 1983812996}, secret, algorithm="HS256")


def access_token(secret: str, claims: dict) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


_verified: dict[tuple[str, str], dict] = {}  # signature checks are the costly part; tokens repeat


def verify(token: str, secret: str, skew: float = CLOCK_SKEW) -> dict:
    """Claims of a valid token, else JwtError with PostgREST's code and message."""
    claims = _verified.get((token, secret))
    if claims is None:
        claims = _verify_signature(token, secret)
        if len(_verified) > 4096:
            _verified.clear()
        _verified[(token, secret)] = claims
    _check_times(claims, skew)
    return claims


def _verify_signature(token: str, secret: str) -> dict:
    if token == "":
        raise JwtError("PGRST301", "Empty JWT is sent in Authorization header")
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("PGRST301", f"Expected 3 parts in JWT; got {len(parts)}")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise JwtError("PGRST301", "JWT cryptographic operation failed") from None
    if header.get("alg") != "HS256":
        raise JwtError("PGRST301", "Wrong or unsupported encoding algorithm")
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={
            "verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False})
    except jwt.PyJWTError:
        raise JwtError("PGRST301", "JWT cryptographic operation failed") from None
    if not isinstance(claims, dict):
        raise JwtError("PGRST301", "JWT cryptographic operation failed")
    return claims


def _check_times(claims: dict, skew: float) -> None:
    now = time.time()
    for name in ("exp", "nbf", "iat"):
        if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], int | float)):
            raise JwtError("PGRST303", f"The JWT '{name}' claim must be a number")
    if "exp" in claims and claims["exp"] + skew <= now:
        raise JwtError("PGRST303", "JWT expired")
    if "nbf" in claims and claims["nbf"] - skew > now:
        raise JwtError("PGRST303", "JWT not yet valid")
    if "iat" in claims and claims["iat"] - skew > now:
        raise JwtError("PGRST303", "JWT issued at future")
