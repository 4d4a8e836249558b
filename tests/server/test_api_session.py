"""The scaffolding's auth helpers and the PostgREST-style session behave as on Supabase."""

from __future__ import annotations

import pytest
from psycopg import errors

from standin.impersonate import ApiSession, claims_for


def test_session_runs_as_authenticated_with_the_users_claims(server_db, make_user):
    user_id = make_user("carol@example.test")
    with ApiSession(server_db, user_id, claims=claims_for(user_id, email="carol@example.test")) as carol:
        row = carol.one("select current_user as role, session_user as login, auth.uid()::text as uid,"
                        " auth.role() as jwt_role, auth.email() as email, auth.jwt() ->> 'aud' as aud,"
                        " current_setting('statement_timeout') as timeout, current_setting('search_path') as path")
    assert row == {"role": "authenticated", "login": "authenticator", "uid": user_id, "jwt_role": "authenticated",
                   "email": "carol@example.test", "aud": "authenticated", "timeout": "8s",
                   "path": '"public", "extensions"'}


def test_settings_are_transaction_local(server_db, make_user):
    with ApiSession(server_db, make_user()) as session:
        session.one("select 1 as one")
        row = session.conn.execute("select current_user as role,"
                                   " current_setting('request.jwt.claims', true) as claims").fetchone()
        assert row["role"] == "authenticator" and not row["claims"]
        # authenticator is NOINHERIT: outside SET ROLE it has no rights at all.
        with pytest.raises(errors.InsufficientPrivilege):
            session.conn.execute("select * from public.tasks")


def test_legacy_per_claim_setting_wins_as_in_todays_auth_uid(server_db, make_user):
    user_id, other = make_user(), make_user()
    with ApiSession(server_db, user_id) as session, session.tx() as cur:
        cur.execute("select set_config('request.jwt.claim.sub', %s, true)", [other])
        cur.execute("select auth.uid()::text as uid")
        assert cur.fetchone()["uid"] == other


def test_reads_are_read_only_like_get_requests(server_db, make_user):
    with ApiSession(server_db, make_user()) as session, \
            pytest.raises(errors.ReadOnlySqlTransaction), session.tx(read_only=True) as cur:
        cur.execute("insert into public.tasks (title) values ('nope')")


def test_anon_has_no_uid(server_db):
    with ApiSession(server_db, None, role="anon") as anon:
        assert anon.one("select auth.uid() as uid, auth.role() as role, current_user as cu") == {
            "uid": None, "role": "anon", "cu": "anon"}
