"""Imported threads sync like any other, on the stand-in with the real migrations and RLS: one person
importing one file on two devices makes one copy on the server; a thread deleted after its import
stays deleted (also on a device that imports the file for the first time); two people importing the
same file never collide on the server's primary keys."""

from __future__ import annotations

from pathlib import Path

from agent.chat.threads import delete_thread
from agent.imports.run import import_export
from agent.jobs import JobContext
from tests.sync.helpers import Device, server_rows

EXPORT = Path(__file__).resolve().parent.parent / "fixtures" / "imports" / "chatgpt_conversations.json"


def _import(device, user_id):
    return import_export(device.db, EXPORT, "chatgpt", JobContext(), account_id=user_id)


def _live(rows):
    return {str(r["id"]): r for r in rows if r["deleted_at"] is None}


def _titles(device) -> set[str]:
    return {r["title"] for r in device.rows("conversations").values()}


def test_one_file_on_two_devices_is_one_copy_on_the_server(devices, user, supabase_stack):
    _, _, user_id = user
    a, b = devices("a"), devices("b")
    assert _import(a, user_id).threads_added == 3
    a.sync()
    assert _import(b, user_id).threads_added == 3  # before b has pulled: it writes the same rows itself
    b.sync()
    a.sync()
    messages = _live(server_rows(supabase_stack, "messages", user_id))
    assert len(_live(server_rows(supabase_stack, "conversations", user_id))) == 3 and len(messages) == 14
    assert not a.alerts and not b.alerts
    for device in (a, b):
        assert device.scalar("SELECT count(*) FROM sync_parked") == 0
        assert set(device.rows("messages")) == set(messages)
    trip = next(r for r in server_rows(supabase_stack, "conversations", user_id) if r["title"] == "Trip to Lisbon")
    leaf = messages[str(trip["active_leaf_id"])]
    assert leaf["content"] == "Day 3: Cascais."
    path = []
    while leaf is not None:  # the server's tree is the export's: the current_node chain
        path.append(leaf["content"])
        leaf = messages.get(str(leaf["parent_id"])) if leaf["parent_id"] else None
    assert path[::-1] == ["Plan three days in Lisbon.", "Day 1: Belém.\n\nDay 2: Sintra.", "And day 3?",
                          "Day 3: Cascais."]


def test_a_deleted_import_stays_deleted_even_where_the_file_is_imported_anew(devices, user, supabase_stack):
    _, _, user_id = user
    a, b = devices("a"), devices("b")
    _import(a, user_id)
    a.sync()
    b.sync()
    trip = next(cid for cid, r in a.rows("conversations").items() if r["title"] == "Trip to Lisbon")
    delete_thread(a.db, trip)
    a.sync()
    assert _import(a, user_id).threads_skipped == 1  # the device that deleted it remembers
    b.sync()
    assert "Trip to Lisbon" not in _titles(b)
    assert _import(b, user_id).threads_added == 1  # b never imported the file: it writes the thread again…
    b.sync()
    assert "Trip to Lisbon" not in _titles(b)  # …and the server's tombstone deletes it here again
    assert trip not in _live(server_rows(supabase_stack, "conversations", user_id))
    with b.db.engine.connect() as conn:  # shown in the Sync panel, where Discard clears them
        parked = conn.exec_driver_sql("SELECT table_name, message FROM sync_parked").fetchall()
    assert sorted(parked) == [("conversations", "deleted on another device")] + [
        ("messages", "deleted on another device")] * 7
    assert _import(b, user_id).threads_skipped == 1  # from now on it stays deleted here too


def test_two_people_importing_one_file_never_collide(devices, user, supabase_stack, tmp_path):
    _, _, user_id = user
    a = devices("a")
    _import(a, user_id)
    a.sync()
    email, password, other_id = supabase_stack.new_user()
    other = Device(supabase_stack, tmp_path / "other")
    try:
        other.engine.sign_in(email, password)
        assert _import(other, other_id).threads_added == 3
        other.sync()
        assert other.scalar("SELECT count(*) FROM sync_parked") == 0
        assert len(_live(server_rows(supabase_stack, "messages", other_id))) == 14
        assert not set(_live(server_rows(supabase_stack, "messages", other_id))) & set(
            _live(server_rows(supabase_stack, "messages", user_id)))
    finally:
        other.close()
