"""20261206400000_sync_pokes.sql: one Realtime broadcast per owner per committed transaction that changed
that owner's synced rows, naming only the tables; and the policy that lets a user join only their own
topic. What realtime.send wrote (its rows in realtime.messages) is read back as the superuser."""

from __future__ import annotations

import json

import psycopg
import pytest

from standin.impersonate import claims_for
from tests.server.rows import make, patch


def pokes(server_db: str) -> list[dict]:
    with psycopg.connect(server_db) as conn:
        rows = conn.execute("select topic, event, private, extension, payload from realtime.messages"
                            " order by inserted_at, id").fetchall()
    return [{"topic": t, "event": e, "private": p, "extension": x, "payload": payload} for t, e, p, x, payload in rows]


def clear(server_db: str) -> None:
    with psycopg.connect(server_db, autocommit=True) as conn:
        conn.execute("delete from realtime.messages")


def only_poke(server_db: str) -> dict:
    found = pokes(server_db)
    assert len(found) == 1, found
    return found[0]


def test_one_statement_of_many_rows_sends_one_poke_with_the_table_name_and_no_row_data(alice, server_db):
    conversation = make(alice, "conversations")["id"]
    clear(server_db)
    with alice.tx() as cur:
        cur.execute("insert into public.messages (conversation_id, role, content) select %s, 'user', "
                    "'secret words ' || i from generate_series(1, 500) i", [conversation])
    poke = only_poke(server_db)
    assert poke["topic"] == f"sync:{alice.user_id}" and poke["event"] == "changed"
    assert poke["private"] is True and poke["extension"] == "broadcast"
    assert set(poke["payload"]) == {"tables", "id"} and poke["payload"]["tables"] == ["messages"]
    assert "secret" not in json.dumps(poke["payload"]) and str(conversation) not in json.dumps(poke["payload"])


def test_a_transaction_of_several_statements_sends_one_poke_naming_each_table_once(alice, server_db):
    task = make(alice, "tasks")["id"]
    clear(server_db)
    with alice.tx() as cur:
        cur.execute("insert into public.conversations (title) values ('a') returning id")
        conversation = cur.fetchone()["id"]
        cur.execute("insert into public.messages (conversation_id, role, content) values (%s, 'user', 'x')",
                    [conversation])
        cur.execute("insert into public.messages (conversation_id, role, content) values (%s, 'user', 'y')",
                    [conversation])
        cur.execute("update public.tasks set title = 'renamed' where id = %s", [task])
    poke = only_poke(server_db)
    assert sorted(poke["payload"]["tables"]) == ["conversations", "messages", "tasks"]


def test_a_tombstone_and_its_cascade_are_one_poke(alice, server_db):
    message = make(alice, "messages")
    clear(server_db)
    patch(alice, "conversations", message["conversation_id"], deleted_at="now")
    assert sorted(only_poke(server_db)["payload"]["tables"]) == ["conversations", "messages"]


def test_nothing_is_sent_for_a_rollback_a_statement_without_rows_or_an_update_that_changes_nothing(
        alice, server_db):
    task = make(alice, "tasks", title="same")["id"]
    clear(server_db)
    with pytest.raises(RuntimeError), alice.tx() as cur:
        cur.execute("insert into public.tasks (title) values ('gone')")
        raise RuntimeError("the request failed after its statement")
    patch(alice, "tasks", "00000000-0000-0000-0000-000000000000", title="nobody")  # matches no row
    assert patch(alice, "tasks", task, title="same")["title"] == "same"  # no stamp taken: nothing changed
    assert pokes(server_db) == []


def test_a_refused_statement_sends_nothing(alice, bob, server_db):
    conversation = make(alice, "conversations")["id"]
    clear(server_db)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # another owner: refused by the stamping trigger
        bob.all("insert into public.messages (user_id, conversation_id, role, content)"
                " values (%s, %s, 'user', 'x')", [alice.user_id, conversation])
    assert pokes(server_db) == []


def test_each_owner_of_a_maintenance_transaction_gets_one_poke_on_their_own_topic(server_db, make_user):
    alice, bob = make_user(), make_user()
    with psycopg.connect(server_db) as conn:  # the superuser, writing both users' rows in one transaction
        for owner in (alice, bob, alice):
            conn.execute("insert into public.tasks (user_id, title) values (%s, 'x')", [owner])
        conn.execute("insert into public.memory_nodes (user_id, label, category) values (%s, 'm', 'fact')", [bob])
        conn.commit()
    found = {p["topic"]: sorted(p["payload"]["tables"]) for p in pokes(server_db)}
    assert found == {f"sync:{alice}": ["tasks"], f"sync:{bob}": ["memory_nodes", "tasks"]}
    assert len(pokes(server_db)) == 2


def test_an_install_pokes_the_templates_author_not_only_the_installer(alice, bob, server_db):
    template = make(alice, "templates", is_public=True)["id"]
    clear(server_db)
    bob.one("select public.install_template(%s) as payload", [template])
    assert pokes(server_db) == []  # reading a template to install it changes nothing
    bob.one("select public.record_template_install(%s) as counted", [template])  # counted once written
    assert {p["topic"]: p["payload"]["tables"] for p in pokes(server_db)} == {f"sync:{alice.user_id}": ["templates"]}


def test_every_synced_table_pokes(alice, server_db):
    from local_schema.models import SYNCED_TABLES

    for table in SYNCED_TABLES:  # a table added later must poke too
        clear(server_db)
        make(alice, table)  # (a message's conversation is made first, in its own transaction)
        assert pokes(server_db)[-1]["payload"]["tables"] == [table]


def can_join(server_db: str, topic: str, user_id: str | None, role: str = "authenticated",
             extension: str = "broadcast") -> bool:
    """Realtime's join check (tenants/authorization.ex): a probe row inserted for the topic, selected as the
    caller with realtime.topic set, rolled back."""
    with psycopg.connect(server_db) as conn:
        row_id = conn.execute("insert into realtime.messages (topic, extension) values (%s, %s) returning id",
                              [topic, extension]).fetchone()[0]
        conn.execute("select set_config('role', %s, true), set_config('realtime.topic', %s, true),"
                     " set_config('request.jwt.claims', %s, true)",
                     [role, topic, json.dumps(claims_for(user_id, role))])
        seen = conn.execute("select count(*) from realtime.messages where topic = %s and id = %s",
                            [topic, row_id]).fetchone()[0]
        conn.rollback()
    return seen == 1


def test_a_user_may_join_only_their_own_sync_topic(server_db, make_user):
    alice, bob = make_user(), make_user()
    assert can_join(server_db, f"sync:{alice}", alice)
    assert not can_join(server_db, f"sync:{bob}", alice)  # another user's topic
    assert not can_join(server_db, f"sync:{alice}", None, role="anon")  # signed out: the anon key
    assert not can_join(server_db, f"sync:{alice}", alice, extension="presence")  # broadcasts only
    assert not can_join(server_db, "sync:", alice) and not can_join(server_db, f"other:{alice}", alice)


def test_api_roles_cannot_call_the_poke_functions(server_db):
    with psycopg.connect(server_db) as conn:
        rows = conn.execute(
            "select p.proname, r.rolname, has_function_privilege(r.oid, p.oid, 'execute') from pg_proc p"
            " cross join pg_roles r where p.pronamespace = 'mirari_private'::regnamespace"
            " and p.proname in ('note_synced_change', 'send_sync_pokes')"
            " and r.rolname in ('anon', 'authenticated', 'service_role')").fetchall()
    assert rows and not any(allowed for _, _, allowed in rows)
