"""The stamping trigger of …210000_cheaper_stamp_row.sql: the caller remembered per transaction only while
the settings it comes from are unchanged, the cached stamps taken inline; same owners, same refusals."""

from __future__ import annotations

import json

import pytest
from psycopg import errors

from standin.impersonate import claims_for


def owner_of_new_task(cur, **values) -> str:
    columns = ", ".join(["title", *values])
    marks = ", ".join(["%s"] * (1 + len(values)))
    cur.execute(f"insert into public.tasks ({columns}) values ({marks}) returning user_id",
                ["t", *values.values()])
    return str(cur.fetchone()["user_id"])


def test_the_caller_follows_the_claims_when_they_change_within_a_transaction(alice, make_user):
    bob = make_user("bob-in-the-same-tx@example.test")
    with alice.tx() as cur:
        assert owner_of_new_task(cur) == alice.user_id
        cur.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims_for(bob))])
        assert owner_of_new_task(cur) == bob  # not the caller remembered from the first insert
        cur.execute("savepoint s")
        with pytest.raises(errors.InsufficientPrivilege):
            owner_of_new_task(cur, user_id=alice.user_id)
        cur.execute("rollback to savepoint s")
        # auth.uid() reads request.jwt.claim.sub first: that setting is part of what is remembered too.
        cur.execute("select set_config('request.jwt.claim.sub', %s, true)", [alice.user_id])
        assert owner_of_new_task(cur) == alice.user_id
        cur.execute("select set_config('request.jwt.claim.sub', '', true)")
        assert owner_of_new_task(cur) == bob


def test_a_forged_remembered_caller_gains_nothing(alice, make_user):
    """Writing the trigger's own settings could only claim what writing request.jwt.claims claims: RLS
    still checks the owner against auth.uid()."""
    bob = make_user("bob-forged@example.test")
    with alice.tx() as cur:
        cur.execute("select set_config('mirari.caller', %s, true), set_config('mirari.caller_claims', "
                    "current_setting('request.jwt.claims'), true)", [f"{bob} "])
        with pytest.raises(errors.InsufficientPrivilege):
            owner_of_new_task(cur, user_id=bob)


def test_a_big_insert_mixing_explicit_and_default_owners_gets_unique_increasing_stamps(alice):
    conversation = alice.one("insert into public.conversations (title) values ('c') returning id")["id"]
    with alice.tx() as cur:
        cur.execute("insert into public.messages (user_id, conversation_id, role, content) "
                    "select case when i %% 2 = 0 then %s::uuid end, %s, 'user', 'm' || i "
                    "from generate_series(1, 1500) i returning user_id, created_at, updated_at",
                    [alice.user_id, conversation])
        rows = cur.fetchall()
    stamps = [r["updated_at"] for r in rows]
    assert {str(r["user_id"]) for r in rows} == {alice.user_id}
    assert stamps == sorted(stamps) and len(set(stamps)) == 1500
    assert all(r["created_at"] == r["updated_at"] for r in rows)


def test_an_update_needs_no_caller_and_keeps_its_rules(alice, bob):
    task = alice.one("insert into public.tasks (title) values ('t') returning id, updated_at")
    with alice.tx() as cur:
        cur.execute("update public.tasks set title = 'u' where id = %s returning updated_at", [task["id"]])
        assert cur.fetchone()["updated_at"] > task["updated_at"]
        cur.execute("savepoint s")
        with pytest.raises(errors.InsufficientPrivilege):
            cur.execute("update public.tasks set user_id = %s where id = %s", [bob.user_id, task["id"]])
        cur.execute("rollback to savepoint s")
