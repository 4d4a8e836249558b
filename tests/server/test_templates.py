"""Templates: public ones readable by any signed-in user, private ones only by their author;
install_template counts installs atomically and refuses what the caller may not see."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from psycopg import errors

from tests.server.rows import get, make, patch
from tests.supabase_local.impersonate import ApiSession

PAYLOAD = {"skills": [{"name": "Summarise", "description": "d", "category": "writing",
                       "template_prompt": "Summarise briefly."}],
           "seed_memory": [{"label": "prefers short answers", "category": "style", "strength": 0.8}]}


def install(session, template_id):
    return session.one("select public.install_template(%s) as payload", [template_id])["payload"]


def test_public_templates_are_readable_private_ones_are_not(alice, bob):
    public = make(alice, "templates", name="Public", is_public=True, payload=PAYLOAD)
    private = make(alice, "templates", name="Private", payload=PAYLOAD)
    assert {r["id"] for r in bob.all("select id from public.templates")} == {public["id"]}
    assert get(bob, "templates", private["id"]) is None
    # Readable is not writable.
    assert patch(bob, "templates", public["id"], name="Bob's now") is None
    assert patch(bob, "templates", public["id"], deleted_at="now") is None
    assert get(alice, "templates", public["id"]) == public


def test_tombstoned_public_template_disappears_for_others_but_not_for_its_author(alice, bob):
    public = make(alice, "templates", is_public=True)
    patch(alice, "templates", public["id"], deleted_at="now")
    assert get(bob, "templates", public["id"]) is None
    assert get(alice, "templates", public["id"])["deleted_at"] is not None


def test_install_counts_and_returns_the_payload(alice, bob):
    public = make(alice, "templates", is_public=True, payload=PAYLOAD)
    assert install(bob, public["id"]) == PAYLOAD
    assert install(bob, public["id"]) == PAYLOAD
    after = get(alice, "templates", public["id"])
    assert after["installs"] == 2
    assert after["updated_at"] > public["updated_at"]  # the author's devices learn the new count
    private = make(alice, "templates", payload=PAYLOAD)
    assert install(alice, private["id"]) == PAYLOAD  # one's own private template
    assert get(alice, "templates", private["id"])["installs"] == 1


@pytest.mark.parametrize("case", ["private_of_another", "tombstoned", "unknown"])
def test_install_refuses_what_the_caller_may_not_see(alice, bob, case):
    template = make(alice, "templates", is_public=case != "private_of_another", payload=PAYLOAD)
    if case == "tombstoned":
        patch(alice, "templates", template["id"], deleted_at="now")
    target = str(uuid.uuid4()) if case == "unknown" else template["id"]
    with pytest.raises(psycopg.DatabaseError, match="not found") as refused:
        install(bob, target)
    # PT404: PostgREST answers a PTxyz SQLSTATE with HTTP xyz, so clients get 404, not P0002's 500.
    assert refused.value.sqlstate == "PT404"
    assert get(alice, "templates", template["id"])["installs"] == 0


def test_install_requires_a_signed_in_user(alice, as_user):
    public = make(alice, "templates", is_public=True)
    with pytest.raises(errors.InsufficientPrivilege, match="signed-in"):
        install(as_user(None, role="service_role"), public["id"])


def test_concurrent_installs_are_all_counted(server_db, alice, make_user):
    public = make(alice, "templates", is_public=True, payload=PAYLOAD)
    users = [make_user() for _ in range(6)]
    barrier = threading.Barrier(len(users))
    failures: list[BaseException] = []

    def run(user_id):
        with ApiSession(server_db, user_id) as session:
            barrier.wait()
            try:
                for _ in range(3):
                    install(session, public["id"])
            except BaseException as exc:  # reported below; a thread cannot fail the test itself
                failures.append(exc)

    threads = [threading.Thread(target=run, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures
    assert get(alice, "templates", public["id"])["installs"] == 18


def test_install_template_is_a_hardened_security_definer(server_db):
    with psycopg.connect(server_db) as conn:
        definer, config = conn.execute("select prosecdef, proconfig from pg_proc"
                                       " where oid = 'public.install_template(uuid)'::regprocedure").fetchone()
    assert definer is True
    assert config == ['search_path=""']
