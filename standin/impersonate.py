"""Talk to the database exactly as PostgREST does for one request.

PostgREST connects as `authenticator` (NOINHERIT, so no rights of its own) and, per transaction,
sets `search_path`, the role's own settings, `role` and `request.jwt.claims` with `set_config(...,
true)`, then runs the statement and commits. `ApiSession.tx()` does the same, so RLS, grants and
triggers see what they would see behind Supabase's API.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

# Per-role settings Supabase stores in pg_db_role_setting; PostgREST applies them before the role switch.
ROLE_SETTINGS = {"anon": {"statement_timeout": "3s"}, "authenticated": {"statement_timeout": "8s"}}


def create_auth_user(admin_dsn: str, email: str | None = None, user_id: str | None = None) -> str:
    """Insert an auth.users row as the superuser (as GoTrue would on sign-up). Returns the id."""
    user_id = user_id or str(uuid.uuid4())
    email = email or f"{user_id[:8]}@example.test"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            "insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data,"
            " raw_user_meta_data) values (%s, 'authenticated', 'authenticated', lower(%s), now(),"
            " '{\"provider\":\"email\",\"providers\":[\"email\"]}', '{}')",
            (user_id, email),
        )
    return user_id


def claims_for(user_id: str | None, role: str = "authenticated", email: str | None = None) -> dict:
    """The claims PostgREST puts into request.jwt.claims for a Supabase user token (role overwritten)."""
    claims: dict[str, Any] = {"role": role}
    if user_id is not None:
        claims.update(sub=user_id, aud="authenticated", email=email or "", is_anonymous=False)
    return claims


class ApiSession:
    """One pooled PostgREST connection acting for one JWT. Use `tx()` per request."""

    def __init__(self, dsn: str, user_id: str | None, role: str = "authenticated", claims: dict | None = None):
        self.user_id = user_id
        self.role = role
        self.claims = claims if claims is not None else claims_for(user_id, role)
        self.claims["role"] = role
        self.conn = psycopg.connect(psycopg.conninfo.make_conninfo(dsn, user="authenticator"),
                                    autocommit=True, row_factory=dict_row)

    @contextmanager
    def tx(self, read_only: bool = False) -> Iterator[psycopg.Cursor]:
        """BEGIN ... (pre-request settings) ... COMMIT, or ROLLBACK if the block raises."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("set transaction isolation level read committed"
                        + (", read only" if read_only else ", read write"))
            settings = {"search_path": '"public", "extensions"', **ROLE_SETTINGS.get(self.role, {}),
                        "role": self.role, "request.jwt.claims": json.dumps(self.claims),
                        "request.method": "GET" if read_only else "POST"}
            cur.execute("select " + ", ".join("set_config(%s, %s, true)" for _ in settings),
                        [v for kv in settings.items() for v in kv])
            yield cur

    # -- one request each ---------------------------------------------------------------------
    def all(self, query: str, params: Any = None) -> list[dict]:
        with self.tx() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []

    def one(self, query: str, params: Any = None) -> dict | None:
        rows = self.all(query, params)
        assert len(rows) <= 1, f"expected at most one row, got {len(rows)}"
        return rows[0] if rows else None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ApiSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
