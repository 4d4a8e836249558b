"""Is this URL a Supabase project, and does it take this anon key? One request, a plain answer.

The sign-in dialog checks the project before anything is stored: `GET <url>/auth/v1/settings` with
the key as `apikey` is answered by every Supabase project (hosted or self-hosted, through Kong) with
its auth settings, by Kong with 401 "Invalid API key" for a wrong key, and by anything else — a
mistyped host, a path such as `/rest/v1` pasted along, a proxy's HTML page — with something that is
neither. Each outcome gets a sentence that says what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import httpx

from sync import deadline
from sync.config import validate
from sync.errors import ConfigError

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DEADLINE = 20.0  # seconds for the whole check (a server dribbling its reply must not hang the dialog)
_WHERE = "Supabase dashboard → Project Settings → API"


@dataclass(frozen=True)
class ProjectInfo:
    url: str
    signup_allowed: bool
    confirm_email: bool  # new accounts must confirm their email before they can sign in


def normalise_url(url: str) -> str:
    """The project URL as the user probably meant it: scheme added, known API paths and slashes dropped."""
    url = url.strip()
    if url and "://" not in url:
        url = "https://" + url
    parsed = urlparse(url)
    path = parsed.path.rstrip("/")
    for suffix in ("/rest/v1", "/auth/v1", "/storage/v1", "/realtime/v1"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return validate("supabase.url", parsed._replace(path=path, query="", fragment="").geturl())


def check_project(url: str, anon_key: str, *, transport: httpx.BaseTransport | None = None) -> ProjectInfo:
    """One request. Raises ConfigError with a sentence when the project is unreachable or not Supabase."""
    url = normalise_url(url)
    anon_key = anon_key.strip()
    if not anon_key:
        raise ConfigError(f"Paste the project's anon (public) key: {_WHERE}.")
    host = urlparse(url).netloc
    if transport is None:
        transport = deadline.transport(verify=not url.startswith("http://"))
    try:
        with deadline.deadline(DEADLINE), httpx.Client(timeout=TIMEOUT, transport=transport,
                                                      follow_redirects=False) as client:
            response = client.get(f"{url}/auth/v1/settings", headers={"apikey": anon_key})
    except httpx.TimeoutException:
        raise ConfigError(f"{host} did not answer in time: check the address and your connection.") from None
    except httpx.HTTPError as exc:
        raise ConfigError(f"Cannot reach {host}: check the address and your connection ({type(exc).__name__}).") from None
    body = _json(response)
    if response.status_code == 401 and isinstance(body, dict) and "api key" in str(body.get("message", "")).lower():
        raise ConfigError(f"This project does not accept that key: copy the anon (public) key from {_WHERE}.")
    if response.is_success and isinstance(body, dict) and "external" in body:
        external = body.get("external")
        email = not isinstance(external, dict) or external.get("email", True)
        if not email:
            raise ConfigError("This project does not allow signing in with email and password.")
        return ProjectInfo(url, not body.get("disable_signup", False), not body.get("mailer_autoconfirm", True))
    what = "a redirect" if response.is_redirect else f"HTTP {response.status_code}"
    raise ConfigError(f"{url} does not answer like a Supabase project ({what}). Use the Project URL from "
                      f"{_WHERE}, e.g. https://abcd1234.supabase.co.")


def _json(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return None
