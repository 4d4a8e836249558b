"""PostgREST through the official supabase client: reads, writes, upserts, RPC, and errors as APIError."""

from __future__ import annotations

import re
import uuid

import pytest
from postgrest.exceptions import APIError

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?\+00:00$")


def _tasks(user, *titles, **extra):
    rows = [{"id": str(uuid.uuid4()), "title": t, **extra} for t in titles]
    return user.client.table("tasks").insert(rows).execute().data


def test_insert_returns_the_row_rendered_by_postgres(alice):
    row_id = str(uuid.uuid4())
    data = alice.client.table("tasks").insert({"id": row_id, "title": "Write tests"}).execute().data
    assert len(data) == 1
    row = data[0]
    assert row["id"] == row_id and row["user_id"] == alice.id  # owner defaulted from the JWT
    assert row["status"] == "pending" and row["deleted_at"] is None
    assert TIMESTAMP.match(row["created_at"]) and row["created_at"] == row["updated_at"]


def test_bulk_insert_select_filters_and_order(alice):
    _tasks(alice, "b", "a", "c", description="same")
    table = alice.client.table("tasks")
    titles = [r["title"] for r in table.select("title").order("title", desc=True).execute().data]
    assert titles == ["c", "b", "a"]
    assert [r["title"] for r in table.select("title").in_("title", ["a", "c"]).order("title").execute().data] == ["a", "c"]
    assert [r["title"] for r in table.select("title").neq("title", "b").gt("title", "a").execute().data] == ["c"]
    assert table.select("title").like("title", "*b*").execute().data == [{"title": "b"}]
    assert table.select("title").ilike("title", "B").execute().data == [{"title": "b"}]
    assert [r["title"] for r in table.select("title").or_("title.eq.a,title.eq.c").order("title").execute().data] == ["a", "c"]
    assert table.select("title").is_("deleted_at", None).eq("title", "a").execute().data == [{"title": "a"}]
    assert table.select("title").not_.is_("description", None).lte("title", "a").execute().data == [{"title": "a"}]
    page = table.select("title", count="exact").order("title").range(1, 1).execute()
    assert page.data == [{"title": "b"}] and page.count == 3
    one = table.select("title").eq("title", "b").single().execute()
    assert one.data == {"title": "b"}


def test_cursor_pull_with_timestamps_as_clients_send_them(alice):
    rows = _tasks(alice, "one", "two", "three")
    cursor = rows[0]["updated_at"]
    pulled = (alice.client.table("tasks").select("*").gt("updated_at", cursor).order("updated_at").limit(100)
              .execute().data)
    assert [r["title"] for r in pulled] == ["two", "three"]


def test_upsert_merges_and_reports_200_when_nothing_was_new(alice, supabase_stack):
    row_id = str(uuid.uuid4())
    table = alice.client.table("tasks")
    first = table.upsert({"id": row_id, "title": "v1"}).execute()
    assert first.data[0]["title"] == "v1"
    second = table.upsert([{"id": row_id, "title": "v2"}], on_conflict="id").execute()
    assert second.data[0]["title"] == "v2" and second.data[0]["updated_at"] > first.data[0]["updated_at"]
    ignored = table.upsert({"id": row_id, "title": "v3"}, ignore_duplicates=True).execute()
    assert ignored.data == []
    assert table.select("title").eq("id", row_id).execute().data == [{"title": "v2"}]


def test_update_and_tombstone_through_patch(alice):
    row = _tasks(alice, "old")[0]
    updated = alice.client.table("tasks").update({"title": "new"}).eq("id", row["id"]).execute().data
    assert updated[0]["title"] == "new"
    dead = alice.client.table("tasks").update({"deleted_at": "now"}).eq("id", row["id"]).execute().data
    assert TIMESTAMP.match(dead[0]["deleted_at"])


def test_hard_delete_is_refused_for_api_roles(alice):
    row = _tasks(alice, "keep me")[0]
    with pytest.raises(APIError) as err:
        alice.client.table("tasks").delete().eq("id", row["id"]).execute()
    assert err.value.code == "42501" and "permission denied for table tasks" in err.value.message
    assert alice.client.table("tasks").select("id").eq("id", row["id"]).execute().data == [{"id": row["id"]}]


