"""Templates: public ones readable by any signed-in user, private ones only by their author;
install_template returns the payload of what the caller may see, record_template_install counts an
install once per user (after the client wrote it), and a payload is capped in items."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from psycopg import errors

from standin.impersonate import ApiSession
from tests.server.rows import get, make, patch

PAYLOAD = {"skills": [{"name": "Summarise", "description": "d", "category": "writing",
                       "template_prompt": "Summarise briefly."}],
           "seed_memory": [{"label": "prefers short answers", "category": "style", "strength": 0.8}]}


def install(session, template_id):
    return session.one("select public.install_template(%s) as payload", [template_id])["payload"]


def record(session, template_id) -> bool:
    return session.one("select public.record_template_install(%s) as counted", [template_id])["counted"]


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


def test_install_returns_the_payload_and_counts_nothing(alice, bob):
    public = make(alice, "templates", is_public=True, payload=PAYLOAD)
    assert install(bob, public["id"]) == PAYLOAD
    assert install(bob, public["id"]) == PAYLOAD
    assert get(alice, "templates", public["id"]) == public  # not counted, not even re-stamped
    private = make(alice, "templates", payload=PAYLOAD)
    assert install(alice, private["id"]) == PAYLOAD  # one's own private template


def test_an_install_is_counted_once_per_user(alice, bob, as_user, make_user):
    public = make(alice, "templates", is_public=True, payload=PAYLOAD)
    assert record(bob, public["id"]) is True
    after = get(alice, "templates", public["id"])
    assert after["installs"] == 1
    assert after["updated_at"] > public["updated_at"]  # the author's devices learn the new count
    for _ in range(5):  # installing again and again does not inflate the count
        assert record(bob, public["id"]) is False
    assert get(alice, "templates", public["id"])["installs"] == 1
    assert record(as_user(make_user()), public["id"]) is True
    assert record(alice, public["id"]) is True  # the author is one user among others
    assert record(alice, public["id"]) is False
    assert get(alice, "templates", public["id"])["installs"] == 3
    private = make(alice, "templates", payload=PAYLOAD)
    assert record(alice, private["id"]) is True and get(alice, "templates", private["id"])["installs"] == 1


def test_who_installed_what_is_private_to_the_server(alice, bob, server_db):
    public = make(alice, "templates", is_public=True, payload=PAYLOAD)
    record(bob, public["id"])
    for session in (alice, bob):
        with pytest.raises(errors.InsufficientPrivilege):
            session.all("select * from mirari_private.template_installs")
    with pytest.raises(errors.InsufficientPrivilege):
        bob.one("insert into mirari_private.template_installs (template_id, user_id) values (%s, %s)",
                [public["id"], str(uuid.uuid4())])
    # installs stays the function's alone: RLS hides the row from others, the stamping trigger keeps it
    assert bob.one("update public.templates set installs = 1000 where id = %s returning id", [public["id"]]) is None
    assert patch(alice, "templates", public["id"], installs=1000)["installs"] == 1
    with psycopg.connect(server_db) as conn:
        rls, = conn.execute("select relrowsecurity from pg_class"
                            " where oid = 'mirari_private.template_installs'::regclass").fetchone()
        rows = conn.execute("select template_id::text, user_id::text from mirari_private.template_installs").fetchall()
    assert rls is True and rows == [(str(public["id"]), bob.user_id)]


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
    with pytest.raises(psycopg.DatabaseError, match="not found") as refused:
        record(bob, target)
    assert refused.value.sqlstate == "PT404"
    assert get(alice, "templates", template["id"])["installs"] == 0


@pytest.mark.parametrize("call", [install, record])
def test_install_requires_a_signed_in_user(alice, as_user, call):
    public = make(alice, "templates", is_public=True)
    with pytest.raises(errors.InsufficientPrivilege, match="signed-in"):
        call(as_user(None, role="service_role"), public["id"])
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        call(as_user(None, role="anon"), public["id"])


def test_concurrent_installs_count_each_user_once(server_db, alice, make_user):
    public = make(alice, "templates", is_public=True, payload=PAYLOAD)
    users = [make_user() for _ in range(6)]
    barrier = threading.Barrier(len(users))
    failures: list[BaseException] = []
    counted: list[bool] = []

    def run(user_id):
        with ApiSession(server_db, user_id) as session:
            barrier.wait()
            try:
                for _ in range(3):
                    counted.append(record(session, public["id"]))
            except BaseException as exc:  # reported below; a thread cannot fail the test itself
                failures.append(exc)

    threads = [threading.Thread(target=run, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures
    assert sorted(counted) == [False] * 12 + [True] * 6
    assert get(alice, "templates", public["id"])["installs"] == 6


@pytest.mark.parametrize("function", ["install_template", "record_template_install"])
def test_the_template_functions_are_hardened_security_definers(server_db, function):
    with psycopg.connect(server_db) as conn:
        definer, config, acl = conn.execute(
            "select prosecdef, proconfig, proacl::text[] from pg_proc where oid = %s::regprocedure",
            [f"public.{function}(uuid)"]).fetchone()
    assert definer is True
    assert config == ['search_path=""']
    grantees = {entry.split("=")[0] for entry in acl}
    assert {"authenticated", "service_role"} <= grantees and not grantees & {"", "anon"}  # "" is PUBLIC


# -- the cap on items ---------------------------------------------------------------------------------
def _payload(skills: int, memories: int) -> dict:
    return {"skills": [{"name": f"s{i}", "template_prompt": "p"} for i in range(skills)],
            "seed_memory": [{"label": f"m{i}"} for i in range(memories)]}


@pytest.mark.parametrize(("skills", "memories", "accepted"), [
    (200, 2000, True), (201, 0, False), (0, 2001, False), (201, 2001, False)])
def test_a_payload_is_capped_in_skills_and_memories(alice, skills, memories, accepted):
    if accepted:
        row = make(alice, "templates", payload=_payload(skills, memories))
        patch(alice, "templates", row["id"], name="Renamed")  # an update of a row at the caps is fine
    else:
        with pytest.raises(errors.CheckViolation, match="templates_payload_items"):
            make(alice, "templates", payload=_payload(skills, memories))
    small = make(alice, "templates", payload=_payload(1, 1))
    if not accepted:  # nor can a live template grow past the caps
        with pytest.raises(errors.CheckViolation, match="templates_payload_items"):
            patch(alice, "templates", small["id"], payload=_payload(skills, memories))


def test_a_template_published_before_the_cap_can_still_be_withdrawn(alice, bob, server_db):
    """The check is NOT VALID (a project's old rows do not stop the migration) and spares tombstones,
    so an author can always withdraw an oversized template; it can no longer be counted."""
    with psycopg.connect(server_db, autocommit=True) as conn:
        definition, = conn.execute("select pg_get_constraintdef(oid) from pg_constraint"
                                   " where conname = 'templates_payload_items'").fetchone()
        conn.execute("alter table public.templates drop constraint templates_payload_items")
    try:
        old = make(alice, "templates", is_public=True, payload=_payload(0, 2500))
    finally:
        with psycopg.connect(server_db, autocommit=True) as conn:
            conn.execute(f"alter table public.templates add constraint templates_payload_items {definition}")
    assert "NOT VALID" in definition
    assert install(bob, old["id"])["seed_memory"][2499] == {"label": "m2499"}  # readable as before
    with pytest.raises(errors.CheckViolation):
        patch(alice, "templates", old["id"], name="Still too big")
    with pytest.raises(errors.CheckViolation):
        record(bob, old["id"])
    assert patch(alice, "templates", old["id"], deleted_at="now")["deleted_at"] is not None
