"""Two users through HTTP: what is Alice's is invisible to Bob or refused, and RLS (not Python) decides."""

from __future__ import annotations

import uuid

import httpx
import pytest
from postgrest.exceptions import APIError


def _task(user, title="private"):
    return user.client.table("tasks").insert({"id": str(uuid.uuid4()), "title": title}).execute().data[0]


def test_reads_only_ever_return_own_rows(alice, bob):
    mine = _task(alice)
    _task(bob, "bob's")
    assert [r["id"] for r in alice.client.table("tasks").select("id").execute().data] == [mine["id"]]
    assert bob.client.table("tasks").select("*").eq("id", mine["id"]).execute().data == []
    by_owner = bob.client.table("tasks").select("id").eq("user_id", alice.id).execute().data
    assert by_owner == []
    counted = bob.client.table("tasks").select("id", count="exact").execute()
    assert counted.count == 1


def test_updates_of_foreign_rows_touch_nothing(alice, bob):
    mine = _task(alice)
    assert bob.client.table("tasks").update({"title": "hacked"}).eq("id", mine["id"]).execute().data == []
    assert bob.client.table("tasks").update({"deleted_at": "now"}).eq("id", mine["id"]).execute().data == []
    row = alice.client.table("tasks").select("title, deleted_at").eq("id", mine["id"]).single().execute().data
    assert row == {"title": "private", "deleted_at": None}


def test_writing_as_someone_else_is_refused_with_403(alice, bob):
    with pytest.raises(APIError) as err:
        bob.client.table("tasks").insert({"id": str(uuid.uuid4()), "title": "x", "user_id": alice.id}).execute()
    assert err.value.code == "42501"
    mine = _task(alice)
    with pytest.raises(APIError) as err:  # upsert onto Alice's id
        bob.client.table("tasks").upsert({"id": mine["id"], "title": "taken over"}).execute()
    assert err.value.code == "42501"
    with pytest.raises(APIError) as err:  # a child pointing at Alice's parent
        bob.client.table("messages").insert({"id": str(uuid.uuid4()), "conversation_id": str(uuid.uuid4()),
                                             "role": "user", "content": "hi"}).execute()
    assert err.value.code == "23503"
    assert alice.client.table("tasks").select("title").eq("id", mine["id"]).single().execute().data["title"] == "private"


def test_statuses_for_refusals(alice, bob, supabase_stack):
    mine = _task(alice)
    response = httpx.post(f"{supabase_stack.url}/rest/v1/tasks", json={"id": mine["id"], "title": "t"},
                          headers={"apikey": supabase_stack.anon_key, "Authorization": f"Bearer {bob.token}",
                                   "Prefer": "resolution=merge-duplicates"})
    assert response.status_code == 403 and response.json()["code"] == "42501"
    anon = httpx.post(f"{supabase_stack.url}/rest/v1/tasks", json={"title": "t"},
                      headers={"apikey": supabase_stack.anon_key})
    assert anon.status_code == 401
    # auth.users is not exposed, and the auth schema cannot be selected
    users = httpx.get(f"{supabase_stack.url}/rest/v1/users", headers={"apikey": supabase_stack.anon_key,
                                                                      "Authorization": f"Bearer {bob.token}"})
    assert users.status_code == 404 and users.json()["code"] == "PGRST205"


def test_private_templates_stay_private_public_ones_install(alice, bob, supabase_stack):
    payload = {"skills": [], "seed_memory": [{"label": "x"}]}
    private = alice.client.table("templates").insert(
        {"id": str(uuid.uuid4()), "name": "Mine", "payload": payload}).execute().data[0]
    public = alice.client.table("templates").insert(
        {"id": str(uuid.uuid4()), "name": "Ours", "payload": payload, "is_public": True}).execute().data[0]
    visible = {r["id"] for r in bob.client.table("templates").select("id").execute().data}
    assert public["id"] in visible and private["id"] not in visible
    with pytest.raises(APIError) as err:
        bob.client.rpc("install_template", {"template_id": private["id"]}).execute()
    assert err.value.code == "PT404"
    # PostgREST turns PTxyz into HTTP xyz: a template Bob may not see is a plain 404, not a 500.
    refused = httpx.post(f"{supabase_stack.url}/rest/v1/rpc/install_template", json={"template_id": private["id"]},
                         headers={"apikey": supabase_stack.anon_key, "Authorization": f"Bearer {bob.token}"})
    assert refused.status_code == 404 and refused.json()["code"] == "PT404"
    assert bob.client.rpc("install_template", {"template_id": public["id"]}).execute().data == payload


def test_service_role_sees_everyone(alice, bob, supabase_stack):
    a, b = _task(alice), _task(bob)
    service = supabase_stack.service_client()
    ids = {r["id"] for r in service.table("tasks").select("id").in_("id", [a["id"], b["id"]]).execute().data}
    assert ids == {a["id"], b["id"]}