def test_delete_grammar_on_a_scratch_table(alice, bob, scratch_table):
    client = alice.client.table(scratch_table)
    client.insert([{"id": i, "note": f"n{i}"} for i in range(1, 5)]).execute()
    bob.client.table(scratch_table).insert({"id": 9, "note": "bob's"}).execute()
    assert [r["id"] for r in client.delete().eq("id", 1).execute().data] == [1]
    assert sorted(r["id"] for r in client.delete().in_("id", [2, 3, 9]).execute().data) == [2, 3]  # 9 hidden by RLS
    assert [r["id"] for r in client.select("id").execute().data] == [4]
    assert [r["id"] for r in bob.client.table(scratch_table).select("id").execute().data] == [9]


def test_rpc_install_template(alice, bob):
    payload = {"skills": [{"name": "Summarise"}], "seed_memory": [{"label": "likes tea"}]}
    template = alice.client.table("templates").insert(
        {"id": str(uuid.uuid4()), "name": "Starter", "payload": payload, "is_public": True}).execute().data[0]
    assert bob.client.rpc("install_template", {"template_id": template["id"]}).execute().data == payload
    assert bob.client.rpc("record_template_install", {"template_id": template["id"]}).execute().data is True
    assert bob.client.rpc("record_template_install", {"template_id": template["id"]}).execute().data is False
    assert alice.client.table("templates").select("installs").eq("id", template["id"]).single().execute().data == \
        {"installs": 1}
    with pytest.raises(APIError) as err:
        bob.client.rpc("install_template", {"template_id": str(uuid.uuid4())}).execute()
    assert err.value.code == "PT404" and "not found" in err.value.message
    with pytest.raises(APIError) as err:
        bob.client.rpc("no_such_function", {}).execute()
    assert err.value.code == "PGRST202"


@pytest.mark.parametrize("case", ["duplicate", "foreign_key", "check", "bad_uuid", "unknown_column",
                                  "unknown_table", "single_of_none", "not_null"])
def test_errors_surface_as_api_error_with_postgrest_codes(alice, case):
    table = alice.client.table("tasks")
    row = _tasks(alice, "exists")[0]
    expected = {"duplicate": "23505", "foreign_key": "23503", "check": "23514", "bad_uuid": "22P02",
                "unknown_column": "PGRST204", "unknown_table": "PGRST205", "single_of_none": "PGRST116",
                "not_null": "23502"}[case]
    with pytest.raises(APIError) as err:
        if case == "duplicate":
            table.insert({"id": row["id"], "title": "again"}).execute()
        elif case == "foreign_key":
            table.insert({"id": str(uuid.uuid4()), "title": "x", "connection_id": str(uuid.uuid4())}).execute()
        elif case == "check":
            table.insert({"id": str(uuid.uuid4()), "title": "x", "status": "bogus"}).execute()
        elif case == "bad_uuid":
            table.select("*").eq("id", "not-a-uuid").execute()
        elif case == "unknown_column":
            table.insert({"id": str(uuid.uuid4()), "title": "x", "colour": "red"}).execute()
        elif case == "unknown_table":
            alice.client.table("no_such_table").select("*").execute()
        elif case == "single_of_none":
            table.select("*").eq("title", "nothing like this").single().execute()
        elif case == "not_null":
            table.insert({"id": str(uuid.uuid4()), "description": "no title"}).execute()
    assert err.value.code == expected
    assert err.value.message


def test_jwt_and_filterless_errors_through_the_client(alice, supabase_stack):
    import time

    import jwt

    with pytest.raises(APIError) as err:
        alice.client.table("tasks").update({"title": "everything"}).execute()
    assert err.value.code == "21000" and err.value.message == "UPDATE requires a WHERE clause"
    client = supabase_stack.client()
    client.postgrest.auth(jwt.encode({"sub": alice.id, "role": "authenticated"}, "f" * 40, algorithm="HS256"))
    with pytest.raises(APIError) as err:
        client.table("tasks").select("*").execute()
    assert err.value.code == "PGRST301"
    expired = jwt.encode({"sub": alice.id, "role": "authenticated", "exp": int(time.time()) - 120},
                         supabase_stack.jwt_secret, algorithm="HS256")
    client.postgrest.auth(expired)
    with pytest.raises(APIError) as err:
        client.table("tasks").select("*").execute()
    assert (err.value.code, err.value.message) == ("PGRST303", "JWT expired")
